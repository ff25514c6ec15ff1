"""The apply itself: the steps of compiler.apply in order, and the rollback.

Errors inside a step are values until here: each step either finishes or
raises `_Failed` with one sentence; the runner turns that into a rollback
(from the first change on) or a refusal (before it), and the command only
prints the report.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from compiler.apply import hooks
from compiler.apply.atomic import clean_temps, remove, temp_path, write_atomic
from compiler.apply.backup import Backup, BackupError, RestoreError, make_backup, prune, restore
from compiler.apply.build import (
    BuildError,
    build_access_db,
    build_cf,
    host_includes,
    point_includes,
    run_command,
    world_writable_dir,
    world_writable_refusal,
)
from compiler.apply.dirfd import PROC_FD, DirError, SafeDirs, real_file
from compiler.apply.lock import LOCK_DIR, LOCK_NAME, ApplyLock, LockError
from compiler.apply.maillog import find_log, mark, tls_lines_since
from compiler.apply.pending import PENDING_NAME, Pending, clear_pending, read_pending, write_pending
from compiler.apply.planning import (
    HostState,
    LoadedHost,
    load_host,
    managed_paths,
    on_disk,
    plan_host,
)
from compiler.apply.report import ApplyReport, Result, Status, Step
from compiler.apply.stale import stale_builds
from compiler.apply.verify import Expectation, describe, probe_until, target_for
from compiler.fileio import Terminated
from compiler.plan.links import link_ends
from compiler.plan.make import SpecProblems
from compiler.plan.model import Plan
from compiler.plan.observe import ObserveError, check_inside, resolve_tree
from compiler.plan.planner import PlanError, sha256
from compiler.plan.saved import (
    SavedPlanError,
    already_applied,
    check_drift,
    check_links,
    load_saved_plan,
    spec_changed,
)
from compiler.plan.submit import SubmitMc, read_host_submit, submit_cf_path
from compiler.probe import ProbeResult

#: modes of new files (an existing file keeps its own): Debian's, see the README
NEW_FILE_MODES = {"sendmail_mc": 0o644, "starttls_m4": 0o644, "access": 0o640}
DEFAULT_BACKUP_DIR = "/var/backups/tlsc"


@dataclass
class ApplyOptions:
    """The command line's choices."""

    spec: str
    root: Path = Path("/")
    host: str | None = None
    plan_file: str | None = None
    yes: bool = False
    allow_downgrade: bool = False
    no_restart: bool = False
    #: skip step 6 (for a host whose sendmail does not run yet; the benchmark)
    no_verify: bool = False
    #: skip the pre-flight step (doctor's checks of the TLS files the spec names)
    skip_preflight: bool = False
    lock_timeout: float = 60.0
    #: default: ROOT/var/backups/tlsc
    backup_dir: Path | None = None
    keep_backups: int = 10
    #: how long verify retries while sendmail is not answering yet
    verify_wait: float = 10.0
    command_timeout: float = 300.0
    #: the mail log to quote sendmail's TLS lines from when verify fails after a restart
    mail_log: str | None = None
    #: shows the plan to the person (text output only)
    show_plan: Callable[[Plan, list[str]], None] = lambda _plan, _extra: None
    #: asks "apply?"; None when there is no terminal to ask on
    confirm: Callable[[str], bool] | None = None
    #: called as each step ends
    progress: Callable[[Step], None] = lambda _step: None
    #: called once when the lock is busy
    waiting: Callable[[str], None] = lambda _who: None


#: what stops an apply from outside: ^C (SIGINT), SIGTERM, SIGHUP (its terminal gone)
_STOPPED = (KeyboardInterrupt, Terminated)


def _signal_name(exc: BaseException) -> str:
    """The signal a _STOPPED exception stands for: 'SIGTERM', 'SIGHUP', 'SIGINT (^C)'."""
    if isinstance(exc, Terminated):
        return signal.Signals(exc.signum).name
    return "SIGINT (^C)"


class _Stops:
    """What signals_stop_apply does with a signal: raise it (`raising`), or, once the
    apply's work is over (its lock released, its report made), note it in `late`."""

    def __init__(self) -> None:
        self.raising = True
        self.late: int | None = None


@contextmanager
def signals_stop_apply() -> Iterator[_Stops]:
    """While apply runs, SIGTERM and SIGHUP raise Terminated, as ^C raises
    KeyboardInterrupt: a stopped apply rolls back what it changed and reports, instead
    of dying between two steps with its temp files left. Once the work is over, a
    signal is only noted (`late`): the report of a finished apply is still made and
    printed, and the command exits with it. A signal ignored before (nohup) stays
    ignored; off the main thread nothing changes."""
    stops = _Stops()
    if threading.current_thread() is not threading.main_thread():
        yield stops
        return

    def stop(signum: int, _frame: object) -> None:
        if not stops.raising:
            stops.late = signum
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise Terminated(signum)

    old = {}
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        current = signal.getsignal(sig)
        if current is not signal.SIG_IGN and (
            sig != signal.SIGINT or current is signal.default_int_handler
        ):
            old[sig] = signal.signal(sig, stop)
    try:
        yield stops
    finally:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, tuple(old))
        for sig, handler in old.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class _Failed(Exception):
    """A step failed; the message is one phrase saying what."""


class _Refused(Exception):
    """Nothing was changed and nothing will be; the message is one sentence."""


@dataclass
class _Work:
    """What this apply will do beyond writing the plan's files, and why."""

    rebuild_cf: bool = False
    rebuild_access: bool = False
    #: submit.mc includes a file the apply changes (compiler/plan/submit.py): this one
    submit: SubmitMc | None = None
    restart: bool = False
    #: an interrupted apply may have installed a new sendmail.cf without restarting
    restart_pending: bool = False
    run_after: bool = False
    reasons: list[str] = field(default_factory=list)
    #: the journal of an interrupted apply this one finishes
    pending: Pending | None = None


