"""The C heap's policy for a plan of a big spec: what is freed goes back to the system.

glibc's malloc raises, on its own, the size from which it maps an allocation
(up to 32 MiB) each time a mapped block is freed, and with it the free space
it keeps at its heap's top (up to 64 MiB). A plan of a million entries frees
many blocks of one to thirty MB (lists of items, the body's blocks, sets of
hashes) before its peak, when the file observed is decoded beside the text
wanted: kept by the heap, they were 30 MB of that peak. A fixed threshold
(mallopt M_MMAP_THRESHOLD) stops both: blocks from 16 MiB are mapped and
unmapped, and the heap's top is trimmed at glibc's default. Where there is
no glibc's mallopt, nothing is done.
"""

from __future__ import annotations

#: a spec this big gets the policy (a million entries' spec is 54 MB; 100,000's, 5 MB)
BIG_INPUT = 16 << 20
#: the size from which blocks are mapped: above a big plan's many smaller blocks
MMAP_FROM = 16 << 20
_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>


def for_input_of(size: int) -> bool:
    """Set the policy when `size` bytes of input are big; True when it was set."""
    if size < BIG_INPUT:
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):  # not glibc (or no C library to ask)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_FROM))
