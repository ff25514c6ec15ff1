"""compiler/heap.py: a plan of a big spec fixes glibc's mapping threshold (mallopt), so
that what it frees goes back to the system; a small one leaves the heap alone."""

from __future__ import annotations

import platform
import subprocess
import sys

from conftest import ROOT, cli_env

from compiler import heap


def test_a_small_input_leaves_the_heap_alone() -> None:
    assert heap.for_input_of(0) is False
    assert heap.for_input_of(heap.BIG_INPUT - 1) is False


def test_a_big_input_sets_the_threshold_where_glibc_is() -> None:
    code = "from compiler import heap; print(heap.for_input_of(heap.BIG_INPUT))"
    # in a process of its own: this one's heap is left as it is
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=cli_env(), capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    assert out == str(platform.libc_ver()[0] == "glibc")
