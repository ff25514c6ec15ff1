"""Load a spec file into plain data, remembering where every node stood.

We compose the YAML into a node graph (ruamel.yaml, with its C parser when
installed) and convert it ourselves, so that we control exactly what YAML may
do to a spec:

* every key and value keeps its line and column, for error messages;
* a duplicate key is an error naming both lines (YAML loaders usually keep
  the last one silently);
* anchors, aliases and merge keys (`<<`) work, but the expanded size is
  computed first from the shared graph, so an alias bomb is refused at once;
* only plain scalars, mappings and sequences are accepted; every explicit tag
  (`!x`, `!!str`, `!<tag:x>`, on a key, a value or a collection) is refused;
* an unquoted YAML 1.1 boolean word (`yes`, `off`, ...) is a string in YAML
  1.2, so its location is kept: validation refuses it where a boolean may
  have been meant, and accepts the quoted word as the text;
* so is that of an unquoted number not written in plain decimal digits
  (`017`, `0x1F`, `1_000`, `+1`): YAML 1.1 and 1.2 read some of them as other
  numbers or as text, and a define would be written as other digits than
  the spec shows, so validation refuses each (numbers.py).

The general loader is yamlcompose.py (ruamel.yaml, imported only when it
runs). A small spec of the plain shape (block mappings and lists, one-line
scalars and flow collections, comments) is read by plainyaml.py without it,
and a big one's long lists and rule mappings by bigspec.py's fast paths; both
give what the general loader gives, or leave the file to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.fileio import MAX_INPUT_BYTES, read_regular
from compiler.gcpause import gc_paused
from compiler.problems import Problem, line_col
from compiler.sendmail.names import BIDI_CONTROLS, describe_char
from compiler.spec.accessfiles import (
    AccessFileRead,
    Reader,
    disk_reader,
    file_items,
    is_good_name,
    read_access_file,
    shown_path,
    split_entry_loc,
)

if TYPE_CHECKING:
    from compiler.spec.accesslist import AccessBlock

#: Largest number of nodes a spec may expand to once aliases are followed.
#: A 50-host, 100k-entry cluster is about 0.2M nodes; a billion-laughs file
#: is billions.
MAX_EXPANDED_NODES = 5_000_000
#: Deepest nesting a spec may have. A real spec is about 6 levels deep; this
#: bound keeps every recursive walk far from Python's recursion limit.
MAX_DEPTH = 64
#: most Y004 problems reported for tags in one spec
MAX_TAG_PROBLEMS = 100

Loc = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"
#: YAML 1.1's booleans besides true and false (any case); YAML 1.2 reads them as text
BOOL_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})


class Positions(dict[Loc, tuple[int, int]]):
    """loc -> (line, col). A list read by the fast path (accesslist.py) answers for
    its items from its AccessBlock, without an entry each."""

    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[Loc, AccessBlock] = {}

    def _item(self, loc: Loc) -> tuple[int, int] | None:
        if self.lists and loc and isinstance(loc[-1], int):
            block = self.lists.get(loc[:-1])
            if block is not None:
                return block.position(loc[-1])
        return None

    def __missing__(self, loc: Loc) -> tuple[int, int]:
        hit = self._item(loc)
        if hit is None:
            raise KeyError(loc)
        return hit

    def get(self, loc: Loc, default: Any = None) -> Any:
        hit = dict.get(self, loc)
        if hit is None:
            hit = self._item(loc)
        return default if hit is None else hit

    def __contains__(self, loc: object) -> bool:
        return dict.__contains__(self, loc) or (
            isinstance(loc, tuple) and self._item(loc) is not None
        )


@dataclass
class LoadedSpec:
    """A spec as plain data plus the position of every node in its file."""

    source: str
    data: dict[str, Any]
    #: loc -> (line, col) of the value at that loc, 1-based
    positions: dict[Loc, tuple[int, int]] = field(default_factory=Positions)
    #: loc -> (line, col) of the mapping key that introduces that loc
    key_positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    #: locs of values written as unquoted YAML 1.1 booleans (`yes`, `Off`, ...),
    #: which YAML 1.2 reads as strings
    bool_words: set[Loc] = field(default_factory=set)
    #: loc -> the text of each unquoted integer not written in plain decimal digits
    #: (`017`, `0x1F`, `1_000`, `+1`): the number is not the text a reviewer reads
    number_words: dict[Loc, str] = field(default_factory=dict)
    #: loc of each `{file: PATH}` access item -> the file read (accessfiles.py)
    access_files: dict[Loc, AccessFileRead] = field(default_factory=dict)

    def where(self, loc: Loc, key: bool = False) -> tuple[str, int, int]:
        """(file, line, col) of `loc`: in the spec, or in an access file it names."""
        in_file = split_entry_loc(loc)
        if in_file is not None and in_file[0] in self.access_files:
            return (self.access_files[in_file[0]].source, in_file[1], 1)
        return (self.source, *self.locate(loc, key))

    def locate(self, loc: Loc, key: bool = False) -> tuple[int, int]:
        """Best known position for `loc`: its own, else its nearest parent's."""
        table = self.key_positions if key else self.positions
        for n in range(len(loc), -1, -1):
            hit = table.get(loc[:n]) or self.positions.get(loc[:n])
            if hit:
                return hit
        return (1, 1)


