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
  `ERROR:"550 text"` does, and `"550 5.7.1 text"` `550 5.7.1 ... text`;
- a key `user@[192.0.2.4]` (From:, To:, Spam: or untagged) is found by the F
  ruleset, which looks the whole address up as the client wrote it: an IPv6 literal
  matches its own spelling only, and `net@[192.0.2]` never matches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from import_helpers import (
    ACCESS,
    PLAIN_MC,
    PLAIN_STARTTLS,
    as_built,
    imported,
    makemap_dump,
    messages,
    recompiled,
    tree,
)
from realtools import (
    SendmailRelease,
    bt_answers,
    m4_build,
    makemap_roundtrip,
    scratch_dir,
    sendmail_bt,
)
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
    as_built(root / "etc/mail")
    rc, out, err = run_cli("plan", spec, "--root", root, "--host", "h1", "--detailed-exitcode")
    assert rc == 0, out + err


#: keys at an address literal (the review's lines; `From:[1.2.4]`-style literals alone
#: came with cf/README and are in test_import_access.py): sendmail's F ruleset looks
#: the whole address up as the client wrote it, never a net's prefix
LITERAL_KEYS = [
    ("From:user@[192.0.2.4]\tREJECT", "the review: a sender at a literal", None),
    ("To:[IPv6:2001:db8:0:0:0:0:0:1]\tRELAY", "the review: a recipient domain literal", None),
    ("Spam:abuse@[10.0.0.1]\tFRIEND", "the review: cf/README's Spam:abuse@, at a literal", None),
    ("To:rcpt@[IPv6:2001:db8::6]\tOK", "the review's To: line, compressed as written", None),
    ("postmaster@[192.0.2.7]\tOK", "the review's From: line, untagged", None),
    (
        "From:net@[192.0.2]\tDISCARD",
        "the review's From: line, at a net",
        "sendmail looks From:net@[192.0.2] up as the whole address, never by a net's"
        " prefix; write From:[192.0.2] for every address at the net, or the literal's four"
        " octets",
    ),
]


@pytest.mark.parametrize(("line", "sentence"), [_case(*c) for c in LITERAL_KEYS])
def test_keys_at_address_literals(
    scratch: Path, release: SendmailRelease, line: str, sentence: str | None
) -> None:
    check_line(scratch, release, line, sentence, "A006")


def test_sendmail_looks_up_addresses_at_literals_whole(
    scratch: Path, release: SendmailRelease
) -> None:
    """The F ruleset (sender, recipient, Spam:) finds each accepted key by the address
    as written, and never finds `net@[192.0.2]` for an address at that net."""
    text = "".join(line + "\n" for line, _, _ in LITERAL_KEYS)
    (scratch / "etc-mail").mkdir()
    rc, cf, err = m4_build(PLAIN_MC, PLAIN_STARTTLS, scratch, release)
    assert rc == 0, err
    (scratch / "bt.cf").write_text(cf, encoding="utf-8")
    assert makemap_roundtrip(text, scratch / "etc-mail", release)[0] == 0
    asked = {
        ("F", "user@[192.0.2.4]", "+ From"): "REJECT",
        ("D", "[IPv6:2001:db8:0:0:0:0:0:1]", "+ To"): "RELAY",
        ("F", "abuse@[10.0.0.1]", "! Spam"): "FRIEND",
        ("F", "rcpt@[IPv6:2001:db8::6]", "+ To"): "OK",
        ("F", "rcpt@[IPv6:2001:db8:0:0:0:0:0:6]", "+ To"): "?",  # another spelling
        ("F", "postmaster@[192.0.2.7]", "+ From"): "OK",  # the untagged key
        ("F", "net@[192.0.2.9]", "+ From"): "?",
    }
    lookups = "".join(f"{rs} <{name}> <?> <{tag}> <>\n" for rs, name, tag in asked)
    done = sendmail_bt(release, scratch / "bt.cf", ("-d0.1",), lookups)
    answers = bt_answers(done.stdout)
    assert answers == list(asked.values()), done.stdout
