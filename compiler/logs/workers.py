"""Reading `tlsc logs`' inputs: files in order as one stream of pieces, read by processes.

The inputs (files in the order given, `-` for stdin, gzip unpacked) are cut
into pieces of about CHUNK bytes at line ends. When there is more than one
piece and more than one CPU, worker processes (os.fork) read the pieces in
turn, each with the last 2 x WINDOW + 2 lines before it and the first
WINDOW + 1 lines after it (compiler/logs/scan.py says why that is exact);
this process unpacks gzip, cuts, and writes the workers' JSON in order. A
worker reads a piece of a plain file itself (pread); a piece of a stream
comes through its pipe. Each worker keeps one tally for all its pieces,
merged at the end. Memory stays the same whatever the size of the input.
"""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import os
import pickle
import stat
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from compiler.gcpause import gc_paused
from compiler.logs.scan import WINDOW, Fragments, Scanner, Tally
from compiler.logs.source import MAX_LINE, InputError, ReadStats, open_input, read_error
from compiler.logs.syslog import YearGuess, first_classic


@dataclass(slots=True)
class ScanResult:
    """What a read gave: counts, one sentence per input that could not be read, the tally."""

    stats: ReadStats
    problems: list[str]
    tally: Tally


def scan_files(
    files: tuple[str, ...],
    mode: str,
    out: IO[bytes] | None,
    within: Callable[[str | None], bool] | None = None,
    year: int | None = None,
    workers: int | None = None,
    window: int = WINDOW,
    meanwhile: Callable[[], object] | None = None,
) -> ScanResult:
    """Read `files` in order as one stream: JSON Lines to `out` (mode "json") or a tally.

    Input of more than one CHUNK is read by `workers` processes (default: one
    per CPU this process may use), this one unpacking and cutting it.
    `meanwhile` is called once, while the workers read (or after the read,
    when there are none): what this process would else do after it, such as
    importing what prints the result.
    """
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    problems: list[str] = []
    pieces = _pieces(files, year, problems, window, workers)
    first: list[_Piece] = []
    big = workers > 1 and _expected_size(files) > CHUNK
    if workers > 1 and not big:
        size = 0  # small or unknown (stdin): read one piece past CHUNK before forking
        for piece in pieces:
            first.append(piece)
            size += piece.size
            if size > CHUNK:
                big = True
                break
    if big:
        pool = _Pool(mode, out, within, window, workers)
        try:
            pool.run(itertools.chain(_drain(first), pieces), meanwhile)
        finally:
            pool.close()
        return ScanResult(pool.stats(), problems, pool.tally)
    scanner = Scanner(mode, out if mode == "json" else None, within, window)
    with gc_paused():
        for piece in itertools.chain(_drain(first), pieces):
            scanner.set_years(piece.years)
            scanner.block(piece.data if piece.data is not None else _read_range(piece))
        scanner.finish()
    if meanwhile is not None:
        meanwhile()
    stats = ReadStats(scanner.lines, scanner.too_long, scanner.too_long + scanner.unreadable)
    return ScanResult(stats, problems, scanner.tally)


def _read_range(piece: _Piece) -> bytes:
    assert piece.path is not None
    fd = os.open(piece.path, os.O_RDONLY)
    try:
        return os.pread(fd, piece.end - piece.start, piece.start)
    finally:
        os.close(fd)


def _expected_size(files: tuple[str, ...]) -> int:
    """About how many bytes `files` hold unpacked (gzip counts five times; stdin nothing)."""
    total = 0
    for path in files:
        try:
            size = os.stat(path).st_size if path != "-" else 0
        except OSError:
            continue
        total += size * 5 if path.endswith(".gz") else size
    return total


def _drain(pieces: list[_Piece]) -> Iterator[_Piece]:
    """The pieces of a list, each forgotten once given."""
    while pieces:
        yield pieces.pop(0)


