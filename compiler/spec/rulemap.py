"""The spec's top-level `domains:` and `recipients:` mappings, read line by line.

A big cluster's spec holds thousands of rules, one a line:

    domains:                              # the key at column 1, maybe a comment
      "*":                                # a key whose rule follows, one key a line
        outbound: may
      "mx.example.net": {outbound: encrypt, inbound: {require: verify, issuer_tag: CA}}
      example.org: encrypt                # a rule as one word
      # comment lines and blank lines anywhere

Composing each rule as YAML nodes costs more than reading it, so when the
block has this shape it is read here and the loader parses the rest of the
file with the block cut out (its lines left blank, so every other position
stays where it was), as it does for the `access:` list (accesslist.py).

The shape: every key at one indentation, written "double-quoted" (no
escapes), 'single-quoted' (no quote inside) or as a plain word of letters,
digits, `_`, `.`, `-` and inner colons; after it a value on the same line (a
plain word, a double-quoted scalar, or a flow mapping `{k: v, ...}` of such
values, one level of flow mapping inside), or nothing and then lines at one
deeper indentation, each `k: v` with such a value. Anything else (an anchor,
an alias, a tag, a merge key, an escape, a tab, a CR, a character YAML
refuses, a key twice at one level, a `%` directive, a block deeper than
this) leaves the whole file to the general loader, which the loader also
does when the rest of the file is not what the cut assumed.
tests/test_spec_rulemap.py holds both paths to the same data, positions,
YAML-1.1-boolean marks and problems.

Plain words are resolved by the loader with the YAML loader's own resolver
(a word may be a number, a boolean or null); this module only reads the
shape and where each scalar stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from compiler.spec.accesslist import _BAD as _ACCESS_BAD

#: the mappings read here
KEYS = ("domains", "recipients")
#: characters never read here: accesslist's, and the surrogates ruamel's reader refuses
_BAD = _ACCESS_BAD + "\\ud800-\\udfff"

_DQ = rf'"[^"\\{_BAD}]*+"'
_SQ = rf"'[^'{_BAD}]*+'"
#: a plain word that is a scalar of its own wherever it stands (no indicator, no
#: blank, no `: `, nothing that ends a flow scalar)
_WORD = r"[A-Za-z0-9_][A-Za-z0-9_.-]*+"
#: a plain key: such a word, maybe with `@` and `+` (a recipient) and inner colons
_PLAIN_KEY = r"[A-Za-z0-9_][A-Za-z0-9_.@+-]*+(?::[A-Za-z0-9_.@+-]++)*+"
_KEY = rf"(?:{_DQ}|{_SQ}|{_PLAIN_KEY})"
_FKEY = r"[A-Za-z_][A-Za-z0-9_]*+"
_SCALAR = rf"(?:{_DQ}|{_WORD})"
_INNER = rf"\{{ *+{_FKEY}: ++{_SCALAR}(?: *+, *+{_FKEY}: ++{_SCALAR})*+ *+\}}"
_FVALUE = rf"(?:{_SCALAR}|{_INNER})"
_FLOW = rf"\{{ *+{_FKEY}: ++{_FVALUE}(?: *+, *+{_FKEY}: ++{_FVALUE})*+ *+\}}"
_VALUE = rf"(?:{_SCALAR}|{_FLOW})"
_AFTER = rf"(?: ++#[^{_BAD}]*+)? *+\n"
_OTHER_LINE = re.compile(rf" *+(?:#[^{_BAD}]*+)?\n")
_TOKEN = re.compile(rf"(\{{)|(\}})|({_FKEY}): ++|({_DQ})|({_WORD})")


def _item_line(indent: int) -> re.Pattern[str]:
    """A rule's line: the key (group 1), then its value (group 2) or nothing."""
    return re.compile(rf" {{{indent}}}({_KEY}):(?: ++({_VALUE}))?{_AFTER}")


def _sub_line(indent: int) -> re.Pattern[str]:
    """A line of a rule written below its key: `k: v` (groups 1 and 2)."""
    return re.compile(rf" {{{indent}}}({_FKEY}): ++({_VALUE}){_AFTER}")


#: (line, col), 1-based
Pos = tuple[int, int]


@dataclass(frozen=True)
class Scalar:
    """A scalar as written: its text (quotes removed), plain or quoted, where it is."""

    text: str
    plain: bool
    pos: Pos


@dataclass(frozen=True)
class Mapping:
    """A mapping: where it starts, and its (key, key's position, value) in order."""

    pos: Pos
    pairs: list[tuple[str, Pos, Node]]


@dataclass(frozen=True)
class Moved:
    """A value as parsed once at line 0 from column 1 (`node`, shared by every place
    the same text is written), put at `line`, `shift` columns on: its positions are
    (line, col + shift)."""

    node: Scalar | Mapping
    line: int
    shift: int


Node = Scalar | Mapping | Moved


@dataclass
class RuleBlock:
    """One top-level mapping read here."""

    name: str
    #: 1-based line of the key (`domains:`)
    key_line: int
    #: the mapping, its keys at the block's indentation
    value: Mapping


def placeholder(name: str) -> str:
    """The text the key's line becomes for the general loader."""
    return f"{name}: {{}}"


def split_rules(text: str, name: str) -> tuple[str, RuleBlock] | None:
    """(the text with the block's lines blank and `NAME: {}` for its key, the block),
    or None when the block is not in the shape read here."""
    key = _find_key(text, name)
    if key is None or "\n%" in text or text.startswith("%"):
        return None
    key_start, body_start = key
    end = _block_end(text, body_start)
    block = text[body_start:end]
    if not block.endswith("\n") or "\t" in block or "\r" in block:
        return None
    key_line = text.count("\n", 0, key_start) + 1
    read = _read(block, key_line + 1)
    if read is None:
        return None
    cut = (
        text[:key_start] + placeholder(name) + "\n" * text.count("\n", key_start, end) + text[end:]
    )
    return cut, RuleBlock(name, key_line, read)


