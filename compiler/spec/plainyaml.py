"""A small spec of the plain shape, read without ruamel.yaml.

Importing ruamel.yaml is about a tenth of a cold `tlsc validate` (it loads its
emitter, representer and round-trip machinery with the parser). Most specs are
written in a narrow part of YAML: block mappings and sequences indented with
spaces, one-line plain or quoted scalars, one-line flow collections of those,
comments. This reads exactly that part, with each node's position as ruamel's
C parser gives it, and says None for anything else: the general loader
(yamlcompose.py) then reads the file, with every problem it reports. Nothing
is refused here, so no message of the loader's changes.

None (the general loader's) for: a tab, a CR, a control character, any
character outside ASCII but in a whole-line comment; a document marker or a
directive; an anchor, alias, tag, block scalar, merge key, multi-line scalar
or flow collection; a key that is not a simple word or a quoted one; a key
written twice; an empty value; an escape in a double-quoted scalar; a plain
scalar YAML 1.2 reads as a float, a timestamp or an integer not written in
plain decimal digits; anything the indentation leaves unclear.

tests/test_spec_plainyaml.py holds it to the general loader (same data and
types, positions of values and keys, boolean words) on generated and hostile
specs, and ruamel's resolver patterns to the copies below.
"""

from __future__ import annotations

import re
from typing import Any

from compiler.spec.loader import Loc, is_bool_word

#: YAML 1.2's implicit float, int and timestamp patterns as ruamel.yaml 0.19
#: (resolver.py) has them; a plain scalar one of them matches is the general loader's
FLOAT = re.compile(
    """^(?:
         [-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\\.(?:inf|Inf|INF)
        |\\.(?:nan|NaN|NAN))$""",
    re.X,
)
INT = re.compile(
    """^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
TIMESTAMP = re.compile(
    """^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
        (?:[Tt]|[ \\t]+)[0-9][0-9]?
        :[0-9][0-9] :[0-9][0-9] (?:\\.[0-9]*)?
        (?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
    re.X,
)
#: the first characters ruamel tries the float pattern on (the int pattern: all but
#: `.`; the timestamp pattern: the digits)
_NUMBER_FIRST = frozenset("-+0123456789.")
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_NULL = frozenset({"~", "null", "Null", "NULL", ""})
#: a plain decimal integer short enough to be a number (loader._integer's limit is far above)
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,17})\Z")

#: the first character of a plain scalar read here: no YAML indicator, no `-`
_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./~()$^;=+<")
#: a plain key: a word of these, then `:` and a blank or the line's end
_KEY = re.compile(r"([A-Za-z0-9_./][A-Za-z0-9_./@+=-]*):(?= |\Z)")
#: what may follow a value on its line: blanks, then a comment after a blank
_TAIL = re.compile(r"(?: +(?:#.*)?)?\Z")
#: a flow plain scalar: up to a flow indicator, `:`, `#` or `?` (those end it, or are
#: the general loader's: libyaml ends a flow plain scalar at `?`)
_FLOW_PLAIN = re.compile(r"[^,\[\]{}:#?]*")
#: nesting read here at most (loader.MAX_DEPTH is 64)
_MAX_DEPTH = 48


class _Other(Exception):
    """Not the plain shape: the general loader reads the file."""


class Plain:
    """The result: data and what the loader keeps of it (loader.LoadedSpec's fields)."""

    def __init__(self) -> None:
        self.positions: dict[Loc, tuple[int, int]] = {}
        self.key_positions: dict[Loc, tuple[int, int]] = {}
        self.bool_words: set[Loc] = set()
        self.data: dict[str, Any] = {}


def read(text: str) -> Plain | None:
    """The spec's data and positions, or None when it is not of the plain shape."""
    try:
        return _Reader(text).run()
    except (_Other, IndexError, RecursionError):
        return None


def _lines(text: str) -> list[tuple[int, int, str]]:
    """(line number, indent, content) of each line that is not blank or a comment."""
    if "\t" in text or "\r" in text:
        raise _Other
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        content = line.lstrip(" ")
        if not content or content[0] == "#":
            # a comment's text: printable (str.isprintable: no control, format, private
            # or unassigned character, no separator but the blank), all of which YAML
            # reads (line breaks and bidi controls are the loader's checks before)
            if not content.isprintable():
                raise _Other
            continue
        if not (content.isascii() and content.isprintable()):
            raise _Other
        indent = len(line) - len(content)
        if indent == 0 and content.startswith(("---", "...", "%")):
            raise _Other
        out.append((number, indent, content))
    return out


