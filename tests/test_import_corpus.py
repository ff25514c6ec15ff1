"""`tlsc import` on real configurations (tests/fixtures/import/corpus/README).

Each host either imports -- the round trip holds, nothing is lost, and the
first `tlsc plan --root` is empty -- or is refused in one sentence per problem
with file:line:col, exit 1, nothing written and no file of the host changed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from import_helpers import as_built
from realtools import scratch_dir

pytestmark = pytest.mark.realtools

CORPUS = Path(__file__).parent / "fixtures" / "import" / "corpus"
#: case -> ownership -> ("ok", what the tls: summary line says) or (error code, file:line:col)
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "debian12-stock": {
        "auto": ("ok", "tls: disabled (no starttls include)"),
        "file": ("ok", "tls: disabled (no starttls include)"),
    },
    "debian12-vendor-include": {
        "auto": ("ok", "tls: 11 setting(s)"),
        "file": ("ok", "tls: 11 setting(s)"),
    },
    "debian12-submit-include": {
        "auto": ("ok", "tls: 11 setting(s)"),
        "file": ("ok", "tls: 11 setting(s)"),
    },
    "debian12-provider-tls": {
        "auto": ("I139", "etc/mail/m4/provider.m4:2:1"),
        "file": ("I139", "etc/mail/m4/provider.m4:2:1"),
    },
    "freebsd": {
        "auto": ("I138", "etc/mail/sendmail.mc:39:1"),
        "file": ("ok", "tls: 10 setting(s)"),
    },
    "freebsd-host-no-cacert": {
        "auto": ("I139", "etc/mail/sendmail.mc:30:3"),
        "file": ("I139", "etc/mail/sendmail.mc:30:3"),
    },
    "redhat-tls": {
        "auto": ("ok", "tls: 8 setting(s)"),
        "file": ("ok", "tls: 8 setting(s)"),
    },
    "redhat-ca-only": {
        "auto": ("ok", "tls: disabled (no confSERVER_CERT or confSERVER_KEY, so sendmail"),
        "file": ("I143", "etc/mail/sendmail.mc:12:1"),
    },
    "nested-ifdef": {
        "auto": ("I139", "etc/mail/sendmail.mc:10:1"),
        "file": ("I139", "etc/mail/sendmail.mc:10:1"),
    },
}
_PROBLEM = re.compile(
    r"^(?P<path>/\S+):(?P<line>\d+):(?P<col>\d+): (?:error|warning): [A-Z][A-Z0-9]*[0-9]{3} "
)


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_dir("corpus") as path:
        yield path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_corpus_case_is_checked() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


@pytest.mark.parametrize("ownership", ["auto", "file"])
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_a_real_configuration_imports_or_is_refused_in_one_sentence(
    root: Path, tmp_path: Path, case: str, ownership: str
) -> None:
    shutil.copytree(CORPUS / case, root / "etc" / "mail")
    before = _snapshot(root)
    spec = tmp_path / "cluster.yaml"
    rc, out, err = run_cli(
        "import", root, "--host", "h1", "--fqdn", "h1.example.net", "--out", spec,
        "--ownership", ownership,
    )  # fmt: skip
    assert "Traceback" not in out + err
    assert _snapshot(root) == before  # the host's files are never touched
    want, detail = EXPECTED[case][ownership]
    problems = [line for line in err.splitlines() if ": error: " in line or ": warning: " in line]
    for line in problems:  # each problem is one sentence at file:line:col
        assert _PROBLEM.match(line), line
        assert ". " not in line.split(": ", 2)[2].rstrip("."), line
    if want != "ok":
        assert rc == 1, err
        assert not spec.exists()
        errors = [p for p in problems if ": error: " in p]
        assert errors and errors[0].startswith(f"{root}/{detail}: error: {want} "), errors
        return
    assert rc == 0, err
    assert "lost: nothing" in err
    assert "round trip: sendmail.cf: same options, maps, mailers and rulesets" in err
    assert f"  {detail}" in err
    if ownership == "file":
        return  # tlsc writes the files whole: the plan replaces them
    as_built(root / "etc" / "mail")  # the host's builds, newer than the copied sources
    before = _snapshot(root)
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0, out + err  # the first plan has nothing to do
    assert "P111" not in out
    assert _snapshot(root) == before
