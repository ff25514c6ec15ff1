"""`tlsc logs FILE --spec SPEC [--propose RULE]`: a small log whose answer is counted by hand
below, through the real spec loader, the compiled access entries and the sessions builder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from compiler.cli import main

SPEC = """\
version: 1
cluster: t
hosts:
  mx1: {fqdn: mx1.example.net}
  mx2: {fqdn: mx2.example.net, tls: {request_client_cert: true}}
domains:
  bank.example: {outbound: verify}
  partner.example: {outbound: {require: verify, cn: true}}
  "192.0.2": {inbound: encrypt}
  "*": {outbound: {require: encrypt, min_bits: 256}}
  legacy.example: {outbound: {starttls: false}}
recipients:
  postmaster@: {require: verify, on_failure: permanent}
"""

#: mx1 sends to eight servers, mx2 receives from three clients, mta9 (not in the spec)
#: sends once; the answers in the tests below are counted by hand from these lines
LOG = (Path(__file__).parent / "fixtures" / "whatif.log").read_text(encoding="utf-8")


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    log = tmp_path / "mail.log"
    log.write_text(LOG, encoding="utf-8")
    return str(spec), str(log)


def tlsc(*args: str) -> Result:
    return CliRunner().invoke(main, ["logs", "--year", "2026", *args], catch_exceptions=False)


def whatif(files: tuple[str, str], *more: str) -> dict[str, Any]:
    spec, log = files
    result = tlsc(log, "--spec", spec, "--format", "json", *more)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def by_key(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in rules}


def test_every_key_form_against_the_hand_counted_answer(files: tuple[str, str]) -> None:
    data = whatif(files)
    assert data["version"] == 1
    assert data["sessions"] == 12  # 8 outbound on mx1, 3 inbound on mx2, 1 on mta9
    assert data["unknown_hosts"] == [{"host": "mta9", "sessions": 1}]
    rules = by_key(data["rules"])
    assert set(rules) == {
        "TLS_Srv:",
        "TLS_Srv:bank.example",
        "TLS_Srv:partner.example",
        "TLS_Clt:192.0.2",
        "Try_TLS:legacy.example",
        "TLS_Rcpt:postmaster@",
    }

    # domain suffix, verify: mx.bank.example verified; mx2.bank.example FAIL stops two
    # messages (one of them to postmaster@, which then never meets TLS_Rcpt)
    bank = rules["TLS_Srv:bank.example"]
    assert (bank["value"], bank["sessions"], bank["deliveries"]) == ("VERIFY", 2, 3)
    assert bank["stopped"] == {"sessions": 1, "messages": 2, "deferred": 2, "refused": 0}
    assert bank["reasons"] == {"not_verified": 1}
    assert [(p["peer"], p["details"]) for p in bank["peers"]] == [
        ("mx2.bank.example [198.51.100.2]", {"verify=FAIL": 1})
    ]
    assert bank["safe_to_tighten"] == ["mx.bank.example [198.51.100.1]"]
    assert bank["recipients"] == [
        {"address": "b@bank.example", "messages": 1},
        {"address": "c@bank.example", "messages": 1},
        {"address": "postmaster@bank.example", "messages": 1},
    ]
    assert (bank["first"], bank["last"], bank["on_failure"]) == (
        "2026-11-26T10:00:00",
        "2026-11-26T10:00:02",
        "defer",
    )
    assert bank["spec_path"] == ["domains", "bank.example", "outbound"]

    # bare tag, min_bits: ENCR:256 for every other server; mx.weak.example has 128 bits,
    # on mx1 and on mta9 (not in the spec: judged by the cluster-wide rules)
    bare = rules["TLS_Srv:"]
    assert bare["value"] == "ENCR:256"
    # other, weak (mx1), weak (mta9), and legacy, which Try_TLS makes clear (below)
    assert bare["sessions"] == 4
    assert bare["stopped"]["messages"] == 3
    assert bare["reasons"] == {"too_weak": 2, "no_starttls": 1}
    weak = next(p for p in bare["peers"] if p["peer"].startswith("mx.weak.example"))
    assert weak["details"] == {"encryption too weak 128 less than 256": 2}

    # user@: postmaster@other.example over verify=FAIL, refused (on_failure: permanent)
    rcpt = rules["TLS_Rcpt:postmaster@"]
    assert rcpt["stopped"] == {"sessions": 1, "messages": 1, "deferred": 0, "refused": 1}
    assert rcpt["recipients"] == [{"address": "postmaster@other.example", "messages": 1}]
    assert rcpt["on_failure"] == "refuse"

    # cn: true: mx passes, mx2 shows another CN, mx3's log has no cert line
    partner = rules["TLS_Srv:partner.example"]
    assert partner["value"] == "VERIFY+CN"
    assert partner["stopped"]["messages"] == 1
    assert partner["reasons"] == {"cn_mismatch": 1}
    assert partner["unknown"] == {"sessions": 1, "messages": 1, "reasons": {"cert_unknown": 1}}
    assert partner["safe_to_tighten"] == ["mx.partner.example [192.0.2.60]"]

    # starttls: false outbound: a session that had TLS goes clear, and the bare
    # TLS_Srv: ENCR:256 then stops it
    legacy = rules["Try_TLS:legacy.example"]
    assert (legacy["made_clear"], legacy["stopped"]["messages"]) == (1, 1)

    # IP prefix, inbound encrypt: 192.0.2.5 encrypted, 192.0.2.6 in clear; 192.0.2.77
    # too (an octet prefix: 192.0.2 matches it), so two of three stopped
    clt = rules["TLS_Clt:192.0.2"]
    assert (clt["direction"], clt["sessions"]) == ("inbound", 3)
    assert clt["stopped"] == {"sessions": 2, "messages": 2, "deferred": 2, "refused": 0}
    assert clt["reasons"] == {"no_starttls": 2}
    assert clt["hosts"] == ["mx1", "mx2"]
    assert clt["senders"] == [
        {"address": "s6@c6.example", "messages": 1},
        {"address": "s7@c7.example", "messages": 1},
    ]
    assert data["proposed"] == []


def test_a_proposal_is_judged_with_the_spec_around_it(files: tuple[str, str]) -> None:
    data = whatif(
        files,
        "--propose",
        "other.example: {outbound: {require: verify}}",
        "--propose",
        "recipients: {b@bank.example: {require: encrypt}}",
    )
    proposed = by_key(data["proposed"])
    assert set(proposed) == {"TLS_Srv:other.example", "TLS_Rcpt:b@bank.example"}
    other = proposed["TLS_Srv:other.example"]
    assert other["source"] == "proposed"
    assert other["stopped"]["messages"] == 1  # verify=FAIL
    # b@bank.example is behind TLS_Srv:bank.example, which already stops mx2's mail
    assert proposed["TLS_Rcpt:b@bank.example"]["sessions"] == 0
    # the spec's rules are judged without the proposals
    assert by_key(data["rules"])["TLS_Srv:"]["sessions"] == 4
    assert "TLS_Srv:other.example" not in by_key(data["rules"])


def test_text_output(files: tuple[str, str]) -> None:
    spec, log = files
    result = tlsc(log, "--spec", spec, "--propose", "other.example: {outbound: verify}")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "What if: 12 session(s)" in out
    assert "Proposed rules" in out
    assert (
        "TLS_Srv:bank.example VERIFY: would have deferred 2 messages to 1 server, 2026-11-26" in out
    )
    assert "TLS_Rcpt:postmaster@ PERM+VERIFY: would have refused 1 message to 1 server" in out
    assert "judged by the cluster-wide rules: mta9 (1)" in out
    assert "Safe to tighten" in out


@pytest.mark.parametrize(
    ("proposal", "message"),
    [
        (
            "bank.example: {outbound: {require: verfy}}",
            "--propose 'bank.example: {outbound: {require: verfy}}':1:36: 'verfy' is not a valid"
            " value for domains.bank.example.outbound.require",
        ),
        ("a.example: {outbound: verify}\nb.example: {outbound: verify}", "not 2; give --propose"),
        ("[a]", "a proposal is one rule, KEY: RULE"),
        ("bank..example: {outbound: verify}", "'bank..example' is not a valid domain name"),
        ("x.example: {outbound: {require: verify, issuer_tag: Nope}}", "issuer tag 'Nope'"),
        ("{", "not valid YAML"),
        # what the spec refuses as YAML readers take it otherwise, at its place in the rule
        (
            "x.example: {outbound: {require: verify, cn: yes}}",
            "--propose 'x.example: {outbound: {require: verify, cn: yes}}':1:45:"
            " domains.x.example.outbound.cn: an unquoted yes is a YAML 1.1 boolean",
        ),
        (
            "domains: {x.example: {outbound: {require: verify, min_bits: 0x80}}}",
            ":1:61: domains.x.example.outbound.min_bits: the unquoted 0x80 is the number 128",
        ),
        (
            "recipients: {a@x.example: {require: verify, min_bits: 0200}}",
            ":1:55: recipients.a@x.example.min_bits: the unquoted 0200 is the number 200",
        ),
    ],
)
def test_a_bad_proposal_is_one_sentence_and_exit_1(
    files: tuple[str, str], proposal: str, message: str
) -> None:
    spec, log = files
    result = tlsc(log, "--spec", spec, "--propose", proposal)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_propose_needs_spec_and_a_bad_spec_exits_1(files: tuple[str, str], tmp_path: Path) -> None:
    _, log = files
    result = tlsc(log, "--propose", "x.example: {outbound: verify}")
    assert result.exit_code == 1 and "--propose needs --spec" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncluster: t\nhosts: {}\n", encoding="utf-8")
    result = tlsc(log, "--spec", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:3:" in result.stderr and "nothing was evaluated" in result.stderr


def test_since_and_until_choose_the_sessions(files: tuple[str, str]) -> None:
    data = whatif(files, "--since", "2026-11-28", "--until", "2026-11-29")
    assert data["sessions"] == 3  # the three partner.example sessions of Nov 28
    rules = by_key(data["rules"])
    assert rules["TLS_Srv:partner.example"]["sessions"] == 3
    assert rules["TLS_Srv:bank.example"]["sessions"] == 0


def test_spec_does_not_combine_with_tlsrpt(files: tuple[str, str]) -> None:
    spec, log = files
    result = tlsc(
        log, "--spec", spec, "--format", "tlsrpt", "--org", "o", "--contact", "a@b.example"
    )
    assert result.exit_code == 1
    assert "not tlsrpt" in result.stderr


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("\udcff", "1:1"),
        ("a.example: {outbound: encrypt} #\udcff", "1:33"),
        ("x:\n  \udce9", "2:3"),
    ],
)
def test_a_proposal_with_a_byte_no_utf8_holds(files: tuple[str, str], text: str, at: str) -> None:
    """A --propose argument with a byte that is no UTF-8 (the shell's $'\\xff', kept by
    surrogateescape) is refused where it stands, not passed to the parser, which raised
    UnicodeEncodeError (a fuzzing find)."""
    spec, log = files
    result = tlsc(log, "--spec", spec, "--propose", text)  # raises what it does not catch
    assert result.exit_code == 1
    assert f":{at}: the text is not valid UTF-8" in result.output
    assert "Traceback" not in result.output
