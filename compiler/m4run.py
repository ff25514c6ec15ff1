"""Running GNU m4 on files tlsc reads but did not write (`lint --deep`, `import`).

Such a `.mc` is input, not code: `esyscmd(`touch /x')` before its cf.m4
include, or `syscmd(...)` after it, would otherwise run as whoever runs
tlsc, often root. So m4 reads a prefix file first, before any input, that
undefines every builtin that runs a command or makes a file (`syscmd`,
`esyscmd`, `maketemp`, `mkstemp`), `debugfile` (it writes m4's trace into
any file) and `builtin` (it calls the others by name even when undefined).
sendmail-cf uses `maketemp` and `syscmd` only without `_NO_MAKEINFO_`
(cfhead.m4's build-host comment), and tlsc always builds with
`-D_NO_MAKEINFO_`, so the real cf builds the same, byte for byte.

m4 also runs with limits: CPU time (an endless macro recursion such as
``define(`r', `r()')r()`` never grows the nesting depth, so only time ends
it), memory (RLIMIT_AS), a nesting limit and a wall-clock timeout, each
ending in one sentence.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: undefines what runs a command, makes a file or calls builtins by name; no output
SAFE_PREFIX = (
    "".join(
        f"undefine(`{name}')"
        for name in ("syscmd", "esyscmd", "maketemp", "mkstemp", "debugfile", "builtin")
    )
    + "dnl\n"
)
PREFIX_NAME = "tlsc-safe-prefix.m4"
CPU_SECONDS = 4
MEMORY_BYTES = 1 << 30
NESTING_LIMIT = 1024


class M4Stopped(Exception):
    """m4 was stopped by a limit; the message is one sentence."""


def write_prefix(directory: Path) -> Path:
    """The prefix file in `directory` (a private temp directory)."""
    path = directory / PREFIX_NAME
    path.write_text(SAFE_PREFIX, encoding="ascii")
    return path


def m4_argv(prefix: Path) -> list[str]:
    """m4 with sendmail's reproducible-build define, the nesting limit and the prefix."""
    return ["m4", "-D_NO_MAKEINFO_", f"--nesting-limit={NESTING_LIMIT}", str(prefix)]


def limits() -> None:  # pragma: no cover - runs in the child
    """CPU time, memory and core limits of an m4 child (a preexec_fn)."""
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


#: the signals that stop a command: apply turns each into an exception (a rollback)
_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_held(
    argv: list[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    preexec_fn: Callable[[], None] | None = None,
    **popen: Any,
) -> subprocess.CompletedProcess[bytes]:
    """subprocess.run, with SIGINT, SIGTERM and SIGHUP held off while the child is
    forked. Python runs its at-fork hooks (logging's) around a fork with a preexec_fn,
    and a signal handler that raises there (apply's: a stop is a rollback) is printed
    and dropped, so apply went on. Held, the signal comes right after the fork, where
    it stops the command like anywhere else, and the child is killed; in the child it
    is let through again before `preexec_fn`."""

    def child() -> None:  # pragma: no cover - runs in the child
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
        if preexec_fn is not None:
            preexec_fn()

    if input is not None:
        popen["stdin"] = subprocess.PIPE
    proc: subprocess.Popen[bytes] | None = None
    try:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
        try:
            proc = subprocess.Popen(argv, preexec_fn=child, **popen)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    except BaseException:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def run_m4(
    argv: list[str], cwd: str | Path, stdin: bytes | None, timeout: float
) -> subprocess.CompletedProcess[bytes]:
    """Run m4 under the limits; M4Stopped (one sentence) when a limit ends it."""
    cpu_before = children_cpu()
    try:
        proc = run_held(
            argv,
            input=stdin,
            **({} if stdin is not None else {"stdin": subprocess.DEVNULL}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, "LC_ALL": "C"},
            timeout=timeout,
            preexec_fn=limits,
        )
    except subprocess.TimeoutExpired:
        raise M4Stopped(f"m4 did not finish within {timeout:g} s and was stopped") from None
    if stopped_by_limit(proc.returncode, children_cpu() - cpu_before):
        raise M4Stopped(CPU_SENTENCE)
    return proc


CPU_SENTENCE = (
    f"m4 was stopped after {CPU_SECONDS} s of CPU time: the file never finishes"
    " expanding (an endless macro recursion?)"
)


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended (m4's, taken before and
    after its run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stopped_by_limit(returncode: int, cpu_seconds: float) -> bool:
    """True when m4 was killed for its CPU time (SIGXCPU, then SIGKILL at the hard limit).
    `cpu_seconds`: what the child used; a SIGKILL before the limit was someone
    else's (the OOM killer, an admin), not the limit's."""
    if returncode == -signal.SIGXCPU:
        return True
    return returncode == -signal.SIGKILL and cpu_seconds >= CPU_SECONDS
