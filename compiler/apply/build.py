"""Rebuilding sendmail.cf and access.db with sendmail's own tools, never half-done.

tlsc runs m4 and makemap itself rather than `make -C /etc/mail`: m4 exits 0
on many errors and Debian's Makefile installs a truncated sendmail.cf when
it fails. So any m4 output on stderr is a failure, and each build goes to a
temp file beside its target that is renamed over it only when it is whole.
A map lookup during an apply therefore always meets a whole access.db.

Under --root DIR the .mc's include of a managed file (starttls.m4), or of
any file in the .mc's own directory (Debian's /etc/mail/m4/dialup.m4), is
read from below DIR, through its directory held open (/proc/self/fd/N/NAME,
see compiler.apply.dirfd: no quote or back-tick of DIR's name reaches m4);
cf.m4 and the rest of sendmail-cf are tools, taken from this machine like
m4 and makemap themselves.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from compiler.apply.atomic import existing_meta, finish, temp_path
from compiler.apply.confine import confined, readable
from compiler.lint.lexer import lex
from compiler.m4run import CPU_SENTENCE, children_cpu, limits, run_held, stopped_by_limit
from compiler.sendmail.m4text import widen_guard

TOOL_TIMEOUT = 300
#: an include line as tlsc writes it: include(`PATH')dnl
_INCLUDE = re.compile(rb"^include\(`([^`']*)'\)dnl$", re.MULTILINE)
#: sendmail.cf as Debian installs it (Makefile: chmod 0644)
CF_MODE = 0o644


#: prctl(2)'s option: the signal a child gets when the thread that forked it dies
_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def dies_with_apply(then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A preexec_fn for the tools apply runs itself (m4, makemap): the tool is killed
    when apply dies, however it dies (kill -9 included), so it never writes its temp
    file beside a managed one, or renames a map, after the lock is free and the next
    apply works there. (The restart and after commands are the host's, and are left to
    finish.) `then` runs next in the child (m4's limits)."""
    parent = os.getpid()

    def preexec() -> None:  # pragma: no cover - runs in the child
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:  # apply died before the line above
                os._exit(1)
        if then is not None:
            then()

    return preexec


class BuildError(Exception):
    """A build failed; the message is one sentence, with the tool's first complaint."""


def _first_line(text: bytes) -> str:
    for line in text.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _ended(returncode: int) -> str:
    """How a tool ended: `exit 1`, or `killed by SIGKILL` (a negative return code)."""
    if returncode >= 0:
        return f"exit {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


def _env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}


def rooted_includes(mc: bytes, rooted: Mapping[str, Path]) -> bytes:
    """The .mc with each include of a host path in `rooted` pointed at where it is here."""

    pointed: list[str] = []

    def point(match: re.Match[bytes]) -> bytes:
        path = match.group(1).decode("utf-8", "surrogateescape")
        if path not in rooted:
            return match.group(0)
        pointed.append(os.path.dirname(str(rooted[path])) + "/")
        return b"include(`" + os.fsencode(rooted[path]) + b"')dnl"

    out = _INCLUDE.sub(point, mc)
    if not pointed:
        return out
    # the include guard of a tlsc .mc reads only the managed directories: allow the copies'
    text = widen_guard(out.decode("utf-8", "surrogateescape"), sorted(set(pointed)))
    return text.encode("utf-8", "surrogateescape")


def point_includes(text: bytes, point: Callable[[str], str | None]) -> bytes:
    """`text` with the argument of each include and sinclude m4 runs (any form: indented,
    in an ifdef branch) that `point` maps replaced by the path it gives: a host's own
    .m4 file (submit.mc), whose includes are not all in the form tlsc writes."""
    decoded = text.decode("utf-8", "surrogateescape")
    doc = lex(decoded, "submit.mc", "mc")
    out = decoded
    for call, target in sorted(doc.includes(), key=lambda ct: -ct[0].start):
        new = point(target)
        if new is not None:
            arg = call.args[0]
            out = out[: arg.start] + f"`{new}'" + out[arg.end :]
    return out.encode("utf-8", "surrogateescape")


def host_includes(mc: bytes, host_dir: str) -> list[str]:
    """The host paths of the .mc's includes of files below `host_dir` (its own directory)."""
    prefix = host_dir.rstrip("/") + "/"
    paths = (m.group(1).decode("utf-8", "surrogateescape") for m in _INCLUDE.finditer(mc))
    return [path for path in paths if path.startswith(prefix)]


