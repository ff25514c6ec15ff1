"""A pause of Python's cyclic garbage collector while a big spec is built.

Loading, validating and rendering a large cluster allocates millions of small
objects that form no reference cycles (YAML nodes, dicts, strings, frozen
models). The cyclic collector still rescans the growing heap again and again
as they pile up: on a 50-host, 100k-entry spec that was about 40% of the
whole compile, and it frees nothing. Reference counting still frees
everything as usual; only cycles wait until the pause ends.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (nested pauses are fine), then hand
    what the block made to its oldest generation unscanned.

    Left in the youngest generation, it would all be scanned by the first
    collection after the pause, for nothing: what is made there lives on. A cold
    start imports some 30,000 objects the collector tracks (modules, classes,
    functions, pydantic's schemas) that live as long as the process: 5-9 ms of a
    130 ms `tlsc validate`; a loaded and a validated 50-host, 100k-entry spec,
    15 ms of its plan. gc.freeze() then gc.unfreeze() moves them all to the
    oldest generation at once; when something else holds frozen objects,
    nothing is moved (unfreezing would let go of those too).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


#: the pause imports are made under (gc_paused: what they make lives as long as the process)
gc_importing = gc_paused


@contextmanager
def gc_settling() -> Iterator[Callable[[], None]]:
    """A block whose `settle()` takes every object made so far out of the collector's scans.

    For a big spec that stays alive while long work is done with it: a plan
    diffs hosts' files after the spec is built, and each full collection would
    rescan the spec's millions of objects for nothing. `settle()` freezes them
    (gc.freeze) while the collector keeps running for everything made after;
    they return to its care when the block ends. When something else has
    frozen objects already, the block leaves the freeze alone.
    """
    owner = gc.get_freeze_count() == 0

    def settle() -> None:
        if owner:
            gc.freeze()

    try:
        yield settle
    finally:
        if owner:
            gc.unfreeze()
