"""submit.mc: the mail submission program's .mc, which may include starttls.m4 too.

Debian's starttls.m4 and update_tls tell the admin to add the line
include(`/etc/mail/tls/starttls.m4')dnl to submit.mc as well ("to get
MSP<->MTA authentication/encryption"), and others do the same by hand. m4
then copies the TLS settings tlsc writes into submit.cf -- but only when
submit.cf is built, and Debian's Makefile rebuilds it only when submit.mc
itself changes (its Parse_mc.pm builds submit.cf from submit.mc alone,
whatever it includes). So when an apply changes a file tlsc writes that the
host's submit.mc includes (itself, or through a file it includes, and so on),
apply rebuilds submit.cf as it rebuilds sendmail.cf, and the plan shows that
(the action rebuild_submit_cf). Only where m4 alone cannot build submit.cf
from it (it includes no cf.m4, or one m4 does not find) does the plan warn
instead (P113), and the import (I144), naming the line; tlsc never writes
submit.mc. (A starttls.m4 is never deleted by an apply, see P110, so an
include of it never starts to fail.)

A rebuilt submit.cf restarts nothing: the daemon reads sendmail.cf alone,
and submit.cf is read by the submission program each time it runs (Debian's
MSP queue runner too, run by cron by default; one run as a daemon,
MSP_MODE="daemon", read it at its start and picks the change up at the next
restart of sendmail, which its init script restarts with the MTA).

submit.cf lies beside sendmail.cf (sendmail's _PATH_MSPCONFIGFILE is
/etc/mail/submit.cf) and submit.mc beside sendmail.mc (m4 runs in that
directory, so a relative include is found there, at any depth).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.plan.model import HostPlan, PlannedAction, PlanWarning, WarningLine
from compiler.plan.observe import ObserveError, check_inside, host_path, read_file
from compiler.resolve import HostConfig
from compiler.sendmail.m4text import cf_tree

if TYPE_CHECKING:
    from compiler.lint.lexer import Call, M4Document

#: how deep includes are followed (m4's own limit is far above what a host uses)
MAX_DEPTH = 8


def submit_path(sendmail_mc: str) -> str:
    """Where the submit.mc beside a host's sendmail.mc is (m4 runs in that directory)."""
    return os.path.join(os.path.dirname(sendmail_mc), "submit.mc")


def submit_cf_path(sendmail_cf: str) -> str:
    """Where the submit.cf beside a host's sendmail.cf is (sendmail reads it there)."""
    return os.path.join(os.path.dirname(sendmail_cf), "submit.cf")


@dataclass(frozen=True)
class Include:
    """An include line of submit.mc through which m4 reads a file tlsc writes."""

    line: int
    col: int
    text: str  # the line, as submit.mc has it
    target: str  # the host path of the file tlsc writes
    #: the host paths of the files m4 reads in between (empty: submit.mc includes it itself)
    via: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubmitMc:
    """A host's submit.mc, as far as the files tlsc writes reach into it."""

    path: str  # host path
    cf: str  # host path of the submit.cf built from it
    includes: tuple[Include, ...]
    #: the include of cf.m4 (line, col), None when there is none
    cf_m4: tuple[int, int] | None
    #: why m4 alone cannot build submit.cf, None when it can (a phrase)
    no_cf_m4: str | None

    def because(self, changed: Collection[str]) -> tuple[str, ...]:
        """The files of `changed` that submit.mc includes: each means a rebuild."""
        return tuple(sorted({i.target for i in self.includes if i.target in changed}))

    def chain(self) -> frozenset[str]:
        """Every file m4 reads between submit.mc and a file tlsc writes."""
        return frozenset(p for i in self.includes for p in i.via)

    def cannot(self, changed: Collection[str]) -> str | None:
        """Why tlsc cannot rebuild submit.cf for `changed` (one sentence naming the include
        at file:line:col), None when it can."""
        hits = [i for i in self.includes if i.target in changed]
        if not hits:
            return None
        first = hits[0]
        where = f"{self.path}:{first.line}:{first.col}"
        if self.no_cf_m4 is None:
            return None
        at = f"{self.path}:{self.cf_m4[0]}:{self.cf_m4[1]}" if self.cf_m4 else where
        return (
            f"{at}: {self.no_cf_m4}, so tlsc cannot rebuild {self.cf} when it changes"
            f" {first.target}, which {where} includes; rebuild {self.cf} the way you"
            " build it now after such an apply"
        )