def build_cf(
    mc: Path,
    cf: Path,
    rooted: Mapping[str, Path],
    cwd: Path | None = None,
    fds: Sequence[int] = (),
    shown: Path | None = None,
    source: bytes | None = None,
    sources: Sequence[Path] = (),
) -> bool:
    """m4 `mc` into a temp .cf beside `cf`, then rename it into place.

    The .cf is not older than `mc` and `sources` (the files the staleness check
    compares it with) even when one is dated in the future (_future_mtime).

    `rooted` maps host paths the .mc may include to where they are on this
    machine (empty when the root is /). m4 runs in `cwd` (default: the .mc's
    directory; for a .mc that is a symbolic link, the link's, as `make -C
    /etc/mail` would). `cf` is the file itself (the end of a symbolic link
    sendmail reads it through). The .cf keeps the owner, group and
    mode of the one it replaces; a new one is 0644. Returns whether the
    installed .cf differs from the one it replaced (a change of comments in
    the .mc gives the same .cf, and then sendmail need not restart).

    `fds` are passed to m4 (the directories /proc/self/fd paths in `rooted`
    and `cwd` name); `shown` is the .mc's name in messages. `source` is the text m4
    reads instead of the .mc's own (submit.mc under --root, its includes pointed).
    """
    shown = shown or mc
    try:
        source = mc.read_bytes() if source is None else source
    except OSError as exc:
        raise BuildError(f"cannot read {shown}: {exc.strerror}") from None
    text = rooted_includes(source, rooted) if rooted else source
    temp = temp_path(cf)
    temp.unlink(missing_ok=True)
    cpu_before = children_cpu()
    where = str(cwd or mc.parent)
    # m4 may read only what the .mc includes (compiler/apply/confine.py), and spills
    # large diversions into a directory of its own
    _clear_old_scratch()
    scratch = tempfile.mkdtemp(prefix=_SCRATCH)
    env = {**_env(), "TMPDIR": scratch}
    m4 = shutil.which("m4", path=env.get("PATH")) or "m4"  # found before it is confined
    confine = confined([m4, *readable(text, os.path.abspath(where), scratch)])

    def child() -> None:  # pragma: no cover - runs in the child
        limits()  # an endless recursion in mc.extra ends in seconds
        confine()

    try:
        with open(temp, "xb") as out:
            proc = run_held(
                [m4, "-D_NO_MAKEINFO_", "-"],
                input=text,
                stdout=out,
                stderr=subprocess.PIPE,
                cwd=where,
                env=env,
                timeout=TOOL_TIMEOUT,
                pass_fds=tuple(fds),
                preexec_fn=dies_with_apply(child),
            )
        if stopped_by_limit(proc.returncode, children_cpu() - cpu_before):
            raise BuildError(f"cannot build {cf.name} from {shown}: {CPU_SENTENCE}")
        if proc.returncode != 0 or proc.stderr:
            said = _first_line(proc.stderr) or "no message"
            # m4 read the .mc on stdin and its includes through /proc/self/fd paths: named
            # as the .mc names them
            said = said.replace("m4:stdin:", f"{shown}:", 1)
            for host, here in rooted.items():
                said = said.replace(str(here), host)
            raise BuildError(
                f"m4 could not build {cf.name} from {shown} ({_ended(proc.returncode)}): {said}"
            )
        try:
            changed = temp.read_bytes() != cf.read_bytes()
        except FileNotFoundError:
            changed = True
        finish(temp, cf, existing_meta(cf), CF_MODE, _future_mtime(mc, *sources))
        return changed
    except FileNotFoundError as exc:
        raise BuildError(f"cannot run m4: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"m4 did not finish within {TOOL_TIMEOUT} s") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _future_mtime(*sources: Path) -> int | None:
    """The newest modification time of `sources` (ns) when it is in the future (a clock
    stepped back, files copied from a host whose clock ran ahead), for the file built
    from them: else it would stay older than its sources, and every apply rebuild it
    (and back up, and plan a change) until the clock caught up. None otherwise: the
    build keeps the time it was written."""
    newest = 0
    for path in sources:
        try:
            newest = max(newest, os.stat(path).st_mtime_ns)
        except (OSError, ValueError):
            continue
    return newest if newest > time.time_ns() else None


#: the prefix of m4's private TMPDIR (below the system's), and the age at which one is
#: no build's in progress any more: an apply killed (-9) while m4 ran left it
_SCRATCH = "tlsc-m4-"
_SCRATCH_AGE = 3600


def _clear_old_scratch() -> None:
    """Remove the empty m4 TMPDIRs of builds killed an hour ago or more."""
    base = Path(tempfile.gettempdir())
    now = time.time()
    with contextlib.suppress(OSError):
        for old in base.glob(f"{_SCRATCH}*"):
            with contextlib.suppress(OSError):
                st = old.lstat()
                ours = stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
                if ours and now - st.st_mtime > _SCRATCH_AGE:
                    old.rmdir()  # only an empty one: m4 writes nothing there


def db_temp(db: Path) -> tuple[Path, Path]:
    """(the map name makemap is given, the file it writes) for a temp build of `db`."""
    stem = temp_path(db)
    return stem, Path(f"{stem}.db")


def world_writable_dir(db: Path) -> Path | None:
    """The topmost existing world-writable directory above `db`, None when there is none.

    makemap (sendmail's safefile check, sticky bit or not) warns about each such
    directory above the map it writes, and tlsc takes any makemap message as a failure.
    """
    for parent in reversed(Path(os.path.abspath(db)).parents):
        try:
            mode = parent.stat().st_mode
        except OSError:
            break
        if mode & 0o002:
            return parent
    return None


def world_writable_refusal(db: Path, directory: Path) -> str:
    """The sentence for a map makemap will not build quietly below `directory`."""
    return (
        f"cannot build {db}: makemap warns about a map below the world-writable directory"
        f" {directory} (sendmail's safety check against map tampering, sticky bit or not)"
        " and tlsc installs no map makemap complains about; stage under a directory that"
        " is not world-writable, e.g. ~/.cache/tlsc"
    )


def build_access_db(
    access: Path,
    db: Path,
    cf: Path | None,
    pause: Callable[[str], None] | None = None,
    fds: Sequence[int] = (),
    shown: tuple[Path, Path] | None = None,
) -> None:
    """makemap hash `access` into a temp db beside `db`, then rename it into place.

    `db` is the file itself: when the path sendmail.cf names is a symbolic
    link, its end, so sendmail opening the link finds the new map.

    Run as root, makemap makes the db 0640 and owned by sendmail.cf's
    TrustedUser (`cf` is passed with -C when it exists, else an empty one); an existing db's
    owner, group and mode are kept. Any non-zero exit or message fails.

    `fds` are passed to makemap (for /proc/self/fd paths); `shown` names
    (access, db) in messages and in the world-writable check.
    """
    shown_access, shown_db = shown or (access, db)
    stem, built = db_temp(db)
    built.unlink(missing_ok=True)
    # without -C makemap reads /etc/mail/sendmail.cf of the machine running it, and
    # fails when there is none: a root with no sendmail.cf yet gets an empty one
    argv = ["makemap", "-C", str(cf) if cf is not None and cf.exists() else os.devnull]
    argv += ["hash", str(stem)]
    try:
        with access.open("rb") as src:
            proc = run_held(
                argv,
                stdin=src,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=_env(),
                timeout=TOOL_TIMEOUT,
                pass_fds=tuple(fds),
                preexec_fn=dies_with_apply(),
            )
        unsafe = world_writable_dir(shown_db)
        if unsafe is not None and b"World writable directory" in proc.stdout:
            raise BuildError(world_writable_refusal(shown_db, unsafe))
        if proc.returncode != 0 or proc.stdout.strip():
            said = _first_line(proc.stdout).replace(str(stem), str(shown_access)) or "no message"
            raise BuildError(
                f"makemap could not build {db.name} from {shown_access}"
                f" ({_ended(proc.returncode)}): {said}"
            )
        if not built.is_file():
            raise BuildError(f"makemap exited 0 but wrote no {built}")
        if pause is not None:
            pause("build-access.built")
        finish(built, db, existing_meta(db), 0o640, _future_mtime(access))
    except FileNotFoundError as exc:
        raise BuildError(f"cannot run makemap: {exc.strerror} ({exc.filename})") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"makemap did not finish within {TOOL_TIMEOUT} s") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            built.unlink()
        with contextlib.suppress(FileNotFoundError):
            stem.unlink()