def _blocks(stream: BinaryIO, path: str, size: int) -> Iterator[bytes]:
    """Blocks of whole lines, of about `size`; a longer line is given as a too-long stand-in."""
    carry = b""
    skipping = False
    read = stream.read
    try:
        while True:
            chunk = read(size)
            if not chunk:
                if carry and not skipping:
                    yield carry
                return
            if skipping:
                j = chunk.find(b"\n")
                if j < 0:
                    continue
                skipping = False
                chunk = chunk[j + 1 :]
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > 2 * size:  # one line longer than two blocks: too long
                    yield b"x" * (MAX_LINE + 1) + b"\n"
                    skipping, carry = True, b""
                else:
                    carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut + 1 :]
    except (OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, path) from None


def _head_lines(block: bytes, n: int) -> bytes:
    """The first `n` lines of `block`."""
    pos = 0
    find = block.find
    for _ in range(max(n, 0)):
        j = find(b"\n", pos)
        if j < 0:
            return block
        pos = j + 1
    return block[:pos]


def _tail_lines(data: bytes, n: int) -> bytes:
    """The last `n` lines of `data` (all of it when it has fewer)."""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    pos = end
    for _ in range(n):
        j = data.rfind(b"\n", 0, pos)
        if j < 0:
            return data
        pos = j
    return data[pos + 1 :]


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


# -- many processes ---------------------------------------------------------------------

#: input is cut into pieces of about this size, each read by one worker
CHUNK = 8 << 20


@dataclass(slots=True)
class _Piece:
    """Whole lines of one file (the last may lack its newline) and the file's year rule.

    A piece of a plain file is a byte range (`path`, `start`, `end`) that a
    worker reads itself; a piece of a stream (gzip, stdin) is its `data`.
    `head` and `tail` are its first window + 1 and last 2 x window + 2 lines.
    """

    years: YearGuess
    data: bytes | None
    path: str | None
    start: int
    end: int
    head: bytes = b""
    tail: bytes = b""

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.end - self.start


def _pieces(
    files: tuple[str, ...], year: int | None, problems: list[str], window: int, workers: int = 1
) -> Iterator[_Piece]:
    """The inputs in order, as pieces of about CHUNK; a file that breaks off adds a problem.

    A plain file is cut in pieces of one size, as many as a multiple of `workers`
    (200 MB for two: 24 of 8.3 MB, not 25 of 8 MiB, of which one worker would read
    one more while the other waits).
    """
    for path in files:
        try:
            with open_input(path) as (stream, modified):
                years = YearGuess(modified, year)
                plain = _plain_fd(stream, path)
                if plain is not None:
                    try:
                        yield from _range_pieces(years, path, *plain, window, workers)
                    except OSError as exc:
                        raise read_error(exc, path) from None
                    continue
                for block in _blocks(stream, path, CHUNK):
                    if years.fixed is not None and years.start is None:
                        years.start = first_classic(block, MAX_LINE)
                    piece = _Piece(years, block, None, 0, len(block))
                    piece.head = _head_lines(block, window + 1)
                    piece.tail = _tail_lines(block, 2 * window + 2)
                    yield piece
        except InputError as exc:
            problems.append(str(exc))


def _plain_fd(stream: BinaryIO, path: str) -> tuple[int, int] | None:
    """The file descriptor and size of a regular, uncompressed file, or None."""
    if path == "-" or not isinstance(stream, io.BufferedReader):
        return None
    raw = stream.raw
    if not isinstance(raw, io.FileIO):
        return None
    st = os.fstat(raw.fileno())
    # a pipe (`<(zcat mail.log.gz)`, a FIFO) has no position: tell() would raise ESPIPE
    if not stat.S_ISREG(st.st_mode) or stream.tell() != 0:
        return None
    return raw.fileno(), st.st_size