class SpecLoadError(Exception):
    """The file could not be turned into data; carries the problems."""

    def __init__(self, problems: list[Problem], partial: LoadedSpec | None = None):
        super().__init__(problems[0].message if problems else "cannot load spec")
        self.problems = problems
        #: the data despite the problems (a duplicate key keeps its first value), so
        #: that validation can still report every other problem at once; None when
        #: the file gave no usable data
        self.partial = partial


#: an integer in plain decimal digits, as Python prints it
_DECIMAL = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")


def is_bool_word(text: str) -> bool:
    """True for yes, no, on, off, y and n in any case."""
    return len(text) <= 3 and text.lower() in BOOL_WORDS


def load_text(text: str, source: str = "cluster.yaml", read: Reader | None = None) -> LoadedSpec:
    """Parse spec text; raise SpecLoadError with located problems if it is not usable data.

    The access files it names are read with `read` (default: from the disk, relative
    to `source`'s directory); a file that cannot be read is a validation problem.
    """
    _check_line_breaks(text, source)  # the fast paths' blocks too
    _check_bidi(text, source)
    _check_surrogates(text, source)
    with gc_paused():
        try:
            loaded = _load_text(text, source)
        except SpecLoadError as exc:
            if exc.partial is not None:
                _read_files(exc.partial, read or disk_reader(source))
            raise
        _read_files(loaded, read or disk_reader(source))
        return loaded


#: the line breaks ruamel's scanner ends a line at where git, diff and a review do
#: not: a CR alone (not before LF), and YAML 1.1's NEL, U+2028 and U+2029, which
#: YAML 1.2 makes ordinary characters
_OLD_LINE_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")


def _check_line_breaks(text: str, source: str) -> None:
    """Refuse a CR alone, NEL, U+2028 and U+2029 written as themselves (Y001): the
    parser ends a line there, a diff does not, so the rest of a comment would be read
    as spec text that a reviewer sees as a comment, and every position after it would
    be off. CRLF is one line break for both. Escaped in a double-quoted string
    (`"\\u2028"`, `"\\r"`) they reach validation."""
    lone_cr = text.count("\r") != text.count("\r\n")
    if not lone_cr and (text.isascii() or not any(c in text for c in "\x85\u2028\u2029")):
        return  # C-level scans: the pattern's search costs 0.17 s on a 54 MB spec
    found = _OLD_LINE_BREAKS.search(text)
    if found is None:  # pragma: no cover  (one of them is there)
        return
    at = found.start()
    line, col = line_col(text, at)
    message = (
        f"not valid YAML: {describe_char(found.group(0))} ends a line for the YAML parser"
        " but not in a diff, so what follows it in a comment would be read as spec;"
        " remove it or write it escaped in a double-quoted string"
    )
    raise SpecLoadError([Problem(source, line, col, "Y001", "error", message)])


