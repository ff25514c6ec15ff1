"""Real access lines sendmail reads, by class: what lint says of each, what import
carries over (or the loss it reports), `plan --root` after a default import, and
the map tlsc writes under `ownership: file`, loaded by the real makemap.

What sendmail does with each form was seen with sendmail 8.17.1.9 and 8.18.1 (a
.cf built from the test's .mc, the map made by makemap, replies from `sendmail
-bs`, lookups from `sendmail -bt`):

- a value quoted whole is one word to sendmail's tokenizer, so it matches none of
  the access rules (`<REJECT>`, `<ERROR:$+>`, ...) and becomes the text of the
  generic error: `"REJECT"` answers `553 5.3.0 <a@b.example>... REJECT`,
  `"ERROR:550 text"` `553 5.3.0 ... ERROR:550 text`, `"OK"` `553 5.3.0 ... OK`;
  unless the word is an SMTP reply: `"550 text"` answers `550 5.0.0 ... text`, as
  `ERROR:"550 text"` does, and `"550 5.7.1 text"` `550 5.7.1 ... text`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from import_helpers import ACCESS, imported, makemap_dump, messages, recompiled, tree
from realtools import SendmailRelease, scratch_dir
from releases import release

from compiler.lint.engine import LintContext, lint_text

__all__ = ["release"]  # a fixture, imported for pytest

pytestmark = pytest.mark.realtools

#: the line every case's access file starts with
LOCAL = "Connect:127.0.0.1\t\t\tRELAY\n"


def _quoted(answer: str, how: str = "remove the quotes") -> str:
    return (
        "sendmail reads a value in double quotes as one word, the text of an error, so it"
        f" answers 553 5.3.0 {answer} whenever the line matches; {how}"
    )


#: (access line, where it comes from, the loss / lint sentence or None: carried over)
QUOTED = [
    (
        'error550@\t"ERROR:550 Mailbox disabled for this username 456-t3"',
        "blackbaud-qa/watirmark-email etc/mail/access",
        _quoted("ERROR:550 Mailbox disabled for this user…"),
    ),
    (
        'From:spam.example\t"ERROR:5.7.1:550 go away"',
        "the review's form of it, with a DSN",
        _quoted("ERROR:5.7.1:550 go away"),
    ),
    (
        'From:spam.example\t"REJECT"',
        "the review's form of it, an action",
        _quoted("REJECT"),
    ),
    (
        'Connect:friend.example\t"OK"',
        "the review's form of it: rejects the friend",
        _quoted("OK"),
    ),
    (
        'To:old.example\t"550 text"',
        "the review's form of it, an SMTP reply: answered 550 5.0.0 text",
        None,
    ),
    (
        'From:spam.example\t"550 5.7.1 Your mail has been rejected."',
        "cf/README's `550 Your mail...` example, quoted: 550 5.7.1",
        None,
    ),
    (
        'From:cyberspammer.com\t\tERROR:"550 We don\'t accept mail from spammers"',
        "FreeBSD etc/mail/access.sample",
        None,
    ),
    (
        "newsupdates@your.domain\t421 Our database is down for two days for repair",
        "sendmail, 4th Edition, 7.5.2.6",
        None,
    ),
    (
        'From:spam.example\t"5.7.1:550 go away"',
        "the review's form of it, without ERROR:",
        _quoted("5.7.1:550 go away", "write ERROR:5.7.1:550 go away"),
    ),
    (
        'From:spam.example\t"550 unbalanced',
        "the review's form of it, its quote never closed",
        "the double quote that opens '\"550 unbalanced' is never closed: sendmail answers"
        " 553 5.0.0 Unbalanced '\"' whenever the line matches; close it at the end",
    ),
]


def _case(line: str, source: str, sentence: str | None) -> object:
    return pytest.param(line, sentence, id=line.split("\t", 1)[0] + " " + source)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory below ~/.cache (makemap refuses a world-writable /tmp)."""
    with scratch_dir("forms") as path:
        yield path


@pytest.mark.parametrize(("line", "sentence"), [_case(*c) for c in QUOTED])
def test_quoted_values(
    scratch: Path, release: SendmailRelease, line: str, sentence: str | None
) -> None:
    check_line(scratch, release, line, sentence, "A007")


def check_line(
    tmp_path: Path, release: SendmailRelease, line: str, sentence: str | None, code: str
) -> None:
    """lint -> import (ownership: file) -> its map; default import -> plan --root."""
    text = LOCAL + line + "\n"
    key = line.split(None, 1)[0]
    report = lint_text(text, "access", "access", LintContext())
    found = [(p.line, p.code, p.message) for p in report.problems()]
    said = sentence if code != "A006" else f"{sentence}; sendmail never matches it"
    assert found == ([] if sentence is None else [(2, code, said)])

    owned = imported(tree(tmp_path / "file", text))
    if sentence is not None:
        assert messages(owned) == [f"I141 cannot carry over {key}: {sentence}"]
    else:
        assert messages(owned) == []
        files = recompiled(owned).hosts["h1"]
        assert makemap_dump(files[ACCESS], release) == makemap_dump(text, release)

    root = tree(tmp_path / "root", text)
    spec = tmp_path / "cluster.yaml"
    rc, _, err = run_cli("import", root, "--host", "h1", "--fqdn", "h1.example.net", "--out", spec)
    assert rc == 0 and "lost: nothing" in err, err
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0, out + err