def _range_pieces(
    years: YearGuess, path: str, fd: int, size: int, window: int, workers: int = 1
) -> Iterator[_Piece]:
    count = -(-size // CHUNK)  # pieces of at most CHUNK ...
    count = -(-count // max(1, workers)) * max(1, workers)  # ... a multiple of the workers
    chunk = max(1, -(-size // count)) if size else CHUNK
    pos = 0
    while pos < size:
        end = _line_start_at_or_after(fd, pos + chunk, size)
        if end is None:  # one line from `pos` on that never ends (within 2 x CHUNK)
            last = _last_newline(fd, pos, pos + CHUNK)
            if last is None:
                standin = b"x" * (MAX_LINE + 1) + b"\n"
                yield _Piece(years, standin, None, 0, len(standin), standin, standin)
                after = _line_start_at_or_after(fd, pos + 1, size, unbounded=True)
                pos = size if after is None else after
                continue
            end = last + 1
        piece = _Piece(years, None, path, pos, end)
        if years.fixed is not None and years.start is None:
            years.start = _range_first_classic(fd, pos, end)
        piece.head = _range_head(fd, pos, end, window + 1)
        piece.tail = _range_tail(fd, pos, end, 2 * window + 2)
        yield piece
        pos = end


def _range_first_classic(fd: int, start: int, end: int) -> tuple[str, int] | None:
    """first_classic of bytes start..end of a file (whole lines), read a part at a time."""
    pos = start
    while pos < end:
        data = os.pread(fd, min(1 << 20, end - pos), pos)
        cut = data.rfind(b"\n") + 1 if pos + len(data) < end else len(data)
        if cut == 0:  # a line longer than the part, so too long to be read: the next
            after = _line_start_at_or_after(fd, pos + len(data), end, unbounded=True)
            pos = end if after is None else after
            continue
        found = first_classic(data[:cut], MAX_LINE)
        if found is not None:
            return found
        pos += cut
    return None


def _line_start_at_or_after(fd: int, pos: int, size: int, unbounded: bool = False) -> int | None:
    """Where the first line starting at or after `pos` begins (`size` at the end of the file).

    None when no line starts within CHUNK after `pos` (unless `unbounded`).
    """
    if pos >= size or pos == 0:
        return min(pos, size)
    at = pos - 1  # a line starts at `pos` when the byte before it is a newline
    limit = size if unbounded else min(size, pos + CHUNK)
    while at < limit:
        chunk = os.pread(fd, min(1 << 20, limit - at), at)
        if not chunk:
            break
        j = chunk.find(b"\n")
        if j >= 0:
            return at + j + 1
        at += len(chunk)
    return size if limit == size else None


def _last_newline(fd: int, start: int, end: int) -> int | None:
    """The offset of the last newline in bytes start..end, or None."""
    pos = end
    while pos > start:
        lo = max(start, pos - (1 << 20))
        j = os.pread(fd, pos - lo, lo).rfind(b"\n")
        if j >= 0:
            return lo + j
        pos = lo
    return None


def _range_head(fd: int, start: int, end: int, n: int) -> bytes:
    """The first `n` lines of bytes start..end of a file."""
    parts: list[bytes] = []
    pos = start
    seen = 0
    while pos < end and seen < n:
        chunk = os.pread(fd, min(1 << 18, end - pos), pos)
        if not chunk:
            break
        parts.append(chunk)
        seen += chunk.count(b"\n")
        pos += len(chunk)
    return _head_lines(b"".join(parts), n)


def _range_tail(fd: int, start: int, end: int, n: int) -> bytes:
    """The last `n` lines of bytes start..end of a file."""
    parts: list[bytes] = []
    pos = end
    seen = 0
    while pos > start and seen <= n:
        lo = max(start, pos - (1 << 18))
        chunk = os.pread(fd, pos - lo, lo)
        parts.append(chunk)
        seen += chunk.count(b"\n")
        pos = lo
    return _tail_lines(b"".join(reversed(parts)), n)


@dataclass(slots=True)
class _Task:
    """One piece for a worker, with the lines around it that decide its cert pairing."""

    base: int  # the number of the line before the piece's first
    warm: list[bytes]  # lines before it (2 x window + 2, or all there are)
    look: list[bytes]  # lines after it (window + 1, or all there are)
    final: bool  # nothing comes after `look`
    years: YearGuess
    #: where a worker reads the piece itself; None: its bytes follow the task on the pipe
    path: str | None
    start: int
    end: int


class _Parts:
    """A write() target that keeps what it is given (a worker's JSON)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        return len(data)

    def flush(self) -> None:
        pass


def _run_task(
    task: _Task,
    data: bytes | bytearray,
    mode: str,
    within: Callable[[str | None], bool] | None,
    window: int,
    tally: Tally,
    fragments: Fragments,
) -> tuple[list[bytes], tuple[int, int, int]]:
    """What a worker gives for one task: JSON parts, and lines, too long, unreadable.

    The summary's counts go to `tally`, and the JSON written for a line's fields to
    `fragments`, both of which the worker keeps over all its tasks (fragments made anew
    for each 8 MiB piece were a quarter of `--format json`'s time on 200 MB).
    """
    out = _Parts() if mode == "json" else None
    scanner = Scanner(mode, out, within, window, fragments)  # type: ignore[arg-type]
    scanner.tally = tally
    scanner.set_years(task.years)
    scanner.line = task.base - sum(_count_lines(w) for w in task.warm)
    scanner.emit_from = task.base + 1
    for warm in task.warm:
        scanner.block(warm)
    scanner.block(data)  # type: ignore[arg-type]
    scanner.emit_until = scanner.line
    for look in task.look:
        scanner.block(look)
    if task.final:
        scanner.finish()
    else:
        scanner._ready()
        scanner.close_times()
    parts = out.parts if out is not None else []
    return parts, (scanner.lines, scanner.too_long, scanner.unreadable)


def _send(fd: int, obj: object, raw: list[bytes] = []) -> None:  # noqa: B006  (read only)
    """A pickled object, then `raw` as it is (its total size is in the object's frame)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    size = sum(len(r) for r in raw)
    _write_all(fd, len(data).to_bytes(8, "big") + size.to_bytes(8, "big") + data)
    for part in raw:
        _write_all(fd, part)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> tuple[Any, bytearray] | None:
    head = _read_exactly(fd, 16)
    if head is None:
        return None
    body = _read_exactly(fd, int.from_bytes(head[:8], "big"))
    raw = _read_exactly(fd, int.from_bytes(head[8:], "big"))
    if body is None or raw is None:
        return None
    return pickle.loads(body), raw


def _read_exactly(fd: int, n: int) -> bytearray | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if not k:
            return None
        got += k
    return buf


class _Pool:
    """Worker processes (os.fork) that read tasks in turn; results are taken in order."""

    def __init__(
        self,
        mode: str,
        out: IO[bytes] | None,
        within: Callable[[str | None], bool] | None,
        window: int,
        workers: int,
    ) -> None:
        self.mode = mode
        self.out = out
        self.window = window
        self.tally = Tally()
        self.lines = self.too_long = self.unreadable = 0
        self._workers: list[tuple[int, int, int]] = []  # pid, task fd, result fd
        if out is not None:
            out.flush()
        for _ in range(workers):
            task_r, task_w = os.pipe()
            result_r, result_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # a worker: tasks in, results out, until the pipe closes
                # what a worker makes holds no cycles, and it ends with os._exit: the
                # cyclic collector's rescans of its tally would free nothing (5-8 % of its time)
                gc.disable()
                os.close(task_w)
                os.close(result_r)
                for _pid, other_task, other_result in self._workers:
                    os.close(other_task)
                    os.close(other_result)
                code = 0
                tally = Tally()
                fragments = Fragments()
                files: dict[str, int] = {}
                try:
                    while (received := _receive(task_r)) is not None:
                        task = received[0]
                        data: bytes | bytearray = received[1]
                        if task is None:  # the end: the counts of every task
                            _send(result_w, ("tally", tally))
                            break
                        if task.path is not None:
                            fd = files.get(task.path)
                            if fd is None:
                                for old in files.values():
                                    os.close(old)
                                files = {task.path: (fd := os.open(task.path, os.O_RDONLY))}
                            data = os.pread(fd, task.end - task.start, task.start)
                        parts, counts = _run_task(
                            task, data, mode, within, window, tally, fragments
                        )
                        _send(result_w, ("ok", counts), parts)
                except BrokenPipeError:
                    pass
                except BaseException:
                    import traceback

                    with contextlib.suppress(OSError):
                        _send(result_w, ("error", traceback.format_exc()))
                    code = 1
                os._exit(code)
            os.close(task_r)
            os.close(result_w)
            self._workers.append((pid, task_w, result_r))
        self._busy: deque[int] = deque()  # worker numbers with a task out, oldest first

    def run(self, pieces: Iterator[_Piece], meanwhile: Callable[[], object] | None = None) -> None:
        """Hand out the pieces, each with its warm-up and look-ahead lines, in turn;
        `meanwhile` is called once every worker has a piece."""
        window = self.window
        warm: deque[bytes] = deque()  # tails of the pieces before, newest last
        warm_lines = 0
        queue: deque[_Piece] = deque()  # pieces read, not handed out yet
        turn = 0
        number = 0
        ended = False
        while True:
            # read until the first piece waiting has window + 1 lines after it (or the end)
            while not ended and (
                not queue
                or sum(_count_lines(p.head) for p in itertools.islice(queue, 1, None)) <= window
            ):
                piece = next(pieces, None)
                if piece is None:
                    ended = True
                    break
                queue.append(piece)
            if not queue:
                break
            piece = queue.popleft()
            look: list[bytes] = []
            need = window + 1
            for after in queue:
                if need <= 0:
                    break
                head = _head_lines(after.head, need)
                look.append(head)
                need -= _count_lines(head)
            final = ended and need > 0
            number += 1
            task = _Task(
                number << 32,
                list(warm),
                look,
                final,
                piece.years,
                piece.path,
                piece.start,
                piece.end,
            )
            self._hand_out(turn, task, piece.data)
            turn = (turn + 1) % len(self._workers)
            if meanwhile is not None and (turn == 0 or ended):
                meanwhile()
                meanwhile = None
            warm.append(piece.tail)
            warm_lines += _count_lines(piece.tail)
            while len(warm) > 1 and warm_lines - _count_lines(warm[0]) >= 2 * window + 2:
                warm_lines -= _count_lines(warm.popleft())
        if meanwhile is not None:
            meanwhile()
        while self._busy:
            self._take()
        # every worker is told first, so that they pickle their counts at the same time
        for _pid, task_fd, _result_fd in self._workers:
            _send(task_fd, None)
        for _pid, _task_fd, result_fd in self._workers:
            received = _receive(result_fd)
            if received is None or received[0][0] != "tally":
                raise RuntimeError("a tlsc logs worker failed: no counts")
            if self.tally.keys or self.tally.first is not None:
                self.tally.merge(received[0][1])
            else:  # the first counts are taken as they are, not copied key by key
                self.tally = received[0][1]

    def _hand_out(self, worker: int, task: _Task, data: bytes | None) -> None:
        if worker in self._busy:
            while self._busy:  # results in order: everything handed out before it
                if self._take() == worker:
                    break
        _send(self._workers[worker][1], task, [] if data is None else [data])
        self._busy.append(worker)

    def _take(self) -> int:
        worker = self._busy.popleft()
        received = _receive(self._workers[worker][2])
        if received is None or received[0][0] != "ok":
            why = received[0][1] if received else "it died"
            raise RuntimeError(f"a tlsc logs worker failed: {why}")
        (_, (lines, too_long, unreadable)), data = received
        if self.out is not None and data:
            self.out.write(data)
        self.lines += lines
        self.too_long += too_long
        self.unreadable += unreadable
        return worker

    def stats(self) -> ReadStats:
        return ReadStats(self.lines, self.too_long, self.too_long + self.unreadable)

    def close(self) -> None:
        for pid, task_fd, result_fd in self._workers:
            with contextlib.suppress(OSError):
                os.close(task_fd)
            with contextlib.suppress(OSError):
                os.close(result_fd)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        self._workers = []
