"""Messages and diffs never repeat key material or a huge value (issue 11, item 11).

A base64 run of 64 characters or more (a PEM body pasted without its
markers) is shown as "[base64 data withheld]"; any other value a message
quotes is cut to its first 40 characters and "…".
"""

from __future__ import annotations

import base64
import random
from pathlib import Path

from plan_helpers import SPEC, host, plan_state, write

from compiler.compile import compile_text
from compiler.lint.engine import LintContext, lint_text
from compiler.lint.report import format_report
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.model import CODES
from compiler.problems import (
    MAX_MESSAGE,
    WITHHELD,
    Problem,
    format_text,
    shown,
    withhold_key_material,
)

#: what a pasted private key body looks like (deterministic, not a real key)
KEY = base64.b64encode(random.Random(11).randbytes(900)).decode("ascii")
LINE = KEY[:64]  # one line of a PEM body


def messages(spec_text: str) -> list[str]:
    result = compile_text(spec_text, "cluster.yaml")
    assert not result.ok
    return [p.message for p in result.problems]


def assert_no_key(text: str) -> None:
    assert LINE not in text and KEY[64:128] not in text and KEY[:40] not in text


# -- the helpers ------------------------------------------------------------------


def test_key_like_runs_are_withheld_and_other_text_is_kept() -> None:
    assert withhold_key_material(f"value '{KEY}' here") == f"value '{WITHHELD}' here"
    assert withhold_key_material(f"a {LINE}==") == f"a {WITHHELD}"
    # shorter than 64, one case only, or a path (many slashes): not key material
    for text in (
        KEY[:63],
        "a" * 100,
        "/etc/mail/tls/certificates/production/servers/mailhost/current/x1/Y2",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" * 2,
    ):
        assert withhold_key_material(text) == text


def test_shown_cuts_a_value_to_forty_characters() -> None:
    assert shown("short") == "short"
    assert shown("x" * 41) == "x" * 40 + "…"
    assert shown("x" * 40) == "x" * 40
    assert shown(KEY) == WITHHELD


def test_every_problem_message_is_scrubbed_whoever_built_it() -> None:
    p = Problem("s.yaml", 1, 1, "S104", "error", f"bad value {KEY!r}")
    assert p.message == f"bad value '{WITHHELD}'"
    huge = Problem("x.mc", 1, 1, "M4006", "warning", "name conf" + "X" * 8_000_000 + " unknown")
    assert len(huge.message) < 100 and huge.message.endswith("… unknown")
    spaced = Problem("x.mc", 1, 1, "M4006", "warning", "words " + "ab " * 1_000_000)
    assert len(spaced.message) == MAX_MESSAGE + 1
    assert_no_key(format_text([p]))


# -- validate ------------------------------------------------------------------------


def test_a_pasted_key_body_is_not_echoed_by_validate() -> None:
    spec = f"""\
version: 1
cluster: c
hosts:
  h1:
    fqdn: h1.example.net
    tls: {{server_key: {KEY}}}
domains:
  {LINE}.example.com: {{outbound: encrypt}}
access:
  - Connect:{KEY} RELAY
  - "{KEY} OK"
issuer_tags:
  MyCA: [{KEY}]
"""
    found = messages(spec)
    assert len(found) >= 4
    for message in found:
        assert_no_key(message)
    assert any(WITHHELD in m for m in found)


def test_a_long_refused_value_is_quoted_by_its_first_forty_characters() -> None:
    value = "verify-" + "q" * 5000
    (message,) = messages(
        f"version: 1\ncluster: c\nhosts: {{h1: {{fqdn: h1.example.net}}}}\n"
        f"domains:\n  a.example.com: {{outbound: {{require: {value}}}}}\n"
    )
    assert f"'{value[:40]}…' is not a valid value" in message
    assert len(message) < 300


# -- lint ------------------------------------------------------------------------------


def test_an_8_mb_value_is_not_repeated_by_lint() -> None:
    name = "confX" + "Y" * 8_000_000
    report = lint_text(f"define(`{name}', `x')dnl\n", "x.mc", "mc", LintContext())
    problems = report.problems()
    assert problems and all(len(p.message) < 400 for p in problems)
    assert len(format_report(report)) < 4000


def test_sarif_messages_are_scrubbed_too() -> None:
    import json

    from compiler.lint.sarif import format_sarif

    name = "confX" + "Y" * 100_000
    report = lint_text(f"define(`{name}', `x')dnl\n", "x.mc", "mc", LintContext())
    results = json.loads(format_sarif([report]))["runs"][0]["results"]
    assert results and all(len(r["message"]["text"]) < 400 for r in results)


def test_a_key_body_in_a_linted_file_is_not_in_the_messages() -> None:
    report = lint_text(f"define(`conf{KEY[:80]}', `x')dnl\n", "x.mc", "mc", LintContext())
    assert report.problems()
    for p in report.problems():
        assert KEY[:80] not in p.message


# -- plan --------------------------------------------------------------------------------


def test_access_and_issuer_diffs_withhold_key_like_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan_state(tmp_path, SPEC, SPEC)  # the state tree compiled from SPEC
    access = state / "mx1" / "etc/mail/access"
    before = access.read_text()
    # a hand-edited access file with a key body pasted in (as an issuer and as a value)
    access.write_text(before + f"CERTISSUER:/CN={KEY[:100]}\tRELAY\nConnect:10.9.9.9\t{LINE}\n")
    spec = write(tmp_path / "cluster.yaml", SPEC)
    plan = make_plan(PlanRequest(str(spec), state=str(state), hosts=["mx1"]))
    mx1 = host(plan, "mx1")
    (change,) = [f for f in mx1.files if f.path == "/etc/mail/access"]
    assert change.action == "update" and WITHHELD in change.diff
    assert_no_key(change.diff)
    assert_no_key(repr(mx1.access.to_json()))
    assert [w.code for w in mx1.warnings if w.code == "P112"] == ["P112"]
    assert "P112" in CODES
    assert change.before_sha256 != change.after_sha256  # hashes are of the real bytes
