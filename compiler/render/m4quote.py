"""How tlsc writes m4: every quote is ours.

Names (macro names, FEATURE, OSTYPE, MAILER and include file names) are
quoted once: m4 uses them as they are. Values are quoted twice, because
sendmail's proto.m4 expands a `conf*` macro and rescans its text when it
writes the .cf: with one level of quotes, a path such as
`/etc/lower/cert.pem` comes out as `/etc//cert.pem` (`lower` is a cf macro)
and `/srv/dnl/crl.pem` eats the rest of the line. The second level is
consumed by that rescan, so the value reaches the .cf exactly as written.
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


def define(macro: str, text: str) -> str:
    """define(`macro', ``text'')dnl."""
    return call("define", name(macro), value(text))