def _resolve(target: str, directory: str) -> str:
    """The host path m4 reads for an include argument (relative: m4's directory)."""
    return os.path.normpath(target if target.startswith("/") else os.path.join(directory, target))


def read_submit(
    sendmail_mc: str,
    sendmail_cf: str,
    written: Collection[str],
    read: Callable[[str], bytes | None],
    exists: Callable[[str], bool],
) -> SubmitMc | None:
    """The host's submit.mc and the includes of `written` in it (None: there is none).

    `read` gives a host path's bytes (None when it cannot be read: such a file is
    passed over, tlsc does not manage it); `exists` says whether m4 finds a
    relative cf.m4 there. An absolute cf.m4 is a tool, taken from this machine as
    sendmail.cf's build takes it (compiler/apply/build.py)."""
    path = submit_path(sendmail_mc)
    data = read(path)
    if data is None:
        return None
    from compiler.lint.lexer import lex  # only for a host that has a submit.mc

    directory = os.path.dirname(path)
    doc = lex(data.decode("utf-8", "replace"), path, "mc")
    lines = doc.text.split("\n")
    wanted = {os.path.normpath(w) for w in written}
    found: dict[tuple[int, int, str], Include] = {}

    def walk(inner: M4Document, top: Call | None, via: tuple[str, ...]) -> None:
        for call, target in inner.includes():
            here = top or call
            host = _resolve(target, directory)
            if host in wanted:
                line, col = doc.pos(here.start)
                found.setdefault((line, col, host), Include(line, col, lines[line - 1], host, via))
            elif (
                os.path.basename(target) != "cf.m4"
                and cf_tree(target) is None
                and len(via) < MAX_DEPTH
                and host not in via
                and host != path
            ):
                got = read(host)
                if got is not None:
                    walk(lex(got.decode("utf-8", "replace"), host, "m4"), here, (*via, host))

    walk(doc, None, ())
    cf_m4 = next((c for c, t in doc.includes() if os.path.basename(t) == "cf.m4"), None)
    at = None if cf_m4 is None else doc.pos(cf_m4.start)
    why = None
    if cf_m4 is None:
        why = f"{path} includes no cf.m4, which m4 alone needs to build submit.cf"
    else:
        target = doc.first_arg(cf_m4)
        if not (os.path.isfile(target) if target.startswith("/") else exists(target)):
            why = f"m4, run in {directory}, finds no {target}, the cf.m4 this line includes"
    return SubmitMc(path, submit_cf_path(sendmail_cf), tuple(found.values()), at, why)


def read_host_submit(config: HostConfig, base: Path, written: Collection[str]) -> SubmitMc | None:
    """read_submit of the files under `base`: a file that cannot be read (a link out of
    `base`, a FIFO) is passed over, as tlsc does not manage it."""
    p = config.settings.paths
    directory = os.path.dirname(submit_path(p.sendmail_mc))

    def read(path: str) -> bytes | None:
        on_disk = host_path(base, path)
        try:
            check_inside(base, on_disk)
            return read_file(on_disk)
        except ObserveError:
            return None

    def exists(target: str) -> bool:
        return host_path(base, _resolve(target, directory)).is_file()

    return read_submit(p.sendmail_mc, p.sendmail_cf, written, read, exists)


def note_submit(plan: HostPlan, config: HostConfig, base: Path) -> SubmitMc | None:
    """The rebuild_submit_cf action (after rebuild_sendmail_cf) when the plan changes a
    file the host's submit.mc includes; P113 instead where tlsc cannot rebuild it.
    Returns the submit.mc read (None: there is none)."""
    changes = {f.path: f.action for f in plan.files if f.action != "unchanged"}
    if not changes:
        return None
    submit = read_host_submit(config, base, [f.path for f in plan.files])
    if submit is None:
        return submit
    because = submit.because(changes)
    if not because:
        return submit
    why = submit.cannot(changes)
    if why is not None:
        shown = tuple(
            WarningLine("after", i.line, i.text) for i in submit.includes if i.target in changes
        )
        plan.warnings.append(PlanWarning("P113", why, submit.path, shown))
        return submit
    action = PlannedAction(
        "rebuild_submit_cf", f"rebuild {submit.cf} from {submit.path} (m4)", because
    )
    # after the other rebuilds, before the restart and commands.after
    rebuilds = [n + 1 for n, a in enumerate(plan.actions) if a.action.startswith("rebuild_")]
    plan.actions.insert(max(rebuilds, default=0), action)
    return submit