def _find_key(text: str, name: str) -> tuple[int, int] | None:
    """(where the key's line starts, where the next line starts) when exactly one line
    starts `NAME:` (or `NAME :`), in the shape read here; else None."""
    starts = [0] if text.startswith(name) else []
    at = text.find("\n" + name)
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n" + name, at + 1)
    any_key = re.compile(rf"{name} *:")
    keys = [at for at in starts if any_key.match(text, at)]
    if len(keys) != 1:
        return None
    m = re.compile(rf"{name}:(?: ++#[^{_BAD}]*+)? *+\n").match(text, keys[0])
    return None if m is None else (keys[0], m.end())


def _block_end(text: str, start: int) -> int:
    """Where the block ends: the next line starting in column 1 that is not a
    comment, or the end of the text."""
    m = re.compile(r"\n(?=[^ #\n])").search(text, start - 1)
    return len(text) if m is None else m.start() + 1


def _read(block: str, first_line: int) -> Mapping | None:
    """The block's mapping, or None when a line is not in the shape."""
    lines = block.split("\n")[:-1]
    indent = next((len(x) - len(x.lstrip(" ")) for x in lines if x.strip(" ")[:1] not in "#"), 0)
    if not indent:
        return None
    item = _item_line(indent)
    sub: re.Pattern[str] | None = None
    pairs: list[tuple[str, Pos, Node]] = []
    seen: set[str] = set()
    open_item: tuple[str, Pos, list[tuple[str, Pos, Node]], set[str]] | None = None
    cache: dict[str, Scalar | Mapping] = {}
    for n, raw in enumerate(lines):
        line_no = first_line + n
        line = raw + "\n"
        if _OTHER_LINE.fullmatch(line):
            continue
        if open_item is not None and raw.startswith(" " * (indent + 1)):
            if sub is None:
                deeper = len(raw) - len(raw.lstrip(" "))
                sub = _sub_line(deeper)
            m = sub.fullmatch(line)
            if m is None:
                return None
            key, where, mapping, keys = open_item
            if m.group(1) in keys:
                return None
            keys.add(m.group(1))
            mapping.append(
                (
                    m.group(1),
                    (line_no, m.start(1) + 1),
                    _value(m.group(2), line_no, m.start(2), cache),
                )
            )
            continue
        if open_item is not None:
            if not _close(open_item, pairs):
                return None
            open_item = None
        m = item.fullmatch(line)
        if m is None:
            return None
        key = _unquoted(m.group(1))
        if key in seen:
            return None
        seen.add(key)
        where = (line_no, indent + 1)
        if m.group(2) is None:
            open_item, sub = (key, where, [], set()), None
        else:
            pairs.append((key, where, _value(m.group(2), line_no, m.start(2), cache)))
    if open_item is not None and not _close(open_item, pairs):
        return None
    if not pairs:
        return None
    return Mapping(pairs[0][1], pairs)


def _close(
    item: tuple[str, Pos, list[tuple[str, Pos, Node]], set[str]],
    pairs: list[tuple[str, Pos, Node]],
) -> bool:
    """Add a rule written below its key; False when nothing was below it."""
    key, where, mapping, _ = item
    if not mapping:
        return False  # a key with nothing after it: null, or a shape not read here
    pairs.append((key, where, Mapping(mapping[0][1], mapping)))
    return True


def _unquoted(text: str) -> str:
    """A key's text: a quoted one's content (no escapes here), a plain one as is."""
    if text[0] in "\"'":
        return text[1:-1]
    return text


def _value(text: str, line: int, start: int, cache: dict[str, Scalar | Mapping]) -> Node:
    """The value written `text` at 0-based column `start` of `line` (each distinct
    text parsed once: a cluster's rules repeat a few dozen values)."""
    hit = cache.get(text)
    if hit is None:
        hit = cache[text] = _parse(text)
    return Moved(hit, line, start)


def _parse(text: str) -> Scalar | Mapping:
    """A value the line patterns accepted, at line 0 from column 1."""
    tokens = list(_TOKEN.finditer(text))
    node, at = _node(tokens, 0)
    assert at == len(tokens)
    return node


def _node(tokens: list[re.Match[str]], at: int) -> tuple[Scalar | Mapping, int]:
    """The value whose first token is tokens[at], and the index after its last."""
    m = tokens[at]
    if m.group(1):  # {
        pairs: list[tuple[str, Pos, Node]] = []
        at += 1
        while not tokens[at].group(2):
            key = tokens[at]
            value, at = _node(tokens, at + 1)
            pairs.append((key.group(3), (0, key.start() + 1), value))
        if len({k for k, _, _ in pairs}) != len(pairs):
            raise _Duplicate
        return Mapping((0, m.start() + 1), pairs), at + 1
    if m.group(4):
        return Scalar(m.group(4)[1:-1], False, (0, m.start() + 1)), at + 1
    return Scalar(m.group(5), True, (0, m.start() + 1)), at + 1


class _Duplicate(Exception):
    """A key twice in one flow mapping: the general loader says so."""


def read_rules(text: str, name: str) -> tuple[str, RuleBlock] | None:
    """split_rules, None also for a key twice in a flow mapping."""
    try:
        return split_rules(text, name)
    except _Duplicate:
        return None
