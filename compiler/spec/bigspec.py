"""The fast paths of a big spec: its long `access:` list (accesslist.py) and its long
`domains:` and `recipients:` mappings (rulemap.py), each read apart from the rest,
which the general loader reads; anything unexpected and the general loader reads
the whole file. loader.load_text comes here for a spec of FAST_PATH_BYTES or more.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import rulemap
from compiler.spec.accesslist import PLACEHOLDER, AccessBlock, split_access
from compiler.spec.loader import LoadedSpec, Loc, Positions, SpecLoadError, _compose


def load_big(text: str, source: str) -> LoadedSpec:
    """`text` read with the fast paths where they apply, else by the general loader."""
    cut = text
    split = split_access(text)
    block = None
    if split is not None:
        cut, block = split
    rules: list[rulemap.RuleBlock] = []
    for name in rulemap.KEYS:
        found = rulemap.read_rules(cut, name)
        if found is not None:
            cut, rule_block = found
            rules.append(rule_block)
    if block is None and not rules:
        return _compose(text, source)
    sizes: dict[int, int] = {}
    extra = (len(block.texts) if block else 0) + sum(_size(r.value, sizes) - 1 for r in rules)
    try:
        loaded: LoadedSpec | None = _compose(cut, source, extra)
    except SpecLoadError:
        loaded = None  # report exactly what the general loader says of the file
    if (
        loaded is not None
        and (block is None or _cut_as_expected(loaded, block))
        and all(_rules_cut_as_expected(loaded, r) for r in rules)
        and _fill_rules(loaded, rules, source)
    ):
        if block is not None:
            loaded.data["access"] = block.texts
            loaded.positions[("access",)] = block.start
            assert isinstance(loaded.positions, Positions)
            loaded.positions.lists[("access",)] = block
        return loaded
    return _compose(text, source)


def _cut_as_expected(loaded: LoadedSpec, block: AccessBlock) -> bool:
    """True when the general loader read the cut text's `access: []` where it was put:
    the key in column 1 of its line, an empty list after it, at the top level."""
    return (
        loaded.data.get("access") == []
        and loaded.key_positions.get(("access",)) == (block.key_line, 1)
        and loaded.positions.get(("access",)) == (block.key_line, PLACEHOLDER.index("[") + 1)
    )


def _size(node: rulemap.Node, sizes: dict[int, int]) -> int:
    """The nodes the general loader counts for `node` (keys too); `sizes`: that of each
    value parsed once (rulemap.Moved), by id, counted once."""
    if isinstance(node, rulemap.Scalar):
        return 1
    if isinstance(node, rulemap.Moved):
        size = sizes.get(id(node.node))
        if size is None:
            size = sizes[id(node.node)] = _size(node.node, sizes)
        return size
    return 1 + sum(1 + _size(value, sizes) for _, _, value in node.pairs)


def _rules_cut_as_expected(loaded: LoadedSpec, block: rulemap.RuleBlock) -> bool:
    """True when the general loader read the cut text's `NAME: {}` where it was put."""
    name = block.name
    return (
        loaded.data.get(name) == {}
        and loaded.key_positions.get((name,)) == (block.key_line, 1)
        and loaded.positions.get((name,)) == (block.key_line, len(name) + 3)
    )


def _plain_words(rules: list[rulemap.RuleBlock]) -> list[str]:
    """The distinct plain scalars of the blocks, in order of first use."""
    words: dict[str, None] = {}
    seen: set[int] = set()  # the values parsed once (rulemap.Moved), walked once

    def walk(node: rulemap.Node) -> None:
        if isinstance(node, rulemap.Scalar):
            if node.plain:
                words.setdefault(node.text)
        elif isinstance(node, rulemap.Moved):
            if id(node.node) not in seen:
                seen.add(id(node.node))
                walk(node.node)
        else:
            for _, _, value in node.pairs:
                walk(value)

    for r in rules:
        walk(r.value)
    return list(words)


def _fill_rules(loaded: LoadedSpec, rules: list[rulemap.RuleBlock], source: str) -> bool:
    """Put the blocks' mappings into `loaded` as the general loader would have; False
    when a plain word is not a plain value there (then the general loader reads all)."""
    if not rules:
        return True
    words = _plain_words(rules)
    # each distinct plain word read by the general loader itself: its value, and
    # whether it is a YAML 1.1 boolean word or a number not in plain decimal digits
    values: dict[str, tuple[Any, bool, bool]] = {}
    if words:
        try:
            read = _compose("w:\n" + "".join(f"- {w}\n" for w in words), source)
        except SpecLoadError:
            return False
        listed = read.data.get("w")
        if not isinstance(listed, list) or len(listed) != len(words):
            return False
        for i, (word, value) in enumerate(zip(words, listed, strict=True)):
            values[word] = (value, ("w", i) in read.bool_words, ("w", i) in read.number_words)
    positions, keys, bools = loaded.positions, loaded.key_positions, loaded.bool_words

    def convert(node: rulemap.Node, loc: Loc) -> Any:
        if isinstance(node, rulemap.Moved):
            return placed(node.node, loc, node.line, node.shift)
        positions[loc] = node.pos
        if isinstance(node, rulemap.Scalar):
            return scalar(node, loc)
        out: dict[str, Any] = {}
        for key, where, value in node.pairs:
            keys[(*loc, key)] = where
            out[key] = convert(value, (*loc, key))
        return out

    def placed(node: rulemap.Scalar | rulemap.Mapping, loc: Loc, line: int, shift: int) -> Any:
        # a value parsed at line 0 from column 1, at `line`, `shift` columns on
        positions[loc] = (line, node.pos[1] + shift)
        if isinstance(node, rulemap.Scalar):
            return scalar(node, loc)
        out: dict[str, Any] = {}
        for key, where, value in node.pairs:
            keys[(*loc, key)] = (line, where[1] + shift)
            assert not isinstance(value, rulemap.Moved)  # a parsed value holds none
            out[key] = placed(value, (*loc, key), line, shift)
        return out

    def scalar(node: rulemap.Scalar, loc: Loc) -> Any:
        if not node.plain:
            return node.text
        value, is_bool, is_number_word = values[node.text]
        if is_bool:
            bools.add(loc)
        if is_number_word:
            loaded.number_words[loc] = node.text
        return value

    for r in rules:
        loaded.data[r.name] = convert(r.value, (r.name,))
    return True