_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def _check_bidi(text: str, source: str) -> None:
    """Refuse a bidirectional control written as itself (Y001): a diff, an editor and a
    terminal show the line reordered, the parser reads it in its stored order, so a
    value can look like a comment and a comment like a value ("Trojan Source",
    CVE-2021-42574): the spec would say otherwise than its review read. Nothing in a
    spec needs one (right-to-left names are ordered without them); escaped in a
    double-quoted string (`"\u202e"`) one is visible, and reaches validation."""
    if text.isascii() or not any(c in text for c in BIDI_CONTROLS):
        return  # C-level scans, as for the line breaks
    found = _BIDI.search(text)
    if found is None:  # pragma: no cover  (one of them is there)
        return
    at = found.start()
    line, col = line_col(text, at)
    message = (
        f"not valid YAML for tlsc: {describe_char(found.group(0))} makes a diff show the"
        " line in another order than the parser reads it; remove it or write it escaped"
        " in a double-quoted string"
    )
    raise SpecLoadError([Problem(source, line, col, "Y001", "error", message)])


#: a lone surrogate: a byte no UTF-8 decoder took, kept by surrogateescape (a command-line
#: argument, such as `tlsc logs --propose`, with such a byte in it)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_surrogates(text: str, source: str) -> None:
    """Refuse text that holds what no UTF-8 file can (Y001, as load_file does the bytes):
    the parser, which encodes its input, would stop on it with UnicodeEncodeError."""
    if text.isascii():
        return
    found = _SURROGATE.search(text)
    if found is not None:
        line, col = line_col(text, found.start())
        raise SpecLoadError(
            [Problem(source, line, col, "Y001", "error", "the text is not valid UTF-8")]
        )


def _read_files(loaded: LoadedSpec, read: Reader) -> None:
    """Read every access file the spec names with a name check_name accepts."""
    lists = loaded.positions.lists if isinstance(loaded.positions, Positions) else {}
    first: dict[str, Loc] = {}
    for loc, name in file_items(loaded.data, frozenset(lists)):
        if not is_good_name(name):
            continue
        source = shown_path(loaded.source, name)
        if source in first:  # named again: validation says so; its entries count once
            loaded.access_files[loc] = AccessFileRead(name, source, again=first[source])
            continue
        first[source] = loc
        loaded.access_files[loc] = read_access_file(name, loaded.source, read)


#: below this size a spec goes to the general loader alone: the fast path's patterns
#: cost more to compile than they save (tests set it to 0 to take it at every size)
FAST_PATH_BYTES = 32_768


def _load_text(text: str, source: str) -> LoadedSpec:
    """The fast paths for a long `access:` list and long `domains:` and `recipients:`
    mappings where they apply, else the general loader."""
    if len(text) < FAST_PATH_BYTES:
        plain = _plain(text, source)
        return plain if plain is not None else _compose(text, source)
    from compiler.spec.bigspec import load_big  # its fast paths, imported for a big spec

    return load_big(text, source)


def _plain(text: str, source: str) -> LoadedSpec | None:
    """A spec of the plain shape, read without ruamel.yaml (plainyaml.py); None: not one."""
    from compiler.spec import plainyaml

    read = plainyaml.read(text)
    if read is None:
        return None
    positions = Positions()
    positions.update(read.positions)
    return LoadedSpec(source, read.data, positions, read.key_positions, read.bool_words, {})


def _compose(text: str, source: str, extra_nodes: int = 0) -> LoadedSpec:
    """The general loader (yamlcompose.py: ruamel.yaml, imported only when it runs)."""
    from compiler.spec.yamlcompose import compose

    return compose(text, source, extra_nodes)


def unreadable_problem(source: str, exc: OSError) -> Problem:
    """Y000 at 1:1: the spec file cannot be read (`exc` says why)."""
    return Problem(source, 1, 1, "Y000", "error", f"cannot read the spec: {exc.strerror}")


def load_file(path: str | Path, read: Reader | None = None) -> LoadedSpec:
    """Read and parse a spec file (UTF-8)."""
    source = str(path)
    try:
        raw = read_regular(path, MAX_INPUT_BYTES)
    except OSError as exc:
        raise SpecLoadError([unreadable_problem(source, exc)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecLoadError(
            [Problem(source, line, col, "Y001", "error", "the spec is not valid UTF-8")]
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return load_text(text, source, read)