def run_command(command: str, cwd: Path, env: Mapping[str, str], timeout: float) -> str | None:
    """Run a spec command with /bin/sh; None on success, else one sentence why not.

    Its output goes to a temp file, not a pipe: a restart command whose daemon
    keeps the inherited descriptor open would otherwise never seem to end.

    A signal that stops apply while the command runs (the exception its handler
    raises) is raised again only once the command has ended, within its timeout:
    killing the shell would leave what it started running on (an init script's
    restart halfway, sendmail stopped) while the rollback starts the command again,
    two restarts at once.
    """
    with tempfile.TemporaryFile() as out:
        deadline = time.monotonic() + timeout
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                cwd=cwd,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            return f"cannot run '{command}': {exc.strerror}"
        try:
            returncode = _wait(proc, deadline)
        except BaseException:
            with contextlib.suppress(subprocess.TimeoutExpired):
                _wait_through_signals(proc, deadline)
            _reap(proc)
            raise
        if returncode is None:
            _reap(proc)
            return f"'{command}' did not finish within {timeout:g} s"
        if returncode == 0:
            return None
        out.seek(0)
        lines = [x for x in out.read().decode("utf-8", "replace").splitlines() if x.strip()]
    said = f": {lines[-1].strip()}" if lines else ""
    return f"'{command}' exited {returncode}{said}"


def _wait(proc: subprocess.Popen[bytes], deadline: float) -> int | None:
    """The command's exit status, or None when it is still running at `deadline`."""
    try:
        return proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None


def _wait_through_signals(proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Wait for the command until `deadline`, a second signal meanwhile waited through
    too (the first one is already being handled)."""
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return
        except BaseException:  # another ^C or SIGTERM: the first one is being handled
            continue


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill the shell if it still runs (past its timeout) and collect it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
