"""Reading log files: `-` for stdin, gzip by its magic bytes (not only `.gz`), bounded lines."""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import IO, Any, BinaryIO, cast

from compiler.logs.syslog import YearGuess

#: a longer line is skipped (sendmail's own lines stay under a few KiB)
MAX_LINE = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class ReadStats:
    """What reading saw: lines read (the caller counts), lines skipped as too long.

    `unreadable` (the caller's to count) is too_long plus the STARTTLS-looking
    lines that could not be read (cut off, continuation lines).
    """

    lines: int = 0
    too_long: int = 0
    unreadable: int = 0


class InputError(Exception):
    """An input that cannot be read (whole or in part); the message is one sentence."""


def _name(path: str) -> str:
    return "standard input" if path == "-" else path


def chronological(files: Sequence[str]) -> tuple[str, ...]:
    """`files` oldest first, by modification time (logrotate and gzip keep it), for
    what counts in time order: the summary's span and each peer's last problem, the
    sessions of the what-if and of TLS-RPT. `mail.log*` comes newest first. Files of
    the same time, and any list with standard input or a file that cannot be
    stat'ed (its read says why), keep the order given."""
    times = []
    for path in files:
        if path == "-":
            return tuple(files)
        try:
            times.append(os.stat(path).st_mtime_ns)
        except (OSError, ValueError):
            return tuple(files)
    order = sorted(range(len(files)), key=times.__getitem__)
    return tuple(files[i] for i in order)


@contextmanager
def open_input(path: str) -> Iterator[tuple[BinaryIO, date]]:
    """The byte stream of `path` (`-`: stdin), gunzipped when it is gzip, and its date.

    The date (the file's modification time) anchors the year of classic syslog stamps.
    """
    try:
        raw: BinaryIO = sys.stdin.buffer if path == "-" else _open_log(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"{path}: cannot be read: {reason.lower()}") from None
    try:
        try:
            modified = date.fromtimestamp(os.fstat(raw.fileno()).st_mtime)
        except (OSError, ValueError, OverflowError, io.UnsupportedOperation):
            modified = date.today()  # no stat, or a time no date holds (past year 9999)
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]
        try:
            head = buffered.peek(2)[:2]
        except OSError as exc:
            raise InputError(f"{_name(path)}: cannot be read: {exc.strerror or exc}") from None
        if head == _GZIP_MAGIC:
            yield gunzipped(buffered), modified  # type: ignore[misc]
        else:
            yield buffered, modified
    finally:
        if path != "-":
            raw.close()


def _open_log(path: str) -> BinaryIO:
    """`path` opened to read: a regular file or a pipe; anything else is an InputError.

    A device (`/dev/zero`, read for ever) or a directory is refused before it is
    opened, and again once open (it could have been swapped in between). A pipe
    (`<(zcat mail.log.gz)`, a FIFO a program writes to) is read as it comes; a
    FIFO's open waits for its writer, as any reader of one does (`cat p`).
    """
    _refuse_unless_log(path, os.stat(path).st_mode)
    raw = open(path, "rb")  # noqa: SIM115  (closed by open_input)
    try:
        _refuse_unless_log(path, os.fstat(raw.fileno()).st_mode)
    except BaseException:
        raw.close()
        raise
    return raw


def _refuse_unless_log(path: str, mode: int) -> None:
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        from compiler.fileio import kind_of

        raise InputError(f"{path}: cannot be read: it is {kind_of(mode)}, not a file or a pipe")


def gunzipped(stream: BinaryIO) -> IO[bytes]:
    """The unpacked bytes of a gzip stream: with ISA-L (python-isal) when it is installed,
    2.5 to 3 times as fast as zlib, its errors made zlib's; else with the gzip module."""
    global _isal_gzip
    if _isal_gzip is None:
        try:
            _isal_gzip = _isal_class()
        except ImportError:
            _isal_gzip = gzip.GzipFile
    return _isal_gzip(fileobj=stream, mode="rb")  # type: ignore[no-any-return]


_isal_gzip: Any = None


def _isal_class() -> Any:
    from isal import igzip, isal_zlib

    error = cast("type[Exception]", isal_zlib.error)  # its stubs call the class an instance

    class Inflated(igzip.IGzipFile):
        """ISA-L's gzip reader; a damaged stream raises zlib.error, as gzip's does."""

        def read(self, size: int | None = -1) -> bytes:
            try:
                return super().read(size)
            except error as exc:
                raise zlib.error(str(exc)) from None

        def readline(self, size: int | None = -1) -> bytes:
            try:
                line: bytes = super().readline(size)  # type: ignore[no-untyped-call]
                return line
            except error as exc:
                raise zlib.error(str(exc)) from None

    return Inflated


def read_lines(stream: BinaryIO, path: str, stats: ReadStats) -> Iterator[bytes]:
    """The lines of `stream` without their line ends; a line over MAX_LINE bytes is skipped.

    `stats.too_long` counts them (`stats.lines` is the caller's to count).

    Raises InputError when the stream breaks off (a damaged or truncated gzip file,
    an I/O error); the lines before the break have been given.
    """
    readline = stream.readline
    limit = MAX_LINE + 1
    try:
        while True:
            line = readline(limit)
            if not line:
                return
            if line[-1:] == b"\n":
                yield line[:-2] if line[-2:-1] == b"\r" else line[:-1]
                continue
            if len(line) < limit:  # the last line, without a newline
                yield line
                return
            while line and line[-1:] != b"\n":  # too long: skip to its end
                line = readline(limit)
            stats.too_long += 1
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, path) from None


def read_error(exc: OSError | EOFError | zlib.error, path: str) -> InputError:
    """The one sentence for a stream that broke off: damaged or truncated gzip, an I/O error."""
    what = "not a valid gzip file" if isinstance(exc, gzip.BadGzipFile) else None
    if isinstance(exc, EOFError):
        what = "the gzip data ends early (truncated file)"
    elif isinstance(exc, zlib.error):
        what = "the gzip data is damaged"
    reason = what or (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
    return InputError(f"{_name(path)}: {reason}")


def log_lines(
    files: Sequence[str], year: int | None, stats: ReadStats, problems: list[str]
) -> Iterator[tuple[bytes, YearGuess]]:
    """Every line of `files`, in the order given, with the year guess of its file.

    A file that cannot be read, whole or from some point on, adds one sentence to
    `problems`; the lines before the break have been given, and the other files are
    still read. Lines over MAX_LINE are counted in `stats.too_long`, not given.
    A `year` is that of each file's first classic stamp (YearGuess.start).
    """
    for path in files:
        try:
            with open_input(path) as (stream, modified):
                years = YearGuess(modified, year)
                for raw in read_lines(stream, path, stats):
                    if year is not None and years.start is None:
                        years.note_start(raw)
                    yield raw, years
        except InputError as exc:
            problems.append(str(exc))
