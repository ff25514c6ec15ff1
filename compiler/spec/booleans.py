"""YAML 1.1 booleans written where the spec takes text beside true, false or null.

The loader reads YAML 1.2, where only `true` and `false` are booleans: an
unquoted `yes`, `no`, `on`, `off`, `y` or `n` is the text itself. Written
with YAML 1.1 habits, `cn: yes` would compile to `+CN:yes` and a define
`on` to a value sendmail reads as false (only t... and y... are true). So
wherever a field takes text and also true/false or null, an unquoted one of
these words is refused; quoted, it is the text. Which fields those are is
read from the models, so a new field is covered without a list to keep.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from compiler.spec.loader import LoadedSpec, Loc
from compiler.spec.model import Cluster

#: what a field accepts as written in YAML
Kinds = frozenset[str]

_UNION = (typing.Union, types.UnionType)


def accepted_kinds(tp: Any) -> Kinds:
    """The kinds of YAML value `tp` accepts: text, bool, null, number, choice, other.

    A BeforeValidator's declared input type counts over the type it produces
    (a define takes true and writes it as text).
    """
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        return _kinds(base, meta)
    if origin in _UNION:
        return frozenset().union(*(accepted_kinds(a) for a in typing.get_args(tp)))
    if origin is typing.Literal:
        return frozenset({"choice"})
    if tp is bool:
        return frozenset({"bool"})
    if tp is str:
        return frozenset({"text"})
    if tp is type(None):
        return frozenset({"null"})
    if tp is int or tp is float:
        return frozenset({"number"})
    return frozenset({"other"})


def _kinds(base: Any, meta: list[Any]) -> Kinds:
    for item in meta:
        if isinstance(item, BeforeValidator):
            declared = item.json_schema_input_type
            if declared is not PydanticUndefined:
                return accepted_kinds(declared)
    return accepted_kinds(base)


def _field_type(info: FieldInfo) -> Any:
    """A model field's type with its validators, as pydantic took it apart."""
    if not info.metadata:
        return info.annotation
    return typing.Annotated[(info.annotation, *info.metadata)]


def _branches(tp: Any) -> Iterator[Any]:
    """The types a value of `tp` may hold once validated (Annotated and unions undone)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _branches(typing.get_args(tp)[0])
    elif origin in _UNION:
        for arg in typing.get_args(tp):
            yield from _branches(arg)
    else:
        yield tp


def _children(tp: Any) -> Iterator[tuple[str | int, Any]]:
    """(part, type) below a value of `tp`: model fields, "*" for any dict key, 0 for list items."""
    for branch in _branches(tp):
        if isinstance(branch, type) and issubclass(branch, BaseModel):
            for name, info in branch.model_fields.items():
                yield name, _field_type(info)
        elif typing.get_origin(branch) is dict:
            yield "*", typing.get_args(branch)[1]
        elif typing.get_origin(branch) is list:
            yield 0, typing.get_args(branch)[0]


def type_at(loc: Loc) -> Any | None:
    """The declared type of the value at `loc` in a spec, None when the spec has no such place."""
    current: Any = Cluster
    for part in loc:
        for name, child in _children(current):
            if name == part or (name == "*" and isinstance(part, str)) or (name == 0 == part):
                current = child
                break
        else:
            return None
    return current


def refuses_bool_words(kinds: Kinds) -> bool:
    """True for a field that takes text and also true/false or null."""
    return "text" in kinds and bool(kinds & {"bool", "null"})


def fields_refusing_bool_words() -> list[Loc]:
    """Every place of the spec that refuses an unquoted YAML 1.1 boolean.

    "*" stands for any mapping key, 0 for any list item.
    """
    found: list[Loc] = []

    def walk(tp: Any, loc: Loc) -> None:
        if refuses_bool_words(accepted_kinds(tp)):
            found.append(loc)
        for part, child in _children(tp):
            walk(child, (*loc, part))

    walk(Cluster, ())
    return found


def bool_word_problems(loaded: LoadedSpec) -> list[tuple[Loc, str]]:
    """(loc, sentence) for each unquoted YAML 1.1 boolean where text, true or null is taken."""
    problems: list[tuple[Loc, str]] = []
    for loc in sorted(loaded.bool_words, key=str):
        tp = type_at(loc)
        kinds = accepted_kinds(tp) if tp is not None else frozenset()
        if not refuses_bool_words(kinds):
            continue
        word = _value_at(loaded.data, loc)
        where = ".".join(map(str, loc))
        if "bool" in kinds:
            advice = "write true or false, or quote it to mean the name"
        else:
            advice = "write null for none, or quote it to mean the text"
        problems.append(
            (
                loc,
                f"{where}: an unquoted {word} is a YAML 1.1 boolean, which YAML 1.2 reads"
                f" as the text '{word}'; {advice}",
            )
        )
    return problems


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data
