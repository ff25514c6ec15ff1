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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from compiler.fileio import MAX_INPUT_BYTES, read_regular
from compiler.gcpause import gc_paused
from compiler.problems import Problem, line_col
from compiler.sendmail.names import BIDI_CONTROLS, describe_char
from compiler.spec import rulemap
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
from compiler.spec.accesslist import PLACEHOLDER, AccessBlock, split_access

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


class _Resolver(VersionedResolver):
    """ruamel's resolver, faster where the C parser is used: each scalar asked the
    YAML version anew (through attributes that raise AttributeError, as the C
    parser has no scanner to ask) and joined two lists of implicit resolvers.

    With the C parser the version is ruamel's default for every document (it is
    read only from the pure scanner), so it is asked once; each first
    character's resolvers are listed once. The tags are the same (tested).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_version: Any = None
        self._by_first: dict[str, list[tuple[Any, Any]]] = {}

    @property
    def processing_version(self) -> Any:
        if self._fixed_version is None:
            self._fixed_version = VersionedResolver.processing_version.fget(self)  # type: ignore[attr-defined]
        return self._fixed_version

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            first = value[:1]
            resolvers = self._by_first.get(first)
            if resolvers is None:
                table = self.versioned_resolver
                resolvers = self._by_first[first] = table.get(first, []) + table.get(None, [])
            for tag, regexp in resolvers:
                if regexp.match(value):
                    return Tag(suffix=tag)
            implicit = (False, implicit[1])
        return super().resolve(kind, value, implicit)


def _yaml() -> YAML:
    try:
        yaml = YAML(typ="safe", pure=False)
    except Exception:  # pragma: no cover - no C extension
        return YAML(typ="safe", pure=True)
    if getattr(yaml.Parser, "__name__", "") == "CParser":
        yaml.Resolver = _Resolver
    return yaml


#: an integer in plain decimal digits, as Python prints it
_DECIMAL = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")
#: the most bits of an integer read as a number: Python prints none of more than 4,300
#: digits (a message or a define would raise), yet converts a hexadecimal or binary
#: scalar past that
_MAX_INT_BITS = 14_000


def _integer(value: str) -> int | str:
    """A scalar YAML resolved as an integer, as a number; the text when Python reads
    no number there or one too large to print."""
    text = value.replace("_", "")
    try:
        return int(text, 10)
    except ValueError:
        try:
            number = int(text, 0)
        except ValueError:
            return value
    return number if number.bit_length() <= _MAX_INT_BITS else value


def is_bool_word(text: str) -> bool:
    """True for yes, no, on, off, y and n in any case."""
    return len(text) <= 3 and text.lower() in BOOL_WORDS


def _pos(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


class _Converter:
    def __init__(self, source: str):
        self.source = source
        self.positions = Positions()
        self.key_positions: dict[Loc, tuple[int, int]] = {}
        self.bool_words: set[Loc] = set()
        self.number_words: dict[Loc, str] = {}
        self.problems: list[Problem] = []
        #: ids of the mappings whose own keys were checked for duplicates (Y002)
        self.checked: set[int] = set()

    def problem(self, node: Node | tuple[int, int], code: str, message: str) -> None:
        line, col = node if isinstance(node, tuple) else _pos(node)
        self.problems.append(Problem(self.source, line, col, code, "error", message))

    # -- size check, before anything is expanded -------------------------
    def expanded_size(self, root: Node) -> int:
        """Node count after alias expansion, computed on the shared graph.

        Also refuses nesting deeper than MAX_DEPTH once aliases are followed
        (raises _TooDeep): an alias can put a deep node under another one.
        """
        #: id -> (expanded node count, levels of collections from the node down)
        memo: dict[int, tuple[int, int]] = {}
        active: set[int] = set()

        def size(node: Node) -> tuple[int, int]:
            if isinstance(node, ScalarNode):
                return (1, 0)
            nid = id(node)
            found = memo.get(nid)
            if found is None:
                if nid in active:
                    raise _Recursive(node)
                if len(active) >= MAX_DEPTH:
                    raise _TooDeep(node)
                active.add(nid)
                total, height = 1, 0
                children = (
                    chain.from_iterable(node.value) if isinstance(node, MappingNode) else node.value
                )
                for child in children:
                    child_size, child_height = size(child)
                    total += child_size
                    if child_height > height:
                        height = child_height
                    if total > MAX_EXPANDED_NODES:
                        break
                active.discard(nid)
                found = memo[nid] = (total, height + 1)
            if len(active) + found[1] > MAX_DEPTH:
                raise _TooDeep(node)
            return found

        return size(root)[0]

    # -- conversion -----------------------------------------------------
    def convert(self, node: Node, loc: Loc) -> Any:
        self.positions[loc] = _pos(node)
        if isinstance(node, ScalarNode):
            value = self.scalar(node)
            # plain style is '' from the C parser and None from the pure one
            if not node.style and isinstance(value, str) and is_bool_word(value):
                self.bool_words.add(loc)
            elif type(value) is int and not _DECIMAL.match(node.value):
                self.number_words[loc] = node.value
            return value
        if isinstance(node, SequenceNode):
            return [self.convert(item, (*loc, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, loc)
        self.problem(node, "Y004", "unsupported YAML node")  # pragma: no cover
        return None

    def scalar(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        if tag == _TAG + "str" or tag == _TAG + "timestamp":
            return value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return value.lower() in ("true", "yes", "on")
        if tag == _TAG + "int":
            return _integer(value)
        if tag == _TAG + "float":
            try:
                return float(value)
            except ValueError:
                return value
        self.problem(node, "Y004", f"YAML tag {tag} is not allowed in a spec; write a plain value")
        return value

    def key_text(self, node: Node) -> str | None:
        tag = node.tag or ""
        if isinstance(node, ScalarNode) and not tag.startswith("!") and not tag.endswith(":binary"):
            return str(node.value)
        self.problem(node, "Y004", "a mapping key must be a plain scalar")
        return None

    def pairs(self, node: MappingNode, own: bool = True) -> list[tuple[Node, Node, bool]]:
        """Key/value pairs of a mapping, explicit ones first, then merged-in ones; `own`:
        report a second `<<` here (a merged-in mapping's keys are duplicates()'s)."""
        explicit: list[tuple[Node, Node, bool]] = []
        merged: list[tuple[Node, Node, bool]] = []
        merge_key: Node | None = None
        for knode, vnode in node.value:
            if knode.tag != _MERGE:
                explicit.append((knode, vnode, False))
                continue
            if merge_key is None:
                merge_key = knode
            elif own:
                self.problem(knode, "Y002", _second_merge(_pos(merge_key)[0]))
            sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
            for src in sources:
                if not isinstance(src, MappingNode):
                    self.problem(src, "Y004", "a merge key (<<) must refer to a mapping")
                    continue
                self.duplicates(src)
                merged.extend((k, v, True) for k, v, _ in self.pairs(src, own=False))
        return explicit + merged

    def duplicates(self, node: MappingNode) -> None:
        """Report each key written twice in a merged-in mapping (Y002), and a second `<<`
        there, once per mapping.

        Such a mapping (`<<: {fqdn: a, fqdn: b}`) may never be converted on its own,
        where mapping() says so; and readers do not agree on which of the two wins
        (ruamel's safe loader keeps the last, PyYAML the first; ruamel refuses a
        second `<<`), so a reviewer cannot tell from the text what the spec says.
        """
        if id(node) in self.checked:
            return
        self.checked.add(id(node))
        seen: dict[str, Node] = {}
        merge_key: Node | None = None
        for knode, _ in node.value:
            if not isinstance(knode, ScalarNode):
                continue  # key_text refuses it
            if knode.tag == _MERGE:
                if merge_key is not None:
                    self.problem(knode, "Y002", _second_merge(_pos(merge_key)[0]))
                merge_key = merge_key or knode
                continue
            key = str(knode.value)
            if key in seen:
                self.problem(knode, "Y002", _duplicate(key, _pos(seen[key])[0]))
            else:
                seen[key] = knode

    def mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        # its keys are checked once: a mapping converted again (an alias) or merged in
        # before (duplicates()) was
        own = id(node) not in self.checked
        self.checked.add(id(node))
        result: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        for knode, vnode, from_merge in self.pairs(node, own):
            key = self.key_text(knode)
            if key is None:
                continue
            if key in seen:
                if own and not from_merge:
                    self.problem(knode, "Y002", _duplicate(key, _pos(seen[key])[0]))
                continue
            seen[key] = knode
            self.key_positions[(*loc, key)] = _pos(knode)
            result[key] = self.convert(vnode, (*loc, key))
        return result


def _duplicate(key: str, line: int) -> str:
    return f"duplicate key '{key}'; it is already set on line {line}"


def _second_merge(line: int) -> str:
    return (
        f"duplicate merge key '<<'; one is already on line {line}: merge several mappings"
        " with one list, `<<: [*a, *b]` (the first wins)"
    )


class _Recursive(Exception):
    def __init__(self, node: Node):
        self.node = node


class _TooDeep(_Recursive):
    pass


def _too_deep(source: str, line: int, col: int) -> Problem:
    return Problem(
        source, line, col, "Y003", "error", f"the spec is nested more than {MAX_DEPTH} levels deep"
    )


def _tag_text(tag: str) -> str:
    if tag.startswith(_TAG):
        return "!!" + tag.removeprefix(_TAG)
    return tag if tag.startswith("!") else f"!<{tag}>"


def _check_events(yaml: YAML, text: str, source: str) -> None:
    """One pass over the parse events, before composing.

    Refuses deep nesting (the C composer recurses and would crash), every
    explicit tag (Y004): the composer resolves some tags away (`!evil` on a
    mapping comes back as a plain mapping, `!!str` as a plain string), so
    the events, which keep each tag as written, are where they are seen; a
    `%YAML` directive for another version than 1.2 (_old_version); and an
    anchor defined twice (_anchor_again).
    """
    depth = 0
    problems: list[Problem] = []
    anchors: dict[str, Any] = {}
    for event in yaml.parse(text):
        cls = type(event)
        if cls is DocumentStartEvent and event.version not in (None, (1, 2)):
            raise SpecLoadError([_old_version(text, source, event.version)])
        if cls is ScalarEvent:
            if event.tag is not None:
                problems.append(_tag_problem(source, event))
            if event.anchor is not None:
                _anchor_again(anchors, event, source)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if event.tag is not None:
                problems.append(_tag_problem(source, event))
            if event.anchor is not None:
                _anchor_again(anchors, event, source)
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise SpecLoadError([_too_deep(source, mark.line + 1, mark.column + 1)])
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            depth -= 1
    if problems:
        raise SpecLoadError(problems[:MAX_TAG_PROBLEMS])


def _anchor_again(anchors: dict[str, Any], event: Any, source: str) -> None:
    """Note `event`'s anchor; a second one of that name is Y001.

    The C composer refused it saying only "second occurrence"; the pure one, which
    tlsc falls back to, printed a warning of several lines and made each later alias
    refer to the second node, while a reviewer looking up `*port` finds the first
    `&port` (and PyYAML refuses the file).
    """
    first = anchors.setdefault(event.anchor, event)
    if first is event:
        return
    mark = event.start_mark
    message = (
        f"not valid YAML: the anchor &{event.anchor} is defined again (first on line"
        f" {first.start_mark.line + 1}), and readers differ on which one an alias means;"
        " name each anchor once"
    )
    raise SpecLoadError([Problem(source, mark.line + 1, mark.column + 1, "Y001", "error", message)])


_VERSION_DIRECTIVE = re.compile(r"^%YAML[ \t]", re.MULTILINE)


def _old_version(text: str, source: str, version: tuple[int, int]) -> Problem:
    """Y001 at a `%YAML 1.1` line: tlsc reads every spec as YAML 1.2 (its C parser does
    not switch), while ruamel's pure parser, which tlsc falls back to without the C
    extension, and every YAML 1.1 reader would take `yes`, `off` as booleans and `017`
    as octal there: one spec, two meanings."""
    found = _VERSION_DIRECTIVE.search(text)
    at = found.start() if found else 0
    line = text.count("\n", 0, at) + 1
    message = (
        f"not valid YAML for tlsc: the spec is read as YAML 1.2, and %YAML"
        f" {version[0]}.{version[1]} would make other readers take yes, no, on and off"
        " as booleans and 017 as octal; remove the directive"
    )
    return Problem(source, line, 1, "Y001", "error", message)


def _tag_problem(source: str, event: Any) -> Problem:
    mark = event.start_mark
    message = f"YAML tag {_tag_text(event.tag)} is not allowed in a spec; write a plain value"
    return Problem(source, mark.line + 1, mark.column + 1, "Y004", "error", message)


def load_text(text: str, source: str = "cluster.yaml", read: Reader | None = None) -> LoadedSpec:
    """Parse spec text; raise SpecLoadError with located problems if it is not usable data.

    The access files it names are read with `read` (default: from the disk, relative
    to `source`'s directory); a file that cannot be read is a validation problem.
    """
    _check_line_breaks(text, source)  # the fast paths' blocks too
    _check_bidi(text, source)
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
        return _compose(text, source)
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


def _compose(text: str, source: str, extra_nodes: int = 0) -> LoadedSpec:
    """The general loader; `extra_nodes` is the size of a list read apart."""
    _check_line_breaks(text, source)
    _check_bidi(text, source)
    conv = _Converter(source)
    try:
        yaml = _yaml()
        _check_events(yaml, text, source)
        root = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or exc.context or "invalid YAML").strip()
        if what.startswith("found character") and "cannot start any token" in what:
            what = _no_token(text, line, col)
        raise SpecLoadError(
            [Problem(source, line, col, "Y001", "error", f"not valid YAML: {what}")]
        ) from None
    except ReaderError as exc:
        # a character YAML refuses: name it and place it, in one sentence
        before = text[: max(exc.position, 0)]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        message = f"not valid YAML: the character U+{char:04X} is not allowed in YAML"
        raise SpecLoadError([Problem(source, line, col, "Y001", "error", message)]) from None
    except YAMLError as exc:
        raise SpecLoadError(
            [Problem(source, 1, 1, "Y001", "error", f"not valid YAML: {exc}")]
        ) from None
    except RecursionError:
        raise SpecLoadError([_too_deep(source, 1, 1)]) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == _TAG + "null"):
        raise SpecLoadError([Problem(source, 1, 1, "Y005", "error", "the spec is empty")])
    try:
        size = conv.expanded_size(root) + extra_nodes
    except _TooDeep as deep:
        raise SpecLoadError([_too_deep(source, *_pos(deep.node))]) from None
    except _Recursive as rec:
        line, col = _pos(rec.node)
        raise SpecLoadError(
            [Problem(source, line, col, "Y003", "error", "an alias refers to itself")]
        ) from None
    if size > MAX_EXPANDED_NODES:
        raise SpecLoadError(
            [
                Problem(
                    source,
                    1,
                    1,
                    "Y003",
                    "error",
                    f"aliases expand the spec to more than {MAX_EXPANDED_NODES:,} nodes;"
                    " refusing what looks like an alias bomb",
                )
            ]
        )
    if not isinstance(root, MappingNode):
        line, col = _pos(root)
        raise SpecLoadError(
            [
                Problem(
                    source,
                    line,
                    col,
                    "Y005",
                    "error",
                    "the spec must be a mapping of keys",
                )
            ]
        )
    data = conv.convert(root, ())
    loaded = LoadedSpec(
        source, data, conv.positions, conv.key_positions, conv.bool_words, conv.number_words
    )
    if conv.problems:
        # in file order: a mapping merged in is checked where it is first merged
        conv.problems.sort(key=lambda p: (p.line, p.col))
        # duplicate keys leave whole data (the first value); other problems do not
        whole = all(p.code == "Y002" for p in conv.problems)
        raise SpecLoadError(conv.problems, partial=loaded if whole else None)
    return loaded


def _no_token(text: str, line: int, col: int) -> str:
    """What the C parser says as "found character that cannot start any token", with
    the character named: a tab (YAML indents with spaces) or an indicator YAML keeps
    for itself (`@`, a back-tick, `%` after the start)."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
    ch = text[start + col - 1 : start + col] or "?"
    if ch == "\t":
        return "found a tab where YAML allows only spaces; indent with spaces"
    return f"{describe_char(ch)} cannot start a value in YAML; quote the value"


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
