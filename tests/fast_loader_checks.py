"""What the spec loader's fast paths (spec/accesslist.py, spec/rulemap.py) are held to.

A fast path must give what the general loader (`loader._compose`) gives on the
same text: the same data (the same types too), positions, boolean-word notes,
the same problems when it fails, and then the same validation and compiled bytes.
"""

from __future__ import annotations

from typing import Any

from compiler.compile import compile_loaded
from compiler.spec.loader import LoadedSpec, SpecLoadError, _compose, load_text
from compiler.spec.validate import validate


def _outcome(load: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", load(text)
    except SpecLoadError as exc:
        return "error", exc


def leaves(data: Any) -> list[Any]:
    """Every key and scalar of `data`, in order."""
    if isinstance(data, dict):
        return [x for k, v in data.items() for x in [k, *leaves(v)]]
    if isinstance(data, list):
        return [x for v in data for x in leaves(v)]
    return [data]


def same_load(text: str) -> tuple[LoadedSpec, LoadedSpec] | None:
    """Assert load_text (fast paths on) and the general loader agree on `text`.

    (fast, general) when both loaded it; None when both refused it alike.
    """
    fast_kind, fast = _outcome(lambda t: load_text(t, "cluster.yaml"), text)
    slow_kind, slow = _outcome(lambda t: _compose(t, "cluster.yaml"), text)
    assert fast_kind == slow_kind, (fast, slow)
    if fast_kind == "error":
        assert fast.problems == slow.problems
        assert (fast.partial is None) == (slow.partial is None)
        return None
    # (a .nan is no float equal to another: the two loads' texts are compared then)
    assert fast.data == slow.data or repr(fast.data) == repr(slow.data)
    assert [type(v) for v in leaves(fast.data)] == [type(v) for v in leaves(slow.data)]
    assert fast.key_positions == slow.key_positions
    assert fast.bool_words == slow.bool_words
    assert fast.number_words == slow.number_words
    for loc, where in slow.positions.items():
        assert fast.positions.get(loc) == where, loc
    assert set(dict(fast.positions)) <= set(slow.positions)
    return fast, slow


def same_outcome(fast: LoadedSpec, slow: LoadedSpec) -> None:
    """Assert both loads validate alike and, when valid, compile to the same files."""
    fast_checked, slow_checked = validate(fast), validate(slow)
    assert fast_checked.problems == slow_checked.problems
    if fast_checked.ok:
        assert compile_loaded(fast).hosts == compile_loaded(slow).hosts
