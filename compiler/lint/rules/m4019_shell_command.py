"""M4019 shell-command: the file runs a shell command or makes a file while the .cf is built.

`syscmd` and `esyscmd` run a shell command, and `mkstemp`/`maketemp` create
a file, every time m4 builds the .cf — as root under `make -C /etc/mail` or
`tlsc apply`, from whatever directory that runs in. `esyscmd(`hostname')`
also keeps the command's final newline, which splits the define it sits
in across two .cf lines. Write the value itself instead.

PASS:
    define(`confDOMAIN_NAME', `mail.example.com')dnl
    undefine(`esyscmd')dnl

FAIL at 1:27:
    define(`confDOMAIN_NAME', esyscmd(`hostname -f'))dnl
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.lint.engine import Finding, LintContext
from compiler.lint.lexer import M4Document

ID = "M4019"
NAME = "shell-command"
KIND = "m4"

_WHAT = {
    "syscmd": "runs a shell command",
    "esyscmd": "runs a shell command",
    "mkstemp": "creates a file",
    "maketemp": "creates a file",
}


def check(doc: M4Document, ctx: LintContext) -> Iterator[Finding]:
    """Calls of m4 builtins with side effects outside m4."""
    for call in doc.all_calls():
        if call.name in _WHAT and call.paren is not None and not call.detached:
            yield Finding(
                call.start,
                ID,
                "warning",
                f"{call.name}() {_WHAT[call.name]} each time the .cf is built (as root);"
                " write the value itself",
                length=call.end - call.start,
            )
