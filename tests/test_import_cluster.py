"""`tlsc import NAME=ROOT ...`: several hosts into one spec, shared values in defaults:.

The three host trees are compiled here, with the real compiler, from three
single-host specs that differ in one certificate path, one domain rule and
one DAEMON_OPTIONS list (and each host's confDOMAIN_NAME). They sit under one
state directory (STATE/HOST/etc/mail/...), so `tlsc plan --state` can check
the merged spec against exactly the trees it was imported from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from import_helpers import write_tree
from realtools import REPO, scratch_dir

from compiler.cli import main
from compiler.compile import compile_text
from compiler.importer.cluster import default_cluster_name, merge
from compiler.spec.loader import load_text

HOST_SPEC = """\
version: 1
cluster: mx
defaults:
  mc:
    defines: {{confDOMAIN_NAME: {name}.example.net, confMAX_MESSAGE_SIZE: 10485760}}
    features: [use_cw_file]
    daemon_options: {daemons}
  tls:
    server_cert: {cert}
hosts:
  {name}: {{fqdn: {name}.example.net}}
domains:
  example.com: {{outbound: encrypt}}
  partner.example: {{outbound: verify, inbound: encrypt}}
{extra}recipients:
  boss@example.org: encrypt
access: ["Connect:127.0.0.1 RELAY", "Connect:localhost RELAY"]
"""
CERT = "/etc/mail/tls/sendmail-server.crt"
MTA = '["Port=smtp,Name=MTA"]'
MSA = '["Port=smtp,Name=MTA", "Port=submission,Name=MSA,M=Ea"]'
HOSTS = {
    "mx1": {"daemons": MSA, "cert": CERT, "extra": ""},
    "mx2": {"daemons": MTA, "cert": "/etc/mail/tls/mx2.crt", "extra": ""},
    "mx3": {"daemons": MTA, "cert": CERT, "extra": "  extra.example: {outbound: encrypt}\n"},
}


def tlsc(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def state() -> Iterator[tuple[Path, dict[str, dict[str, str]]]]:
    """STATE/HOST/... for three hosts, and each host's compiled files."""
    with scratch_dir("cluster") as base:
        files = {}
        for name, values in HOSTS.items():
            compiled = compile_text(HOST_SPEC.format(name=name, **values), "cluster.yaml")
            assert compiled.ok, compiled.problems
            files[name] = compiled.hosts[name]
            write_tree(base / name, dict(files[name]))
        yield base, files


def host_args(base: Path) -> list[str]:
    return [f"{name}={base / name}" for name in HOSTS]


@pytest.mark.realtools
def test_three_hosts_merge_into_defaults_and_per_host_differences(
    state: tuple[Path, dict[str, dict[str, str]]],
) -> None:
    base, originals = state
    out = base / "cluster.yaml"
    rc, stdout, err = tlsc("import", *host_args(base), "--out", out, "--force")
    assert rc == 0, err
    assert stdout == "" and f"wrote {out}" in err
    for name in HOSTS:
        assert f"imported host {name} ({name}.example.net):" in err
    assert err.count("merged: its files are the same as those of its own import") == 3
    assert "lost:" in err and "difference(s)" not in err
    data = load_text(out.read_text()).data
    assert data["cluster"] == "mx"
    defaults = data["defaults"]
    assert defaults["mc"]["defines"] == {"confMAX_MESSAGE_SIZE": 10485760}
    assert defaults["mc"]["features"] == ["access_db", "use_cw_file"]
    assert "daemon_options" not in defaults["mc"]
    assert "tls" not in defaults  # the one tls: setting tlsc's defaults lack differs
    assert data["domains"] == {
        "example.com": {"outbound": "encrypt"},
        "partner.example": {"outbound": "verify", "inbound": "encrypt"},
    }
    assert data["recipients"] == {"boss@example.org": "encrypt"}
    assert data["access"] == ["Connect:127.0.0.1 RELAY", "Connect:localhost RELAY"]
    hosts = data["hosts"]
    assert hosts["mx1"] == {
        "fqdn": "mx1.example.net",
        "mc": {
            "defines": {"confDOMAIN_NAME": "mx1.example.net"},
            "daemon_options": ["Port=smtp,Name=MTA", "Port=submission,Name=MSA,M=Ea"],
        },
    }
    assert hosts["mx2"] == {
        "fqdn": "mx2.example.net",
        "tls": {"server_cert": "/etc/mail/tls/mx2.crt"},
        "mc": {
            "defines": {"confDOMAIN_NAME": "mx2.example.net"},
            "daemon_options": ["Port=smtp,Name=MTA"],
        },
    }
    assert hosts["mx3"]["domains"] == {"extra.example": {"outbound": "encrypt"}}
    assert "tls" not in hosts["mx3"]
    # the merged spec gives every host exactly the files it was imported from
    compiled = compile_text(out.read_text(), "cluster.yaml")
    assert compiled.ok
    for name in HOSTS:
        assert compiled.hosts[name] == originals[name]
    rc, plan_out, plan_err = tlsc("plan", out, "--state", base, "--detailed-exitcode")
    assert rc == 0, plan_out + plan_err


