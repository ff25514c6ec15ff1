"""How tlsc writes m4: every quote is ours.

Names (macro names, FEATURE, OSTYPE, MAILER and include file names) are
quoted once: m4 uses them as they are. Values are quoted twice, because
sendmail's proto.m4 expands a `conf*` macro and rescans its text when it
writes the .cf: with one level of quotes, a path such as
`/etc/lower/cert.pem` comes out as `/etc//cert.pem` (`lower` is a cf macro)
and `/srv/dnl/crl.pem` eats the rest of the line. The second level is
consumed by that rescan, so the value reaches the .cf exactly as written.
A few defines are rescanned once more (`O HelpFile=ifdef(`HELP_FILE',
HELP_FILE, ...)`); they get a third level (`TRIPLE_QUOTED`).
"""

from __future__ import annotations


def name(text: str) -> str:
    """A quoted name: `text'."""
    return f"`{text}'"


def value(text: str) -> str:
    """A doubly quoted value: ``text''."""
    return f"``{text}''"


def call(macro: str, *args: str) -> str:
    """`MACRO(arg, ...)dnl` with arguments already quoted."""
    return f"{macro}({', '.join(args)})dnl"


#: defines sendmail's cf files expand twice before writing them (each checked
#: with the real m4: with two quote levels `/srv/lower/help` came out `/srv//help`)
TRIPLE_QUOTED = frozenset({"HELP_FILE", "QUEUE_DIR", "confCT_FILE"})


def define(macro: str, text: str) -> str:
    """define(`macro', ``text'')dnl, with a third quote level where the cf rescans twice."""
    quoted = f"`{value(text)}'" if macro in TRIPLE_QUOTED else value(text)
    return call("define", name(macro), quoted)
