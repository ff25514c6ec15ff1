"""The general YAML loader of a spec: ruamel.yaml composes, tlsc converts.

compiler/spec/loader.py says what it guarantees; this is its ruamel.yaml side,
imported only when a spec needs it (plainyaml.py reads a spec of the plain
shape without it, at a tenth of ruamel.yaml's import).
"""

from __future__ import annotations

import re
from itertools import chain
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

from compiler.problems import Problem
from compiler.sendmail.names import describe_char
from compiler.spec.loader import (
    _DECIMAL,
    _MERGE,
    _TAG,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    MAX_TAG_PROBLEMS,
    LoadedSpec,
    Loc,
    Positions,
    SpecLoadError,
    _check_bidi,
    _check_line_breaks,
    is_bool_word,
)


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
            # YAML's .inf, -.inf and .nan are floats to every YAML reader (Python's
            # float() knows them only without the dot): a float, refused where text goes
            special = value.lstrip("+-").lower()
            if special in (".inf", ".nan"):
                return float(value.replace(".", "", 1))
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


def compose(text: str, source: str, extra_nodes: int = 0) -> LoadedSpec:
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