@pytest.mark.realtools
def test_json_reports_per_host(state: tuple[Path, dict[str, dict[str, str]]]) -> None:
    base, _ = state
    rc, stdout, _ = tlsc("import", *host_args(base), "--cluster", "edge", "--format", "json")
    assert rc == 0
    report = json.loads(stdout)
    assert report["result"] == "written" and report["cluster"] == "edge"
    assert report["spec"].startswith("# tlsc spec imported by `tlsc import mx1=")
    assert list(report["hosts"]) == ["mx1", "mx2", "mx3"]
    for name, one in report["hosts"].items():
        assert one["result"] == "imported" and one["host"] == name
        assert one["fqdn"] == f"{name}.example.net"
        assert one["round_trip"][-1].endswith("same options, maps, mailers and rulesets")
        assert one["merged"] == "its files are the same as those of its own import"
    assert report["hosts"]["mx3"]["imported"]["domains"] == 3


@pytest.mark.realtools
def test_the_single_host_form_is_unchanged(tmp_path: Path) -> None:
    fixture = REPO / "examples" / "import"
    rc, out, err = tlsc("import", fixture, "--host", "mail")
    assert rc == 0, err
    assert "version: 1\ncluster: mail\n" in out
    assert "hosts:\n  mail: {fqdn: mail.example.org}" in out
    rc, two, _ = tlsc("import", f"mail={fixture}")
    assert rc == 0
    # one host in the NAME=ROOT form: the same spec but for the header line
    assert two.split("\n", 1)[1].split("\n", 4)[4] == out.split("\n", 1)[1].split("\n", 3)[3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mx1"], "'mx1' is not NAME=ROOT (a host name, '=', its root)"),
        # a ROOT without --host: the sentence says how to name its host
        (["{root}"], "is not NAME=ROOT: one ROOT needs its host's name, `tlsc import "),
        (["=/x"], "'=/x' is not NAME=ROOT"),
        (["mx1="], "'mx1=' is not NAME=ROOT"),
        (["bad/name={root}"], "host name 'bad/name'"),
        (["mx1={root}", "mx1={root}"], "host mx1 is named twice"),
        (["mx1={root}/missing"], "missing is not a directory"),
        (["mx1={root}", "--fqdn", "a.example"], "--fqdn goes with --host"),
        (["{root}", "{root}", "--host", "h"], "--host names one host"),
    ],
)
def test_bad_arguments_exit_1_with_one_sentence_and_write_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out.yaml"
    rc, stdout, err = tlsc("import", *[a.format(root=tmp_path) for a in args], "--out", out)
    assert rc == 1 and stdout == ""
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.realtools
def test_a_merged_spec_that_does_not_validate_writes_nothing(
    state: tuple[Path, dict[str, dict[str, str]]],
) -> None:
    base, _ = state
    out = base / "twice.yaml"
    rc, _, err = tlsc("import", f"a={base / 'mx1'}", f"b={base / 'mx1'}", "--out", out)
    assert rc == 1
    assert "S212 host b has the same fqdn as host a (mx1.example.net)" in err
    assert err.rstrip().endswith("the merged spec failed its check; nothing written")
    assert not out.exists()


def test_a_host_that_fails_to_import_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out.yaml"
    rc, _, err = tlsc("import", f"a={tmp_path / 'empty'}", f"b={tmp_path / 'empty'}", "--out", out)
    assert rc == 1 and "a, b could not be imported; nothing written" in err
    assert not out.exists()


def test_default_cluster_name() -> None:
    assert default_cluster_name(["mx1", "mx2", "mx3"]) == "mx"
    assert default_cluster_name(["colo10", "colo11"]) == "colo"
    assert default_cluster_name(["a1", "b1"]) == "a1"
    assert default_cluster_name(["mail"]) == "mail"


def _spec(**kw: Any) -> dict[str, Any]:
    host = kw.pop("host")
    return {"version": 1, "cluster": host, "hosts": {host: {"fqdn": f"{host}.x"}}, **kw}


def test_merge_keeps_differences_at_the_finest_level() -> None:
    a = _spec(
        host="a",
        defaults={"tls": {"ca_cert": None, "timeout": "1m"}, "mc": {"defines": {"X": "1"}}},
        access=["Connect:1 OK", "Connect:2 OK", "Connect:3 OK"],
        issuer_tags={"T": ["/O=a"]},
    )
    b = _spec(
        host="b",
        defaults={"tls": {"ca_cert": None}, "mc": {"defines": {"X": "1", "Y": "2"}}},
        access=["Connect:1 OK", "Connect:9 OK"],
        issuer_tags={"T": ["/O=b"]},
    )
    labels = {h: {("mc", "extra"): [], ("access",): ["l1", "l2", "l3"]} for h in "ab"}
    data, out_labels = merge("c", {"a": a, "b": b}, labels)
    assert list(data) == ["version", "cluster", "defaults", "hosts", "access"]
    assert data["defaults"] == {"tls": {"ca_cert": None}, "mc": {"defines": {"X": "1"}}}
    assert data["hosts"]["a"] == {
        "fqdn": "a.x",
        "tls": {"timeout": "1m"},
        "access": ["Connect:2 OK", "Connect:3 OK"],
        "issuer_tags": {"T": ["/O=a"]},
    }
    assert data["hosts"]["b"]["mc"] == {"defines": {"Y": "2"}}
    assert data["access"] == ["Connect:1 OK"]
    assert out_labels[("access",)] == ["l1"]
    assert out_labels[("hosts", "a", "access")] == ["l2", "l3"]