class Apply:
    """One run of `tlsc apply`."""

    def __init__(self, options: ApplyOptions):
        self.o = options
        #: absolute, since m4 runs in the .mc's directory and reads rooted includes
        self.root = Path(os.path.abspath(options.root))
        self.report = ApplyReport(spec=options.spec, root=str(options.root))
        self.lock: ApplyLock | None = None
        self.loaded: LoadedHost | None = None
        self.state: HostState | None = None
        self.backup: Backup | None = None
        self.baseline: ProbeResult | None = None
        self.restart_attempted = False
        #: the mail log and where it ended before the restart (apply/maillog.py)
        self.log: Path | None = None
        self.log_mark: int | None = None
        #: whether build-cf installed other bytes than sendmail.cf held before
        self.cf_changed = False
        self.pending_path: Path | None = None
        self.verified = ""
        #: host path -> the file apply reads, writes, backs up and restores for it: the
        #: path under the root, or where its symbolic links lead (resolved once, here)
        self.files: dict[str, Path] = {}
        #: host path -> that file with its directory's links resolved (settled under the lock)
        self.real: dict[str, Path] = {}
        #: the same for the journal, and for the .mc's own directory (m4's cwd)
        self.pending_real: Path | None = None
        self.mc_dir_real: Path | None = None
        #: the directories written in, held open (see compiler.apply.dirfd)
        self.dirs = SafeDirs(self.root)
        #: the backup directory's real path, settled under the lock, and its directories
        #: held open: the root's for the default one, from / for --backup-dir
        self.backup_real: Path | None = None
        self.backup_dirs = self.dirs if options.backup_dir is None else SafeDirs(Path("/"))

    # -- steps ------------------------------------------------------------------

    @contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time a step; the body appends its detail; _Failed marks it failed."""
        hooks.pause_at(name)
        detail: list[str] = []
        start = time.monotonic()
        try:
            yield detail
        except (_Failed, _Refused) as exc:
            self._record(name, "failed", start, str(exc))
            raise
        self._record(name, "ok", start, "; ".join(detail))

    def skip(self, name: str, why: str) -> None:
        """Record a step that did not run, and why."""
        self._record(name, "skipped", time.monotonic(), why)

    def _record(self, name: str, status: Status, start: float, detail: str) -> None:
        step = Step(name, status, time.monotonic() - start, detail)
        self.report.steps.append(step)
        # a progress line that cannot be written (the terminal gone with its SIGHUP, a
        # closed pipe) must not stop an apply half-way, nor cut its rollback short
        with contextlib.suppress(OSError, ValueError):
            self.o.progress(step)

    # -- the run ------------------------------------------------------------------

    def run(self, stops: _Stops | None = None) -> ApplyReport:
        """Apply, and return the report (never raises for anything the host does).

        `stops`: the caller's signals_stop_apply, held on while it prints the report
        (else this run's own)."""
        if stops is None:
            with signals_stop_apply() as own:
                return self.run(own)
        started = time.monotonic()
        try:
            try:
                self._run()
            finally:
                stops.raising = False  # from here a signal is noted, the report made
        except SpecProblems as exc:
            self.report.problems = exc.problems
            self._end("refused", f"{self.o.spec} is not valid; nothing was changed")
        except _Refused as exc:
            self._end("refused", str(exc))
        except OSError as exc:
            # what no step turned into a sentence: said here, never taken for the
            # command's own output failing
            where = f"{self._shown_path(str(exc.filename))}: " if exc.filename else ""
            why = f"{where}{exc.strerror or exc}"
            self._record("error", "failed", time.monotonic(), repr(exc))
            if self.backup is None:
                self._end("failed", f"apply failed ({why}); nothing was changed")
            else:
                self._end(
                    "failed",
                    f"apply failed as it finished ({why}); the next tlsc apply checks the"
                    " host and finishes what is left",
                )
        except _STOPPED as exc:
            self._record("interrupted", "failed", time.monotonic(), _signal_name(exc))
            if self.backup is None:
                self._end(
                    "failed",
                    f"apply was stopped by {_signal_name(exc)} before it changed anything;"
                    " nothing was changed",
                )
            else:
                self._end(
                    "failed",
                    f"apply was stopped by {_signal_name(exc)} as it finished; the next"
                    " tlsc apply checks the host and finishes what is left",
                )
        finally:
            if self.lock is not None:
                self.lock.release()
            self.dirs.close()
            self.backup_dirs.close()
            self.report.seconds = time.monotonic() - started
        return self.report

    def _shown_path(self, name: str) -> str:
        """`name`, or the path it stands for when it goes through a directory held open
        (/proc/self/fd/N/...): what a message names."""
        for dirs in (self.dirs, self.backup_dirs):
            shown = dirs.shown(Path(name))
            if shown is not None:
                return str(shown)
        return name

    def _end(self, result: Result, message: str) -> None:
        self.report.result = result
        self.report.message = message

    def _run(self) -> None:
        with self.step("load") as detail:
            try:
                self.loaded = load_host(self.o.spec, self.o.host)
            except PlanError as exc:
                raise _Refused(str(exc)) from None
            config = self.loaded.config
            self.report.host = config.name
            detail.append(f"host {config.name} ({config.fqdn})")
        paths = config.settings.paths
        lock_dir = on_disk(self.root, os.path.dirname(paths.sendmail_mc))
        self.pending_path = lock_dir / PENDING_NAME
        if not self.root.is_dir():
            raise _Refused(f"--root {self.root} is not a directory")
        if not PROC_FD.is_dir():
            raise _Refused(f"apply writes through {PROC_FD}, and /proc is not mounted")
        self._check_inside(lock_dir)
        with self.step("lock") as detail:
            # one lock per root, whatever the spec's paths say (see compiler.apply.lock)
            shown = on_disk(self.root, LOCK_DIR) / LOCK_NAME
            try:
                where = self.dirs.path(real_file(shown))
            except DirError as exc:
                raise _Refused(str(exc)) from None
            except OSError as exc:
                raise _Refused(f"cannot make {shown.parent}: {exc.strerror}") from None
            assert where is not None
            self.lock = ApplyLock(where, shown)
            try:
                self.lock.acquire(self.o.lock_timeout, self.o.waiting)
            except LockError as exc:
                self.lock = None
                raise _Refused(str(exc)) from None
            detail.append(str(shown))
            # settled again under the lock: a link changed while this apply waited
            # must not send the write, the backup or the rollback to the old file;
            # and from here on each directory is held open (compiler.apply.dirfd)
            self._resolve_links()
            self._pin()
            places = [self._disk(p) for p in self._all_paths()] + list(self.files.values())
            leftovers = []
            for place in sorted(set(places)):
                try:
                    at = self.dirs.path(real_file(place), create=False)
                    leftovers += clean_temps([at] if at is not None else [])
                except DirError as exc:
                    raise _Refused(str(exc)) from None
                except OSError as exc:
                    # the one in the way: makemap's own name (.access.db.tlsc-new.db) too
                    name = self._shown_path(str(exc.filename)) if exc.filename else temp_path(place)
                    raise _Refused(
                        f"cannot remove the temp file {name} an interrupted apply"
                        f" left: {exc.strerror}; nothing was changed"
                    ) from None
            if leftovers:
                detail.append(f"removed {len(leftovers)} temp file(s) an interrupted apply left")
        pending_at = self._pending_io(create=False)
        pending = None if pending_at is None else read_pending(pending_at)
        with self.step("plan") as detail:
            try:
                self.state = plan_host(self.loaded, self.root, self.files, self._held())
            except (PlanError, ObserveError) as exc:
                raise _Refused(str(exc)) from None
            self.report.plan = self.state.host
            if self.o.plan_file is not None:
                detail.append(self._check_saved_plan(pending))
            work = self._work(pending)
            if work.rebuild_access:
                # makemap would fail only after the files were written: refuse now
                db = self._file(paths.access_db)
                unsafe = world_writable_dir(db)
                if unsafe is not None:
                    raise _Refused(world_writable_refusal(db, unsafe))
            self._check_writable(work)
            changes = self.state.host.changes
            detail.append(f"{changes} file(s) to change")
            detail.extend(work.reasons)
        if not changes and not (
            work.rebuild_cf or work.rebuild_access or work.restart or work.submit
        ):
            self._end(
                "unchanged",
                f"{config.name} already matches {self.o.spec}; nothing to do",
            )
            return
        self._preflight()
        self._confirm(work)
        self._apply(work)

    def _preflight(self) -> None:
        """Refuse, before anything is written, when the TLS files the spec names would
        keep sendmail from offering STARTTLS (tlsc doctor's error findings)."""
        assert self.loaded is not None
        config = self.loaded.config
        if not config.settings.tls.enabled:
            self.skip("preflight", "STARTTLS is off for this host")
            return
        if self.o.skip_preflight:
            self.skip("preflight", "--skip-preflight")
            return
        from compiler.doctor import preflight

        with self.step("preflight") as detail:
            findings = preflight(config, self.o.spec, self.root)
            self.report.preflight = findings
            errors = [f for f in findings if f.severity == "error"]
            if errors:
                where = "" if self.root == Path("/") else f" --root {self.o.root}"
                found = "; ".join(f"{f.path}: {f.code} {f.message}" for f in errors)
                raise _Refused(
                    f"pre-flight: {found}; nothing was changed; fix"
                    f" {'it' if len(errors) == 1 else 'them'} (tlsc doctor {self.o.spec}"
                    f" --host {config.name}{where} shows how), or apply anyway with"
                    " --skip-preflight"
                )
            detail.append("the TLS files the spec names pass tlsc doctor's checks")
            detail.extend(f"warning: {f.code} {f.message}" for f in findings)

    # -- what to do ---------------------------------------------------------------

    def _disk(self, path: str) -> Path:
        """Where host path `path` is under the root (a symbolic link is not followed)."""
        return on_disk(self.root, path)

    def _file(self, path: str) -> Path:
        """The file apply writes for host path `path`: the end of its links, if any (for
        messages and reading; writes go through `_io`)."""
        return self.files[path]

    def _pin(self) -> None:
        """Open, under the lock, every existing directory apply writes in (by its real path,
        settled now), so that a directory replaced later cannot redirect a write."""
        self.real = {p: real_file(f) for p, f in self.files.items()}
        assert self.pending_path is not None and self.loaded is not None
        self.pending_real = real_file(self.pending_path)
        self.mc_dir_real = real_file(self._disk(self.loaded.config.settings.paths.sendmail_mc))
        wanted = {f.parent for f in self.real.values()}
        wanted.add(self.pending_real.parent)
        for p in self._all_paths():
            wanted.add(real_file(self._disk(p)).parent)
        try:
            for directory in sorted(wanted):
                self.dirs.open(directory, create=False)
            self.backup_real = real_file(Path(os.path.abspath(self._backup_shown())))
            self.backup_dirs.open(self.backup_real, create=False)
        except DirError as exc:
            raise _Refused(str(exc)) from None
        except OSError as exc:
            raise _Refused(f"cannot open {exc.filename}: {exc.strerror}") from None

    def _held(self) -> dict[str, Path]:
        """Each path's file through its directory held open, where that directory exists."""
        out = {}
        for path, real in self.real.items():
            try:
                at = self.dirs.path(real, create=False)
            except DirError as exc:
                raise _Refused(str(exc)) from None
            if at is not None:
                out[path] = at
        return out

    def _io(self, path: str) -> Path:
        """Where apply writes host path `path`'s file: through its directory held open."""
        try:
            at = self.dirs.path(self.real[path])
        except DirError as exc:
            raise _Failed(str(exc)) from None
        except OSError as exc:
            raise _Failed(
                f"cannot make the directory of {self._file(path)}: {exc.strerror}"
            ) from None
        assert at is not None
        return at

    def _pending_io(self, create: bool = True) -> Path | None:
        assert self.pending_real is not None
        try:
            return self.dirs.path(self.pending_real, create)
        except DirError as exc:
            raise (_Failed if create else _Refused)(str(exc)) from None

    def _check_inside(self, lock_dir: Path) -> None:
        """Refuse when a symbolic link would take a write out of --root or loops (before
        the lock), and settle which file each path's links lead to."""
        places = [on_disk(self.root, LOCK_DIR) / LOCK_NAME, lock_dir / PENDING_NAME]
        if self.o.backup_dir is None:
            places.append(on_disk(self.root, DEFAULT_BACKUP_DIR))
        self._resolve_links()
        try:
            for place in places:
                check_inside(self.root, place)
        except ObserveError as exc:
            raise _Refused(str(exc)) from None

    def _resolve_links(self) -> None:
        """Which file each managed path's links lead to (refused: out of --root, a loop)."""
        try:
            self.files = resolve_tree(self.root, self._all_paths())
        except ObserveError as exc:
            raise _Refused(str(exc)) from None

    def _touched(self, work: _Work) -> set[str]:
        """Every host path apply changes: the files it writes and the ones it rebuilds."""
        assert self.loaded is not None and self.state is not None
        p = self.loaded.config.settings.paths
        paths = set(self.state.writes)
        if work.rebuild_cf:
            paths.add(p.sendmail_cf)
        if work.rebuild_access:
            paths.add(p.access_db)
        if work.submit is not None:
            paths.add(work.submit.cf)
        return paths

    def _check_writable(self, work: _Work) -> None:
        """Refuse before anything changes when a file to write lies on a read-only mount."""
        assert self.loaded is not None and self.state is not None
        for path in sorted(self._touched(work)):
            directory = self._file(path).parent
            while not directory.exists() and directory != directory.parent:
                directory = directory.parent
            try:
                read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
            except OSError:
                continue  # the write itself says what is wrong
            if read_only:
                raise _Refused(
                    f"cannot write {self._file(path)}: {directory} is mounted read-only"
                    " (Read-only file system); nothing was changed"
                )

    def _all_paths(self) -> list[str]:
        assert self.loaded is not None
        p = self.loaded.config.settings.paths
        return [
            p.sendmail_mc,
            p.starttls_m4,
            p.access,
            p.sendmail_cf,
            p.access_db,
            submit_cf_path(p.sendmail_cf),
        ]

    def _stat(self, path: str) -> os.stat_result | None:
        try:
            return self._file(path).stat()
        except OSError:
            return None

    def _work(self, pending: Pending | None) -> _Work:
        assert self.loaded is not None and self.state is not None
        s = self.loaded.config.settings
        p = s.paths
        changed = {f.path for f in self.state.host.files if f.action != "unchanged"}
        w = _Work()
        will_have_mc = self.state.writes.get(p.sendmail_mc, b"") is not None
        stale = stale_builds(p, self._stat, changed)
        w.rebuild_cf, w.rebuild_access = stale.rebuild_cf, stale.rebuild_access
        w.reasons += [r for r in (stale.cf_reason, stale.access_reason) if r]
        if pending is not None:
            w.pending = pending
            w.reasons.append(
                f"an apply started {pending.started} (pid {pending.pid}) did not finish;"
                " finishing its rebuilds and restart"
            )
            w.rebuild_cf |= pending.rebuild_cf
            w.rebuild_access |= pending.rebuild_access
            w.restart |= pending.restart
            w.restart_pending = pending.restart
        w.submit = self._submit_work(pending)
        w.rebuild_cf = w.rebuild_cf and will_have_mc
        w.restart = (w.restart or w.rebuild_cf) and bool(s.commands.restart)
        w.run_after = bool(s.commands.after) and bool(changed or w.rebuild_cf or w.rebuild_access)
        return w

    def _submit_work(self, pending: Pending | None) -> SubmitMc | None:
        """The submit.mc to rebuild submit.cf from: when the plan says so (a file it
        includes changes), or when an interrupted apply set out to and it still can."""
        assert self.loaded is not None and self.state is not None
        if any(a.action == "rebuild_submit_cf" for a in self.state.host.actions):
            return self.state.submit
        if pending is None or not pending.rebuild_submit:
            return None
        written = [f.path for f in self.state.host.files]
        submit = read_host_submit(self.loaded.config, self.root, written)
        if submit is None or not submit.because(written) or submit.cannot(written):
            return None
        return submit

    def _check_saved_plan(self, pending: Pending | None) -> str:
        """Refuse a saved plan that no longer holds; the step's detail otherwise."""
        assert self.state is not None and self.loaded is not None
        name = self.loaded.config.name
        where = self.o.plan_file
        try:
            saved = load_saved_plan(str(where))
        except SavedPlanError as exc:
            raise _Refused(str(exc)) from None
        if spec_changed(saved, self.loaded.spec_bytes, self.loaded.inputs):
            what = " (or an access file it names)" if self.loaded.inputs else ""
            raise _Refused(
                f"{self.o.spec}{what} changed since the plan {where} was made; make a new plan"
            )
        if name not in saved.hosts:
            raise _Refused(f"the plan {where} has no host {name}; make a plan for this host")
        if saved.observed_kind == "base":
            raise _Refused(
                f"the plan {where} was made with --base: it compares the spec with itself at"
                f" git revision {saved.observed_location}, not with this host's files; make"
                " the plan with --root (or --state) to apply it"
            )
        done = not self.state.host.changes and already_applied(saved, name, self.state.observed)
        planned_after = {f.path: f.after_sha256 for f in saved.hosts[name]}
        drifted = (
            []
            if done
            else [
                d.message()
                for d in check_drift(saved, {name: self.state.observed})
                # a file that already holds what the plan writes (a rollout stopped
                # half-way through the host) is no drift: the plan ends where it says
                if d.found_sha256 != planned_after.get(d.path)
            ]
        )
        drifted += check_links(saved, name, link_ends(self.root, self.files))
        if drifted:
            more = f" ({len(drifted) - 1} more file(s) too)" if len(drifted) > 1 else ""
            why = ""
            if pending is not None:
                # the files drifted because an apply died half-way: say so, and what to do
                why = (
                    f"; an apply that did not finish changed them (its journal"
                    f" {self.pending_path} is there), and the new plan lists what the"
                    " next apply finishes (P114)"
                )
            first = drifted[0].removesuffix("; make a new plan")
            raise _Refused(f"refusing the plan {where}: {first}{more}; make a new plan{why}")
        now = {f.path: f.after_sha256 for f in self.state.host.files}
        then = {f.path: f.after_sha256 for f in saved.hosts[name]}
        if now != then:
            raise _Refused(
                f"the plan {where} would write other bytes than this tlsc makes from the same"
                " spec (another tlsc version?); make a new plan"
            )
        if done:
            return f"the saved plan {where} is already applied"
        return f"the saved plan {where} still holds"

    def _confirm(self, work: _Work) -> None:
        assert self.state is not None
        host = self.state.host
        extra = list(work.reasons)
        with self.step("confirm") as detail:
            if host.downgrades and not self.o.allow_downgrade:
                codes = ", ".join(sorted({w.code for w in host.downgrades}))
                raise _Refused(
                    f"the plan weakens TLS ({len(host.downgrades)} downgrade(s): {codes});"
                    " nothing was changed; apply it with --allow-downgrade if that is intended"
                )
            self.o.show_plan(self.state.plan, extra)
            if self.o.yes:
                detail.append("--yes")
                return
            if self.o.confirm is None:
                raise _Refused(
                    "there is no terminal to ask for confirmation on; nothing was changed;"
                    " run with --yes to apply without asking"
                )
            if not self.o.confirm(f"Apply these changes to {host.host}?"):
                raise _Refused("not confirmed; nothing was changed")
            detail.append("confirmed")

    # -- the changes ----------------------------------------------------------------

    def _expect(self) -> Expectation:
        assert self.loaded is not None
        return Expectation(tls=self.loaded.config.settings.tls.enabled)

    def _apply(self, work: _Work) -> None:
        assert self.loaded is not None and self.state is not None
        config = self.loaded.config
        target = target_for(config, self.root)
        if self.o.no_verify:
            self.skip("baseline", "--no-verify")
        else:
            with self.step("baseline") as detail:
                self.baseline, _ = probe_until(target, Expectation(tls=False), 0.0)
                detail.append(describe(self.baseline))
        try:
            with self.step("backup") as detail:
                self.backup = self._make_backup(work)
                self.report.backup = self._shown_backup()
                detail.append(self.report.backup)
        except _Failed as exc:
            self._end("failed", f"{exc}; nothing was changed")
            return
        except _STOPPED as exc:
            # no file has changed yet: the journal, if it was written, is not needed
            self._record("interrupted", "failed", time.monotonic(), _signal_name(exc))
            self._clear_pending()
            self._end(
                "failed",
                f"apply was stopped by {_signal_name(exc)} while it made the backup;"
                " nothing was changed",
            )
            return
        try:
            self._forward(work)
        except _Failed as exc:
            self._rollback(str(exc))
            return
        except _STOPPED as exc:
            self._record("interrupted", "failed", time.monotonic(), _signal_name(exc))
            self._rollback(f"apply was stopped by {_signal_name(exc)}")
            return
        except Exception as exc:  # whatever broke, the host goes back
            self._record("error", "failed", time.monotonic(), repr(exc))
            self._rollback(f"apply failed unexpectedly ({exc!r})")
            return
        self._clear_pending()
        self._prune()
        self._end("applied", self._applied_message(work))

    def _make_backup(self, work: _Work) -> Backup:
        assert self.loaded is not None and self.state is not None and self.pending_path
        paths = self._touched(work)
        shown = self._backup_shown()
        base = self._backup_base()
        about = {
            "host": self.loaded.config.name,
            "spec": self.o.spec,
            "spec_sha256": self.state.plan.spec_sha256,
            "root": str(self.root),
        }
        try:
            backup = make_backup(
                base,
                {x: self._io(x) for x in sorted(paths)},
                about,
                shown,
                {x: self._file(x) for x in paths},
            )
            pending_at = self._pending_io()
            assert pending_at is not None
            write_pending(
                pending_at,
                Pending(
                    os.getpid(),
                    dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    self.loaded.config.name,
                    str(shown / backup.directory.name),
                    work.rebuild_cf,
                    work.rebuild_access,
                    work.restart,
                    work.submit is not None,
                ),
            )
        except BackupError as exc:
            raise _Failed(str(exc).removesuffix("; nothing was changed")) from None
        except OSError as exc:
            raise _Failed(
                f"cannot record the apply in {self.pending_path}: {exc.strerror}"
            ) from None
        return backup

    def _backup_shown(self) -> Path:
        """The backup directory as the person knows it: --backup-dir, or the default one."""
        return self.o.backup_dir or on_disk(self.root, DEFAULT_BACKUP_DIR)

    def _backup_base(self) -> Path:
        """Where backups go (--backup-dir, or the default one under the root), through
        its directory held open since the lock was taken (made now when missing)."""
        if self.backup_real is None:
            return self._backup_shown()
        try:
            fd = self.backup_dirs.open(self.backup_real, create=True, mode=0o700)
        except DirError as exc:
            raise _Failed(str(exc)) from None
        except OSError as exc:
            raise _Failed(f"cannot make the backup directory: {exc.strerror}") from None
        return PROC_FD / str(fd)

    def _shown_backup(self) -> str:
        """The backup directory as the person knows it (not its /proc/self/fd path)."""
        assert self.backup is not None
        if self.backup_real is None:
            return str(self.backup.directory)
        return str(self._backup_shown() / self.backup.directory.name)

    def _forward(self, work: _Work) -> None:
        assert self.loaded is not None and self.state is not None
        s = self.loaded.config.settings
        with self.step("write") as detail:
            self._write_files(detail)
        self._build(work)
        env = {"TLSC_HOST": self.loaded.config.name, "TLSC_ROOT": str(self.root)}
        if work.restart and work.rebuild_cf and not self.cf_changed and not work.restart_pending:
            self.skip("restart", "sendmail.cf came out the same as before")
        elif not work.restart:
            why = (
                "sendmail.cf did not change"
                if not work.rebuild_cf
                else "commands.restart is null: sendmail keeps its old settings until restarted"
            )
            self.skip("restart", why)
        elif self.o.no_restart:
            self.skip(
                "restart",
                "--no-restart: sendmail.cf changed; the change takes effect when sendmail"
                " next restarts",
            )
        else:
            with self.step("restart") as detail:
                assert s.commands.restart is not None
                self.restart_attempted = True
                self.log = find_log(self.o.mail_log)
                self.log_mark = mark(self.log)
                failed = run_command(s.commands.restart, self.root, env, self.o.command_timeout)
                if failed:
                    raise _Failed(f"the restart command failed: {failed}")
                self.report.restarted = True
                detail.append(s.commands.restart)
        if work.run_after and s.commands.after:
            with self.step("after") as detail:
                failed = run_command(s.commands.after, self.root, env, self.o.command_timeout)
                if failed:
                    raise _Failed(f"commands.after failed: {failed}")
                detail.append(s.commands.after)
        else:
            self.skip("after", "commands.after is not set" if not s.commands.after else "")
        if self.o.no_verify:
            self.skip("verify", "--no-verify")
            return
        with self.step("verify") as detail:
            expect = self._expect()
            if work.rebuild_cf and not self.report.restarted:
                # sendmail still runs its old sendmail.cf: it must answer as it did before
                expect = self._baseline_expectation() or expect
            result, failure = probe_until(
                target_for(self.loaded.config, self.root), expect, self.o.verify_wait
            )
            self.report.verify = result.as_dict()
            if failure is not None:
                before = ""
                if self.baseline is not None and expect.failure(self.baseline) is not None:
                    before = " (it did not before the apply either)"
                hint = ""
                if self.report.restarted:
                    where = "" if self.root == Path("/") else f" --root {self.o.root}"
                    said = tls_lines_since(self.log, self.log_mark)
                    if said:
                        hint = "; sendmail logged after the restart: " + "; ".join(
                            f'"{line}"' for line in said
                        )
                        detail.extend(f"{self.log}: {line}" for line in said)
                    hint += (
                        f" (tlsc doctor {self.o.spec} --host {self.loaded.config.name}{where}"
                        " checks this host's side of STARTTLS)"
                    )
                raise _Failed(f"verify failed: {failure}{before}{hint}")
            self.verified = describe(result)
            detail.append(self.verified)

    def _write_files(self, detail: list[str]) -> None:
        assert self.loaded is not None and self.state is not None
        p = self.loaded.config.settings.paths
        modes = {
            p.sendmail_mc: NEW_FILE_MODES["sendmail_mc"],
            p.starttls_m4: NEW_FILE_MODES["starttls_m4"],
            p.access: NEW_FILE_MODES["access"],
        }
        befores = {f.path: f.before_sha256 for f in self.state.host.files}
        for n, (path, data) in enumerate(sorted(self.state.writes.items())):
            target, at = self._file(path), self._io(path)
            try:
                current = at.read_bytes()
            except FileNotFoundError:
                current = None
            except OSError as exc:
                raise _Failed(f"cannot read {target}: {exc.strerror}") from None
            if (None if current is None else sha256(current)) != befores.get(path):
                raise _Failed(f"{target} changed while apply ran (someone else edits it)")
            try:
                if data is None:
                    remove(at)
                    detail.append(f"deleted {path}")
                else:
                    write_atomic(at, data, modes.get(path, 0o644))
                    detail.append(f"wrote {path}")
            except OSError as exc:
                raise _Failed(f"cannot write {target}: {exc.strerror or exc}") from None
            if n == 0:
                hooks.pause_at("write.partial")

    def _build(self, work: _Work) -> None:
        assert self.loaded is not None
        p = self.loaded.config.settings.paths
        if work.rebuild_cf:
            with self.step("build-cf") as detail:
                rooted = {}
                if self.root.resolve() != Path("/"):
                    rooted = {x: self._io(x) for x in (p.starttls_m4, p.access, p.sendmail_mc)}
                mc, cf = self._io(p.sendmail_mc), self._io(p.sendmail_cf)
                try:
                    assert self.mc_dir_real is not None
                    cwd = self.dirs.path(self.mc_dir_real, create=False)
                    if rooted and cwd is not None:
                        # the host's own includes (Debian's m4/dialup.m4) are the root's too,
                        # read through the .mc's directory held open
                        here = os.path.dirname(p.sendmail_mc)
                        for x in host_includes(mc.read_bytes(), here):
                            rooted.setdefault(x, cwd.parent / os.path.relpath(x, here))
                    self.cf_changed = build_cf(
                        mc,
                        cf,
                        rooted,
                        cwd=None if cwd is None else cwd.parent,
                        fds=self.dirs.fds(),
                        shown=self._file(p.sendmail_mc),
                        sources=(self._io(p.starttls_m4),),
                    )
                except DirError as exc:
                    raise _Failed(str(exc)) from None
                except BuildError as exc:
                    raise _Failed(str(exc)) from None
                except OSError as exc:
                    raise _Failed(f"cannot install {p.sendmail_cf}: {exc.strerror}") from None
                self.report.rebuilt.append(p.sendmail_cf)
                detail.append(f"m4 {p.sendmail_mc} > {p.sendmail_cf}")
                if not self.cf_changed:
                    detail.append("the same bytes as before")
        else:
            self.skip("build-cf", "sendmail.mc and starttls.m4 did not change")
        self._build_submit(work)
        if work.rebuild_access:
            with self.step("build-access") as detail:
                access, db, cf = (self._io(x) for x in (p.access, p.access_db, p.sendmail_cf))
                try:
                    build_access_db(
                        access,
                        db,
                        cf,
                        hooks.pause_at,
                        fds=self.dirs.fds(),
                        shown=(self._file(p.access), self._file(p.access_db)),
                    )
                except BuildError as exc:
                    raise _Failed(str(exc)) from None
                except OSError as exc:
                    raise _Failed(f"cannot install {p.access_db}: {exc.strerror}") from None
                self.report.rebuilt.append(p.access_db)
                detail.append(f"makemap hash {p.access_db} < {p.access}")
        else:
            self.skip("build-access", "the access file did not change")

    def _build_submit(self, work: _Work) -> None:
        """submit.cf from submit.mc, as build-cf builds sendmail.cf (the same m4, checks,
        temp file and rename; backed up and rolled back with the rest). The step is in
        the report only for a host whose submit.mc includes a file tlsc writes."""
        assert self.state is not None
        submit = work.submit
        if submit is None:
            seen = self.state.submit
            if seen is not None and seen.includes:
                edited = [f.path for f in self.state.host.files if f.action != "unchanged"]
                why = "no file submit.mc includes changed"
                if seen.because(edited):
                    why = "m4 alone cannot build it (P113)"
                self.skip("build-submit", why)
            return
        with self.step("build-submit") as detail:
            cf = self._io(submit.cf)
            try:
                assert self.mc_dir_real is not None
                cwd = self.dirs.path(self.mc_dir_real, create=False)
                here = cwd.parent if cwd is not None else self._disk(submit.path).parent
                mc = here / os.path.basename(submit.path)
                with tempfile.TemporaryDirectory(prefix="tlsc-submit-") as copies:
                    source = None
                    if self.root.resolve() != Path("/"):
                        source = self._rooted_submit(submit, mc, here, Path(copies))
                    changed = build_cf(
                        mc,
                        cf,
                        {},
                        cwd=here,
                        fds=self.dirs.fds(),
                        shown=self._disk(submit.path),
                        source=source,
                    )
            except DirError as exc:
                raise _Failed(str(exc)) from None
            except BuildError as exc:
                raise _Failed(str(exc)) from None
            except OSError as exc:
                raise _Failed(f"cannot install {submit.cf}: {exc.strerror}") from None
            self.report.rebuilt.append(submit.cf)
            detail.append(f"m4 {submit.path} > {submit.cf}")
            if not changed:
                detail.append("the same bytes as before")

    def _rooted_submit(self, submit: SubmitMc, mc: Path, here: Path, copies: Path) -> bytes:
        """submit.mc under --root with each include of a file the root holds pointed
        there: a file tlsc writes at the file apply wrote, one of the files in between
        (which include it in turn) at a copy in `copies` pointed so too, a file in
        submit.mc's own directory at the root's (as build-cf does for sendmail.mc)."""
        assert self.loaded is not None
        written = set(managed_paths(self.loaded.config))
        chain = submit.chain()
        top = os.path.dirname(submit.path)
        made: dict[str, str] = {}

        def point(target: str) -> str | None:
            host = os.path.normpath(target if target.startswith("/") else f"{top}/{target}")
            if host in written:
                return str(self._io(host))
            if host in chain:
                if host not in made:
                    made[host] = str(copies / f"{len(made)}-{os.path.basename(host)}")
                    text = self._disk(host).read_bytes()
                    Path(made[host]).write_bytes(point_includes(text, point))
                return made[host]
            if target.startswith("/") and host.startswith(top + "/"):
                return str(here / os.path.relpath(host, top))
            return None

        if "`" in str(copies) or "'" in str(copies):
            raise BuildError(f"cannot build {submit.cf}: the temp directory {copies} has a quote")
        return point_includes(mc.read_bytes(), point)

    # -- rollback -------------------------------------------------------------------

    def _baseline_expectation(self) -> Expectation | None:
        b = self.baseline
        if b is None or b.greeting is None or not b.greeting.startswith("220"):
            return None
        return Expectation(tls=b.handshake_ok)

    def _failed_step(self, name: str, start: float, why: str) -> None:
        self._record(name, "failed", start, why)

    def _rollback(self, failure: str) -> None:
        """Put the host back (see _undo); a rollback stopped by a signal in turn says what
        state the host may be in and leaves the journal for the next apply."""
        try:
            self._undo(failure)
        except _STOPPED as exc:
            name = _signal_name(exc)
            self._record("interrupted", "failed", time.monotonic(), f"the rollback, by {name}")
            self._end(
                "failed",
                f"{failure}, and the rollback was stopped by {name} too, so some files may be"
                " new and some old and sendmail may not run with either; the next tlsc apply"
                f" finishes the interrupted apply (its journal {self.pending_path})",
            )

    def _undo(self, failure: str) -> None:
        assert self.loaded is not None and self.backup is not None and self.pending_path
        s = self.loaded.config.settings
        name = self.loaded.config.name
        backup = self._shown_backup()
        hooks.pause_at("rollback")
        start = time.monotonic()
        try:
            files = {f.path: self._io(f.path) for f in self.backup.files}
            restored = restore(self.backup, files)
        except RestoreError as exc:
            paths = ", ".join(path for path, _ in exc.failed)
            why = exc.failed[0][1]
            self._failed_step("rollback", start, str(exc))
            self._end(
                "failed",
                f"{failure}, and putting back {paths} from {backup} failed ({why}); every"
                " other file is back, so those are new and the rest old; the next tlsc apply"
                " rebuilds and restarts",
            )
            return
        except (BackupError, OSError, _Failed) as exc:
            why = str(exc) if not isinstance(exc, OSError) else (exc.strerror or str(exc))
            self._failed_step("rollback", start, why)
            self._end(
                "failed",
                f"{failure}, and restoring the files from {backup} failed ({why}), so some"
                " files may be new and some old; the next tlsc apply rebuilds and restarts",
            )
            return
        self._record("rollback", "ok", start, f"restored {len(restored)} file(s) from {backup}")
        env = {"TLSC_HOST": name, "TLSC_ROOT": str(self.root)}
        if self.restart_attempted and s.commands.restart:
            hooks.pause_at("rollback-restart")
            start = time.monotonic()
            failed = run_command(s.commands.restart, self.root, env, self.o.command_timeout)
            if failed:
                self._failed_step("rollback-restart", start, failed)
                self._end(
                    "failed",
                    f"{failure}; the files are back from {backup}, but restarting sendmail"
                    f" with them failed too ({failed}), so sendmail may not be running; the"
                    " next tlsc apply restarts it",
                )
                return
            self.report.restarted = True
            self._record("rollback-restart", "ok", start, s.commands.restart)
        else:
            self.skip("rollback-restart", "sendmail was not restarted")
        verified = "not verified: --no-verify"
        expect = self._baseline_expectation()
        if self.o.no_verify:
            self.skip("rollback-verify", "--no-verify")
        elif expect is None:
            verified = "sendmail did not answer before the apply either"
            self.skip("rollback-verify", verified)
        else:
            hooks.pause_at("rollback-verify")
            start = time.monotonic()
            target = target_for(self.loaded.config, self.root)
            result, problem = probe_until(target, expect, self.o.verify_wait)
            self.report.verify = result.as_dict()
            if problem is not None:
                self._failed_step("rollback-verify", start, problem)
                self._end(
                    "failed",
                    f"{failure}; the files are back from {backup}, but sendmail does not"
                    f" answer as it did before the apply ({problem})",
                )
                return
            verified = f"verified: {describe(result)}"
            self._record("rollback-verify", "ok", start, describe(result))
        self._clear_pending()
        self._end(
            "rolled-back",
            f"{failure}; every file is restored from {backup} and {name} is back where it"
            f" was ({verified})",
        )

    # -- endings --------------------------------------------------------------------

    def _clear_pending(self) -> None:
        try:
            at = self._pending_io()
        except _Failed:
            return  # its directory is not what it was: the next apply redoes the work
        if at is not None:
            clear_pending(at)

    def _prune(self) -> None:
        with contextlib.suppress(_Failed):  # old backups stay; the next apply prunes them
            made = self.backup.directory.name if self.backup is not None else None
            prune(self._backup_base(), self.o.keep_backups, made)

    def _applied_message(self, work: _Work) -> str:
        assert self.loaded is not None and self.state is not None
        name = self.loaded.config.name
        done = []
        if work.pending is not None:
            p = work.pending
            done.append(
                f"finished the apply started {p.started} (pid {p.pid}) that was interrupted"
                f" (its backup: {p.backup})"
                if p.pid
                else "finished an interrupted apply (its journal was damaged)"
            )
        n = len(self.state.writes)
        if n:
            done.append(f"wrote {n} file{'s' if n != 1 else ''}")
        if self.report.rebuilt:
            names = [os.path.basename(x) for x in self.report.rebuilt]
            listed = (
                ", ".join(names[:-1]) + " and " + names[-1]
                if len(names) > 2
                else " and ".join(names)
            )
            done.append("rebuilt " + listed)
        if self.report.restarted:
            done.append("restarted sendmail")
        elif work.rebuild_cf and not self.cf_changed and not work.restart_pending:
            done.append("did not restart sendmail, as sendmail.cf came out the same")
        elif work.rebuild_cf or work.restart_pending:
            done.append(
                "did not restart sendmail, so the new sendmail.cf takes effect at its next restart"
            )
        if self.verified:
            done.append(f"verified: {self.verified}")
        return f"Applied {self.o.spec} to {name}: " + ", ".join(done)


def run_apply(options: ApplyOptions, stops: _Stops | None = None) -> ApplyReport:
    """Run one apply with `options` (`stops`: see Apply.run)."""
    return Apply(options).run(stops)
