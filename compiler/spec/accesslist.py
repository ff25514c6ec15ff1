"""The spec's top-level `access:` list, read in one pass over its text.

A big cluster's spec is mostly this list: 100,000 lines of `- "KEY VALUE"`.
Composing each item as a YAML node (and recording its position) costs more
than everything else the loader does, so when the list has the plain shape
below it is read here with a few regular expressions, and the loader parses
the rest of the file with the list cut out (its lines left blank, so every
other position stays where it was):

    access:               # the key at column 1, nothing after it but a comment
      - "KEY VALUE"       # a double-quoted scalar (escapes: \\" and \\\\ only),
      - 'KEY VALUE'       # a single-quoted one ('' for a quote),
      - KEY VALUE         # or a plain one holding a blank; then maybe a comment
      # comment lines and blank lines anywhere

every item on one line at one indentation (0 too: `- x` under `access:`),
the list ending at the next line that starts in column 1. Anything else
(an anchor, a tag, an escape, a multi-line scalar, a tab, a CR, a character
YAML refuses, a second `access:` key, an item that might not be a string)
leaves the whole file to the general loader, which the loader also does when
the rest of the file is not what the cut assumed. tests/test_spec_accesslist.py
holds both paths to the same data, positions and problems.

Positions are not stored per item: a list whose lines are all items at one
column answers by arithmetic, any other keeps two compact arrays.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

#: characters never read here: what ruamel's reader refuses, the line breaks YAML
#: 1.1 knows beyond \n (NEL, LS, PS), controls (CR and tab too) and the BOM
_BAD = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ufeff\\ufffe\\uffff"
#: the key's line, matched where a line starts with `access`
_KEY = re.compile(rf"access *+:(?: ++#[^{_BAD}]*+)? *+(?:\n|\Z)")
_ANY_KEY = re.compile(r"access *:")
_FIRST_ITEM = re.compile(r"(?m)^( *)- ")
# Every repeat below is possessive and runs over character classes: the engine
# then reads a line in a few C loops, not character by character.
#: a plain scalar that is surely a string: no indicator first, no ': ' or ' #'
#: inside, no ':' last, and a blank between two words (so never a number, a
#: boolean or null)
_PLAIN_WORD = rf"(?:[^\s:#{_BAD}]++|:(?=[^\s{_BAD}])|(?<=[^\s])#)++"
_PLAIN = rf"(?![-?:,\[\]{{}}#&*!|>'\"%@`]){_PLAIN_WORD}(?: ++{_PLAIN_WORD})++"
#: a double-quoted scalar's content, whose only escapes are \\" and \\\\
_DOUBLE = rf'(?:[^"\\{_BAD}]++|\\["\\])++'
_SINGLE = rf"'(?:[^'{_BAD}]++|'')++'"
_AFTER = rf"(?: ++#[^{_BAD}]*+)? *+\n"
_OTHER_LINE = rf" *+(?:#[^{_BAD}]*+)?\n"


def _lines(indent: str, scalar: str) -> re.Pattern[str]:
    """Each line of the list: an item at `indent` (`scalar`'s group 1), or a blank or
    comment line (group 1 empty)."""
    return re.compile(rf"(?m)^(?:{indent}- ++{scalar}{_AFTER}|{_OTHER_LINE})")


#: the scalars a list may hold, as a group: only double-quoted ones (the group is
#: their content), only plain ones, or any of the three (quotes kept)
_ONLY_DOUBLE = rf'"({_DOUBLE})"'
_ONLY_PLAIN = rf"({_PLAIN})"
_ANY = rf'("{_DOUBLE}"|{_SINGLE}|{_PLAIN})'


@dataclass
class AccessBlock:
    """The items of the list and where each stood."""

    texts: Sequence[str]  # Released once checked (validate._release_texts)
    #: 1-based line of the `access:` key
    key_line: int
    #: (line, col) of the first item's dash: the position of the list itself
    start: tuple[int, int]
    #: (first item's line, the column of every item) when each line holds one item
    regular: tuple[int, int] | None
    lines: array[int]
    cols: array[int]

    def position(self, index: int) -> tuple[int, int] | None:
        """(line, col) of item `index`, None when there is no such item."""
        if not 0 <= index < len(self.texts):
            return None
        if self.regular is not None:
            return (self.regular[0] + index, self.regular[1])
        return (self.lines[index], self.cols[index])


#: the text the key's line becomes for the general loader
PLACEHOLDER = "access: []"


def split_access(text: str) -> tuple[str, AccessBlock] | None:
    """(the text with the list's lines blank and `access: []` for its key, the list),
    or None when the list is not in the shape read here."""
    key = _find_key(text)
    if key is None:
        return None
    key_start, body_start = key
    first = _FIRST_ITEM.search(text, body_start)
    if first is None:
        return None
    indent = first.group(1)
    end = _block_end(text, body_start, bool(indent))
    # the list is read in place, text[body_start:end] (a copy would be another 45 MB
    # for a million items); it starts a line, where ^ matches
    if not text.endswith("\n", body_start, end):
        return None
    lines_found = text.count("\n", body_start, end)
    # the usual list holds one kind of scalar: read it as such, else as any mixture
    kind = _ONLY_DOUBLE if text.startswith('"', first.end()) else _ONLY_PLAIN
    texts = _one_per_line(text, body_start, end, indent, kind == _ONLY_DOUBLE)
    for scalar in (kind, _ANY) if texts is None else ():
        raw = _lines(indent, scalar).findall(text, body_start, end)
        # each match is one whole line: as many matches as lines, every line matched
        if len(raw) == lines_found:
            items = [s for s in raw if s] if "" in raw else raw
            del raw
            texts = _values(items, scalar)
            break
    if texts is None:
        return None
    key_line = text.count("\n", 0, key_start) + 1
    first_line = key_line + 1 + text.count("\n", body_start, first.start())
    lines: array[int] = array("I")
    cols: array[int] = array("I")
    regular: tuple[int, int] | None = None
    one_blank = indent + "-  "
    if (
        len(texts) == lines_found
        and not text.startswith(one_blank, body_start, end)
        and text.find("\n" + one_blank, body_start, end) < 0
    ):
        # every line an item, each with one blank after its dash: all at one column
        regular = (first_line, len(indent) + 3)
    else:
        line, at = key_line + 1, body_start
        for m in re.compile(rf"(?m)^{indent}- ++{_ANY}").finditer(text, body_start, end):
            line += text.count("\n", at, m.start())
            at = m.start()
            lines.append(line)
            cols.append(m.start(1) - m.start() + 1)
    cut = text[:key_start] + PLACEHOLDER + "\n" * text.count("\n", key_start, end) + text[end:]
    return cut, AccessBlock(texts, key_line, (first_line, len(indent) + 1), regular, lines, cols)


#: characters of the list cut into items at a time (_one_per_line)
_CUT_CHARS = 1 << 20


def _one_per_line(text: str, start: int, end: int, indent: str, double: bool) -> list[str] | None:
    """The items of text[start:end] when every line of it is one item of the usual
    shape, `INDENT- "CONTENT"` (`double`) or `INDENT- CONTENT`, one blank after the
    dash and nothing after the scalar; else None (findall reads the others).

    The shape is checked by one match that captures nothing; the items are then
    cut with str.split at what stands between two of them, a block of lines at a
    time, a double-quoted block's escapes read first (none spans two items, and
    a line break is in none, so the quote before one closes its item), each item
    made once, in order."""
    head = indent + ('- "' if double else "- ")
    tail = '"\n' if double else "\n"
    scalar = f'"{_DOUBLE}"' if double else _PLAIN
    shape = re.compile(rf"(?:{re.escape(indent)}- {scalar}\n)*+")
    if shape.match(text, start, end).end() != end:  # type: ignore[union-attr]  # never None
        return None
    between = tail + head
    items: list[str] = []
    at = start
    while at < end:
        cut = text.find("\n", min(at + _CUT_CHARS, end - 1), end) + 1
        block = text[at + len(head) : cut - len(tail)]
        if double and "\\" in block:
            block = _unescaped(block)
        items += block.split(between)
        at = cut
    return items


def _find_key(text: str) -> tuple[int, int] | None:
    """(where the key's line starts, where the next line starts) when the text has
    exactly one line starting `access:`, in the shape read here; else None."""
    starts = [0] if text.startswith("access") else []
    at = text.find("\naccess")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\naccess", at + 1)
    keys = [at for at in starts if _ANY_KEY.match(text, at)]
    if len(keys) != 1:
        return None
    m = _KEY.match(text, keys[0])
    return None if m is None else (keys[0], m.end())


def _block_end(text: str, start: int, indented: bool) -> int:
    """Where the list ends: the next line starting in column 1 that is not a comment
    (nor, for a list at column 1, an item), or the end of the text."""
    stop = r"\n(?=[^ #\n])" if indented else r"\n(?=[^ #\n-]|-[^ ])"
    m = re.compile(stop).search(text, start - 1)
    return len(text) if m is None else m.start() + 1


#: items unescaped at a time (_values)
_UNESCAPE_BLOCK = 1 << 16
_ESCAPED = re.compile(r'\\(["\\\\])')


def _values(items: list[str], scalar: str) -> list[str]:
    """The scalars' values: quotes removed, \\" and \\\\ in a double-quoted one made
    the character, '' in a single-quoted one made one quote."""
    if scalar == _ONLY_PLAIN:
        return items
    if scalar == _ONLY_DOUBLE:
        # in place, a block of items at a time: a block that holds an escape is joined,
        # its escapes read and split again, so that its old strings are let go of
        # together, whole pages of memory given back. Replacing one item here and
        # there instead would leave holes among the others that the objects made next
        # fill, and those would keep every page of the list once it is let go of.
        # (No escape spans two items, nor is a line break in one.)
        for start in range(0, len(items), _UNESCAPE_BLOCK):
            joined = "\n".join(items[start : start + _UNESCAPE_BLOCK])
            if "\\" in joined:
                items[start : start + _UNESCAPE_BLOCK] = _unescaped(joined).split("\n")
        return items
    return [
        (_unescaped(s[1:-1]) if "\\" in s else s[1:-1])
        if s[0] == '"'
        else s[1:-1].replace("''", "'")
        if s[0] == "'"
        else s
        for s in items
    ]


def _unescaped(content: str) -> str:
    """A double-quoted scalar's content with its escapes \\" and \\\\ read."""
    if "\\\\" not in content:
        return content.replace('\\"', '"')
    return _ESCAPED.sub(r"\1", content)
