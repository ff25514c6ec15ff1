"""Values that sendmail's cf files rescan: no m4 macro call may hide in them.

Two quote levels keep a `conf*` option value as written (render/m4quote.py),
but feature files rescan their arguments (`FEATURE(`bcc', ...)` hands its
argument to `ifelse` unquoted) and a few defines are expanded twice
(`O HelpFile=ifdef(`HELP_FILE', HELP_FILE, ...)`). A call written there runs
while the .cf is built: `esyscmd(...)` runs a shell command as root, before
the line that switches the builtins off (which stands before mc.extra only).
So validation refuses `NAME(` in those values (S217).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from realtools import compile_dict, m4_build, scratch_dir, spec

from compiler.render import m4quote
from compiler.sendmail import RESCANNED_DEFINES

CALL = "esyscmd(touch {marker})"


def _built_runs(mc: dict[str, Any], placeholder: str, tmp: Path) -> bool:
    """Build the .mc of `mc` with `placeholder` replaced by a command-running call."""
    files = compile_dict(spec(defaults={"mc": mc})).hosts["h1"]
    marker = tmp / "ran"
    text = files["/etc/mail/sendmail.mc"]
    quoted = m4quote.value(placeholder)
    assert quoted in text
    evil = text.replace(quoted, m4quote.value(CALL.format(marker=marker)))
    m4_build(evil, files["/etc/mail/tls/starttls.m4"], tmp)
    return marker.exists()


CASES = [
    {"features": [{"name": "bcc", "args": ["PLACEHOLDER"]}]},
    {"features": [{"name": "nocanonify", "args": ["PLACEHOLDER"]}]},
    {"features": [{"name": "local_procmail", "args": ["", "PLACEHOLDER"]}]},
    {"defines": {"HELP_FILE": "PLACEHOLDER"}},
    {"defines": {"SMTP_MAILER_FLAGS": "PLACEHOLDER"}},
    {"defines": {"QUEUE_DIR": "PLACEHOLDER"}, "extra": ["dnl"]},
]


@pytest.mark.realtools
@pytest.mark.parametrize("mc", CASES, ids=lambda mc: str(mc)[:40])
def test_a_macro_call_in_a_rescanned_value_is_refused(mc: dict[str, Any]) -> None:
    with scratch_dir("rescanned") as tmp:
        # the control: the real m4 runs the command from this place of the .mc
        # (QUEUE_DIR with mc.extra: proto.m4 writes it after the switch-off line)
        runs = _built_runs(mc, "PLACEHOLDER", tmp)
    assert runs == ("extra" not in mc)
    text = str(mc).replace("PLACEHOLDER", CALL.format(marker="/tmp/x"))
    evil = ast.literal_eval(text)
    result = compile_dict(spec(defaults={"mc": evil}))
    assert not result.ok
    assert [p.code for p in result.problems] == ["S217"], result.problems
    assert "esyscmd(" in result.problems[0].message


@pytest.mark.parametrize(
    "value", ["/var/spool/mqueue", "550 Access denied (see postmaster)", "a,b (c)", "x.(y)"]
)
def test_rescanned_values_without_calls_stay_valid(value: str) -> None:
    mc = {
        "features": [{"name": "bcc", "args": [value]}],
        "defines": {"QUEUE_DIR": value},
    }
    result = compile_dict(spec(defaults={"mc": mc}))
    assert "S217" not in [p.code for p in result.problems], result.problems


def test_a_single_expanded_option_keeps_its_macro_words() -> None:
    """confDEF_CHAR_SET is an O option, expanded once: lower(X) reaches the .cf as
    written (test_realtools.py), so it is not refused."""
    assert compile_dict(spec(defaults={"mc": {"defines": {"confDEF_CHAR_SET": "lower(X)"}}})).ok


def test_the_rescanned_defines_are_documented_or_conf() -> None:
    for name in RESCANNED_DEFINES:
        assert compile_dict(spec(defaults={"mc": {"defines": {name: "x"}}})).ok, name
