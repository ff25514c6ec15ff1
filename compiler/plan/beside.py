"""Half of a plan's hosts compared in a second process, beside the first.

Comparing a host's files with the spec's (`tlsc plan --state` of a cluster)
is pure Python, one host after the other, on one core; on a machine with two
or more, `hosts` lets a forked copy of the process compare the first half of
them while it compares the second. The copy holds the validated spec already
(the pages are shared, copy-on-write: nothing is sent to it), and sends back
its hosts' plans, pickled, through a pipe.

Nothing here changes a plan. The copy only helps: when none can be had (no
fork, one core, a cluster too small to gain by it), or it fails in any way —
an error planning a host, a signal, a broken pipe — its hosts are planned
here, in order, so a plan and every error are exactly the ones planning each
host in turn gives (an error of an earlier host first). The copy never
outlives the call: it leaves with os._exit (no atexit handler, no buffered
output of this process written twice), and is killed and reaped if this
process stops early (^C).
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")

#: the least access entries to compare (over the hosts) for which a second process is
#: worth its cost (a fork, and the pages copied as both write to them: a few ms)
BESIDE_FROM = 200_000


def cores() -> int:
    """The processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def hosts(
    names: Sequence[str],
    plan: Callable[[str, A], T],
    given: Callable[[str], A],
    none_given: A,
    size: int,
) -> list[T]:
    """[plan(name, given(name)) for name in names], the first half of them planned in
    a second process when `size` (the access entries to compare) makes it worth it.

    `given(name)` is called here, in the order of `names` (it takes the files read
    ahead, plan/prefetch.py); a host planned here again after the copy failed gets
    `none_given` (its files are read again).
    """
    if len(names) < 2 or size < BESIDE_FROM or cores() < 2 or not hasattr(os, "fork"):
        return [plan(name, given(name)) for name in names]
    half = len(names) // 2
    first, second = names[:half], names[half:]
    handed = [(name, given(name)) for name in first]
    child = _Child.start(lambda: [plan(name, got) for name, got in handed])
    handed.clear()  # the copy has its own; here they are not needed again
    if child is None:
        return [plan(name, none_given) for name in first] + [
            plan(name, given(name)) for name in second
        ]
    try:
        mine = [plan(name, given(name)) for name in second]
    except Exception:
        # an earlier host's error comes first: the copy's hosts are planned here when
        # it failed too (the first error among them is raised), else this error is
        theirs = child.result()
        if theirs is None:
            [plan(name, none_given) for name in first]
        raise
    except BaseException:
        child.kill()
        raise
    theirs = child.result()
    if theirs is None:
        theirs = [plan(name, none_given) for name in first]
    return theirs + mine


class _Child:
    """A forked copy of this process computing one value."""

    def __init__(self, pid: int, fd: int):
        self.pid, self.fd = pid, fd

    @classmethod
    def start(cls, work: Callable[[], Any]) -> _Child | None:
        """Fork a copy that computes work() and writes it, pickled, to a pipe; None when
        no copy can be had."""
        import pickle  # imported when used, not on every cold start
        import signal

        try:
            r, w = os.pipe()
        except OSError:
            return None
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return None
        if pid == 0:  # the copy: it never returns
            status = 1
            try:
                os.close(r)
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # ^C ends it, unreported
                gc.disable()  # a collection would touch, so copy, every page it scans
                data = pickle.dumps(work(), pickle.HIGHEST_PROTOCOL)
                with open(w, "wb") as out:
                    out.write(data)
                status = 0
            except BaseException:  # whatever it is, the parent plans these hosts itself
                pass
            finally:
                os._exit(status)
        os.close(w)
        return cls(pid, r)

    def result(self) -> Any | None:
        """The copy's value; None when it failed in any way."""
        import pickle

        try:
            with open(self.fd, "rb") as got:
                data = got.read()
        except OSError:
            data = b""
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return None
        if status != 0 or not data:
            return None
        try:
            return pickle.loads(data)
        except Exception:
            return None

    def kill(self) -> None:
        """Stop the copy and reap it."""
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.fd)
