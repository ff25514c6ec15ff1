"""Reading gzip logs (compiler/logs/source.py): ISA-L and the gzip module give the same.

python-isal unpacks gzip 2.5 to 3 times as fast as zlib; without it tlsc falls
back to the standard library. Both must give the same lines, and the same one
sentence for a damaged, truncated or false gzip file, in both readers (the
line reader of the reference and what-if paths, the block reader of the fast one).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.logs import source, workers
from compiler.logs.source import InputError, ReadStats, open_input, read_lines

LINES = b"".join(
    b"Nov 28 10:00:%02d mta sm-mta[%d]: STARTTLS=server, relay=c%d [192.0.2.%d], "
    b"version=TLSv1.3, verify=NOT, cipher=TLS_AES_256_GCM_SHA384, bits=256/256\n"
    % (i % 60, 100 + i, i, i % 250)
    for i in range(20_000)
)


@pytest.fixture(params=["isal", "gzip"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test once with ISA-L (a dependency) and once with the gzip module."""
    if request.param == "gzip":
        monkeypatch.setattr(source, "_isal_gzip", gzip.GzipFile)
    else:
        monkeypatch.setattr(source, "_isal_gzip", None)
    yield request.param


def _lines(path: Path) -> bytes:
    with open_input(str(path)) as (stream, _):
        return b"".join(line + b"\n" for line in read_lines(stream, str(path), ReadStats()))


def _blocks(path: Path) -> bytes:
    with open_input(str(path)) as (stream, _):
        return b"".join(workers._blocks(stream, str(path), 1 << 16))


def test_isal_is_what_reads_gzip(backend: str, tmp_path: Path) -> None:
    path = tmp_path / "mail.log.1.gz"
    path.write_bytes(gzip.compress(LINES))
    with open_input(str(path)) as (stream, _):
        name = type(stream).__module__ + "." + type(stream).__name__
    assert ("isal" in name or "source" in name) == (backend == "isal"), name


@pytest.mark.parametrize("read", [_lines, _blocks])
def test_the_same_bytes_either_way(backend: str, tmp_path: Path, read: object) -> None:
    path = tmp_path / "mail.log.1.gz"
    # two members, as `cat a.gz b.gz` makes: both are read
    path.write_bytes(gzip.compress(LINES[:500_000]) + gzip.compress(LINES[500_000:]))
    assert read(path) == LINES  # type: ignore[operator]


def _damaged(data: bytes) -> bytes:
    """The stream with bytes in the middle of its deflate data overwritten."""
    middle = len(data) // 2
    return data[:middle] + b"\xff" * 64 + data[middle + 64 :]


@pytest.mark.parametrize("read", [_lines, _blocks])
@pytest.mark.parametrize(
    ("damage", "sentence"),
    [
        (lambda d: d[: len(d) // 2], "the gzip data ends early (truncated file)"),
        (_damaged, "the gzip data is damaged"),
        (lambda d: b"\x1f\x8b" + b"\x00" * 40, "not a valid gzip file"),
    ],
)
def test_one_sentence_for_a_broken_file(
    backend: str, tmp_path: Path, read: object, damage: object, sentence: str
) -> None:
    path = tmp_path / "mail.log.1.gz"
    path.write_bytes(damage(gzip.compress(LINES)))  # type: ignore[operator]
    with pytest.raises(InputError) as caught:
        read(path)  # type: ignore[operator]
    assert str(caught.value) == f"{path}: {sentence}"


def test_a_damaged_stream_is_a_zlib_error(tmp_path: Path) -> None:
    """ISA-L's own error is turned into zlib's, the one read_error names."""
    path = tmp_path / "mail.log.1.gz"
    path.write_bytes(_damaged(gzip.compress(LINES)))
    source._isal_gzip = None
    with open_input(str(path)) as (stream, _), pytest.raises(zlib.error):
        while stream.read(1 << 16):
            pass
