"""submit.mc: the mail submission program's .mc, which may include starttls.m4 too.

Debian's starttls.m4 and update_tls tell the admin to add the line
include(`/etc/mail/tls/starttls.m4')dnl to submit.mc as well ("to get
MSP<->MTA authentication/encryption"), and others do the same by hand. m4
then copies the TLS settings tlsc writes into submit.cf -- but only when
submit.cf is next built: tlsc apply builds sendmail.cf alone, and Debian's
Makefile rebuilds submit.cf only when submit.mc itself changes (its
Parse_mc.pm builds submit.cf from submit.mc alone, whatever it includes). So
a change to starttls.m4 would reach the submission program at some later,
unrelated build, unseen: the import (I144) and the plan (P113) say so at the
include line. tlsc never writes or builds submit.cf itself: it is not a file
the spec manages.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from compiler.lint.lexer import lex
from compiler.plan.model import HostPlan, PlanWarning, WarningLine
from compiler.plan.observe import ObserveError, check_inside, host_path, read_file
from compiler.resolve import HostConfig

#: how Debian's Makefile rebuilds submit.cf on purpose
REBUILD = "make -C /etc/mail submit.cf"


def submit_path(sendmail_mc: str) -> str:
    """Where the submit.mc beside a host's sendmail.mc is (m4 runs in that directory)."""
    return os.path.join(os.path.dirname(sendmail_mc), "submit.mc")


def includes_of(text: str, target: str, directory: str) -> Iterator[tuple[int, int, str]]:
    """(line, col, the line) of each include of `target` that m4 runs in a submit.mc
    (in `directory`, where a relative include is found), ifdef/ifelse branches too."""
    doc = lex(text, "submit.mc", "mc")
    lines = text.split("\n")
    for call in doc.all_calls():
        if call.name not in ("include", "sinclude") or not call.args or call.hash_line:
            continue
        arg = doc.first_arg(call)
        path = os.path.normpath(arg if arg.startswith("/") else os.path.join(directory, arg))
        if arg and path == os.path.normpath(target):
            line, col = doc.pos(call.start)
            yield line, col, lines[line - 1]


def sentence(submit: str, starttls: str, planned: bool = False) -> str:
    """What an include of starttls.m4 in submit.mc means, in one sentence (`planned`:
    for a plan that changes starttls.m4)."""
    then = "the apply" if planned else f"an apply that changes {starttls}"
    return (
        f"{submit} includes {starttls} too, so what tlsc writes there reaches submit.cf (the"
        " mail submission program's configuration) only when submit.cf is next built, which"
        " tlsc apply never does and Debian's make does only once submit.mc changes; after"
        f" {then}, rebuild it ({REBUILD}, or m4 submit.mc > submit.cf)"
    )


def note_submit(plan: HostPlan, config: HostConfig, base: Path) -> None:
    """P113 when the plan changes a starttls.m4 the host's submit.mc includes. The
    submit.mc is only read, and one that cannot be (a link out of `base`, a FIFO) is
    passed over: tlsc does not manage it."""
    p = config.settings.paths
    if not any(f.path == p.starttls_m4 and f.action != "unchanged" for f in plan.files):
        return
    submit = submit_path(p.sendmail_mc)
    on_disk = host_path(base, submit)
    try:
        check_inside(base, on_disk)
        data = read_file(on_disk)
    except ObserveError:
        return
    if data is None:
        return
    text = data.decode("utf-8", "replace")
    for line, _col, shown in includes_of(text, p.starttls_m4, os.path.dirname(submit)):
        plan.warnings.append(
            PlanWarning(
                "P113",
                sentence(submit, p.starttls_m4, planned=True),
                submit,
                (WarningLine("after", line, shown),),
            )
        )
