"""What a MAILER line reads when it runs, so what comes too late after it.

`MAILER(`smtp')` includes mailer/smtp.m4 at once, and that file reads
SMTP_MAILER_FLAGS, SMTP_MAILER_ARGS, MODIFY_MAILER_FLAGS(`SMTP', ...) and
their kin there and then: a define of one of them after the MAILER changes
nothing, and the .cf is not what the .mc says. Every other option (confSERVER_CERT
and the rest of proto.m4's _OPTION list) is read by proto.m4 at the end of
input, so a define after the MAILERs builds the very same .cf; only the
convention (cf.README, other tools) wants it above them. The mailer files
are read from the cf tree (a name a mailer file sets itself, unguarded, does
not count: its define there wins); where the tree is not installed, a name
pattern taken from Debian's 8.17 mailer files stands in. The tests build a
define of every name mailer/local.m4 and smtp.m4 read, before and after the
MAILERs, and check both ways of judging against real m4.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import partial

from compiler.lint.engine import LintContext
from compiler.lint.lexer import M4Document

#: the names Debian 8.17's mailer/*.m4 read, for when the cf tree is not installed
FALLBACK = re.compile(
    r"[A-Z0-9_]+_(?:MAILER|SHELL)_[A-Z_]+|[A-Z0-9]+_PROG_QGRP|_DEF_[A-Z0-9_]+_FLAGS"
    r"|(?:BITNET|UUCP)_RELAY|UUCP_MAX_SIZE|(?:PROCMAIL|SSH)_PATH|SSH_REMOTE_COMMAND"
    r"|_(?:ALL_MASQUERADE|ALWAYS_ADD_DOMAIN|LOCAL_LMTP|LOCAL_NO_MASQUERADE|NO_UUCP)_"
    r"|_USE_DECNET_SYNTAX_|confUSERDB_SPEC"
)
_DEFINES = ("define", "pushdef", "undefine", "popdef")


def mailer_texts(doc: M4Document, ctx: LintContext, base: str, before: int) -> list[str | None]:
    """The texts of the mailer files that the MAILER lines before `before` included."""
    texts: list[str | None] = []
    for call in doc.top_calls("MAILER"):
        if call.start >= before:
            break
        path = os.path.join(base, "mailer", f"{doc.first_arg(call)}.m4")
        texts.append(ctx.cached(("mailer", path), partial(ctx.read, path)))
    return texts


def read_by(name: str, texts: Iterable[str | None]) -> bool:
    """True when one of the mailer files (None: unknown, use the pattern) reads `name`
    and does not set it itself."""
    for text in texts:
        if text is None:
            if FALLBACK.fullmatch(name):
                return True
        # a name the file sets itself, unguarded (define(`_SMTP_QGRP', ...) at the
        # start of a line), overrides any earlier define: the place does not matter
        elif re.search(
            rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text
        ) and not re.search(rf"^define\(`{re.escape(name)}'", text, re.MULTILINE):
            return True
    return False


def flags_read_by(prefix: str, texts: Iterable[str | None]) -> bool:
    """True when a mailer file applies MODIFY_MAILER_FLAGS(`prefix', ...)."""
    for text in texts:
        if text is None:
            if prefix in ("LOCAL", "SMTP", "ESMTP", "SMTP8", "DSMTP", "RELAY", "PROG"):
                return True
        elif re.search(rf"_MODMF_\([^\n]*`{re.escape(prefix)}'\)", text):
            return True
    return False


def late_effect(source: M4Document, texts: list[str | None]) -> str | None:
    """Why a file included after the MAILERs builds a different .cf; None if it does not.

    A FEATURE, OSTYPE or DOMAIN counts only where it surely runs (not inside a
    quoted ifdef/ifelse branch, as debian-mta.m4's version-dependent FEATURE);
    a define counts anywhere.
    """
    for call in source.top_calls("FEATURE", "OSTYPE", "DOMAIN"):
        if call.args:
            return f"{call.name}(`{source.first_arg(call)}') after a MAILER is not built as written"
    for call in source.all_calls():
        if call.hash_line or not call.args:
            continue
        name = source.first_arg(call)
        if call.name in _DEFINES and read_by(name, texts):
            return f"the MAILER lines have already read {name}"
        if call.name == "MODIFY_MAILER_FLAGS" and flags_read_by(name, texts):
            return f"the MAILER lines have already applied the {name} mailer flags"
    return None