def _quoted(s: str, k: int) -> tuple[str, int]:
    """The quoted scalar at s[k] (its quote) and the index after its closing quote."""
    quote = s[k]
    if quote == '"':
        end = s.index('"', k + 1)
        value = s[k + 1 : end]
        if "\\" in value:
            raise _Other
        return value, end + 1
    parts = []
    j = k + 1
    while True:
        end = s.index("'", j)
        parts.append(s[j:end])
        if s[end + 1 : end + 2] == "'":
            parts.append("'")
            j = end + 2
            continue
        return "".join(parts), end + 1


class _Reader:
    def __init__(self, text: str) -> None:
        self.items = _lines(text)
        self.i = 0
        self.out = Plain()

    def run(self) -> Plain:
        if not self.items:
            raise _Other
        _, indent, content = self.items[0]
        if indent != 0 or content[0] == "-":
            raise _Other
        self.out.data = self.mapping(0, (), 0)
        if self.i != len(self.items):
            raise _Other
        return self.out

    # -- block collections ---------------------------------------------------------

    def mapping(self, indent: int, loc: Loc, depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise _Other
        items = self.items
        result: dict[str, Any] = {}
        self.out.positions[loc] = (items[self.i][0], indent + 1)
        while self.i < len(items):
            line, ind, content = items[self.i]
            if ind < indent:
                break
            if ind > indent or content[0] == "-":
                raise _Other
            key, after = self._key(content)
            if key in result:
                raise _Other
            here = (*loc, key)
            self.out.key_positions[here] = (line, ind + 1)
            self.i += 1
            rest = content[after:]
            if _TAIL.match(rest):  # the value is the block below
                result[key] = self.below(indent, here, depth, same_indent_list=True)
                continue
            start = after + len(rest) - len(rest.lstrip(" "))
            result[key] = self.inline(content, start, line, ind, here, depth)
        return result

    def sequence(self, indent: int, loc: Loc, depth: int) -> list[Any]:
        if depth > _MAX_DEPTH:
            raise _Other
        items = self.items
        result: list[Any] = []
        self.out.positions[loc] = (items[self.i][0], indent + 1)
        while self.i < len(items):
            line, ind, content = items[self.i]
            if ind < indent or (ind == indent and content[0] != "-"):
                break
            if ind > indent or not (content == "-" or content.startswith("- ")):
                raise _Other
            here = (*loc, len(result))
            rest = content[1:]
            if _TAIL.match(rest):  # the item is the block below
                self.i += 1
                result.append(self.below(indent, here, depth, same_indent_list=False))
                continue
            start = 1 + len(rest) - len(rest.lstrip(" "))
            if content[start] == "-":
                raise _Other  # a list in a list item
            if (content[start] not in "[{'\"" and _KEY.match(content, start)) or (
                content[start] in "'\"" and self._quoted_key(content, start)
            ):
                # `- key: ...`: a mapping whose keys stand at the key's column
                items[self.i] = (line, ind + start, content[start:])
                result.append(self.mapping(ind + start, here, depth + 1))
                continue
            self.i += 1
            result.append(self.inline(content, start, line, ind, here, depth))
        return result

    def below(self, indent: int, loc: Loc, depth: int, same_indent_list: bool) -> Any:
        """The block value of a key (or list item) at `indent`: more indented, or for a
        key a list at its own indent."""
        if self.i == len(self.items):
            raise _Other  # an empty value
        _, ind, content = self.items[self.i]
        is_list = content == "-" or content.startswith("- ")
        if ind > indent:
            if is_list:
                return self.sequence(ind, loc, depth + 1)
            return self.mapping(ind, loc, depth + 1)
        if ind == indent and is_list and same_indent_list:
            return self.sequence(ind, loc, depth + 1)
        raise _Other  # an empty value

    def _key(self, content: str) -> tuple[str, int]:
        """A mapping line's key and the index after its `:`."""
        if content[0] in "'\"":
            found = self._quoted_key(content, 0)
            if found is None:
                raise _Other
            return found
        m = _KEY.match(content)
        if m is None:
            raise _Other
        return m.group(1), m.end()

    @staticmethod
    def _quoted_key(s: str, k: int) -> tuple[str, int] | None:
        try:
            key, end = _quoted(s, k)
        except ValueError:
            raise _Other from None
        if s[end : end + 1] == ":" and (end + 1 == len(s) or s[end + 1] == " "):
            return key, end + 1
        return None

    # -- values on a line ----------------------------------------------------------

    def inline(self, s: str, k: int, line: int, indent: int, loc: Loc, depth: int) -> Any:
        """The scalar or flow collection at s[k], with nothing but a comment after it."""
        c = s[k]
        if c in "[{":
            value, end = self.flow(s, k, line, indent, loc, depth + 1)
        elif c in "'\"":
            self.out.positions[loc] = (line, indent + k + 1)
            try:
                value, end = _quoted(s, k)
            except ValueError:
                raise _Other from None
        elif c in _FIRST:
            self.out.positions[loc] = (line, indent + k + 1)
            end = s.find(" #", k)
            if end < 0:
                end = len(s)
            text = s[k:end].rstrip(" ")
            if ": " in text or text.endswith(":"):
                raise _Other
            value = self.plain(text, loc)
        else:
            raise _Other
        if not _TAIL.match(s, end):
            raise _Other
        return value

    def flow(self, s: str, k: int, line: int, indent: int, loc: Loc, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise _Other
        self.out.positions[loc] = (line, indent + k + 1)
        close = "]" if s[k] == "[" else "}"
        k = _skip(s, k + 1)
        if s[k] == close:
            return ([] if close == "]" else {}), k + 1
        if close == "]":
            items: list[Any] = []
            while True:
                value, k = self.flow_value(s, k, line, indent, (*loc, len(items)), depth)
                items.append(value)
                k = _after_item(s, k, close)
                if k < 0:
                    return items, -k
        mapping: dict[str, Any] = {}
        while True:
            if s[k] in "'\"":
                try:
                    key, after = _quoted(s, k)
                except ValueError:
                    raise _Other from None
            else:
                m = _FLOW_PLAIN.match(s, k)
                assert m is not None
                key = m.group(0).rstrip(" ")
                after = k + len(key)
                if not key or s[k] not in _FIRST or key in ("<<", "=") or s[after] == "?":
                    raise _Other
            if s[after : after + 2] != ": " or key in mapping:
                raise _Other
            here = (*loc, key)
            self.out.key_positions[here] = (line, indent + k + 1)
            k = _skip(s, after + 2)
            mapping[key], k = self.flow_value(s, k, line, indent, here, depth)
            k = _after_item(s, k, close)
            if k < 0:
                return mapping, -k

    def flow_value(
        self, s: str, k: int, line: int, indent: int, loc: Loc, depth: int
    ) -> tuple[Any, int]:
        c = s[k]
        if c in "[{":
            return self.flow(s, k, line, indent, loc, depth + 1)
        self.out.positions[loc] = (line, indent + k + 1)
        if c in "'\"":
            try:
                value, end = _quoted(s, k)
            except ValueError:
                raise _Other from None
            if s[end : end + 1] not in ("", " ", ",", "]", "}"):
                raise _Other
            return value, end
        if c not in _FIRST:
            raise _Other
        m = _FLOW_PLAIN.match(s, k)
        assert m is not None
        end = m.end()
        if s[end : end + 1] in (":", "#", "?"):
            raise _Other
        return self.plain(m.group(0).rstrip(" "), loc), end

    def plain(self, text: str, loc: Loc) -> Any:
        """A plain scalar as YAML 1.2 reads it (the loader's conversion of its tag)."""
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text in _NULL:
            return None
        if _DECIMAL.match(text):
            return int(text)
        first = text[0]
        if first in _NUMBER_FIRST and (
            FLOAT.match(text)
            or (first != "." and INT.match(text))
            or (first.isdigit() and TIMESTAMP.match(text))
        ):
            raise _Other  # ruamel tries each pattern on these first characters only
        if text in ("<<", "="):
            raise _Other
        if is_bool_word(text):
            self.out.bool_words.add(loc)
        return text


def _after_item(s: str, k: int, close: str) -> int:
    """After a flow item: the next item's index, or minus the index after `close`
    when the collection ends there (a trailing comma, `,,` or anything else: _Other)."""
    k = _skip(s, k)
    if s[k] == close:
        return -(k + 1)
    if s[k] != ",":
        raise _Other
    k = _skip(s, k + 1)
    if s[k] in ",]}":
        raise _Other
    return k


def _skip(s: str, k: int) -> int:
    while s[k] == " ":
        k += 1
    return k
