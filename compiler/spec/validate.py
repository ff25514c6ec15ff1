"""Validate loaded spec data: every problem at once, each with its line and column.

Two passes. The pydantic models check shape and values; their errors are
rewritten here into one sentence each, with a did-you-mean for misspelled
keys and choices. Then the cross-field checks that need the whole spec:
access keys that collide after normalisation, unknown issuer tags, defines
that starttls.m4 would override, FEATUREs sendmail does not have or lists
in the wrong order, paths that collide. When the models refuse something,
the second pass still runs on the spec with the refused parts left out, and
keeps the findings that leaving things out cannot cause.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from compiler.gcpause import gc_paused
from compiler.problems import Problem, Severity, shown, sort_problems
from compiler.resolve import host_overrides, resolve
from compiler.rules import ClusterRules, SourcedEntry, access_segments
from compiler.sendmail import (
    DEFAULT_ACCESS_DB,
    DOMAINS,
    FEATURE_FIRST_ARG,
    FEATURES,
    FEATURES_WITH_MAILERS,
    IGNORED_DEFINES,
    MAILERS,
    NEEDS_ACCESS_DB,
    NODELAY_FEATURES,
    OPTION_DEFINES,
    OSTYPES,
    REFUSED_DEFINES,
    REFUSED_FEATURES,
    RESCANNED_DEFINES,
    RESCANNED_FEATURE_ARGS,
    STARTTLS_REQUIRED,
    TLS_DEFINES,
    access_map_arg,
    names,
    option_true,
)
from compiler.sendmail.accessbulk import AccessTexts, Released
from compiler.sendmail.accessmap import did_you_mean
from compiler.sendmail.confnames import KNOWN_OPTIONS, OBSOLETE_OPTIONS
from compiler.sendmail.m4names import BUILTINS_BARE, CF_MACROS
from compiler.sendmail.m4quote import TRIPLE_QUOTED
from compiler.sendmail.m4text import (
    cf_tree,
    check_line,
    defined_names,
    include_allowed,
    included_paths,
    plain_components,
    read_prefixes,
)
from compiler.sendmail.releases import MISSING_FEATURES, STS_TAG_RELEASE, release_of
from compiler.spec.accessfiles import split_entry_loc
from compiler.spec.booleans import bool_word_problems
from compiler.spec.loader import LoadedSpec, Loc, is_bool_word
from compiler.spec.model import Cluster, DomainRule, HostSettings, Mc, PeerRule
from compiler.spec.numbers import number_word_problems

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
    "version_type": "the number 1",
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        digits = value.lstrip("+-").replace("_", "")
        if len(digits) > 18 and digits.isdigit():
            # the loader keeps an integer too large to read as its text
            return f"a number of {len(digits)} digits, too large to read"
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass
class Validated:
    """The outcome of validation: the model when there was no error, and all problems."""

    cluster: Cluster | None
    problems: list[Problem]
    rules: ClusterRules | None = None

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.cluster is not None and not any(p.severity == "error" for p in self.problems)


class _Reporter:
    def __init__(self, loaded: LoadedSpec, keep: Callable[[Loc, str], bool] | None = None):
        self.loaded = loaded
        self.problems: list[Problem] = []
        self.keep = keep

    def add(
        self, loc: Loc, code: str, message: str, key: bool = False, severity: Severity = "error"
    ) -> None:
        if self.keep is not None and not self.keep(loc, code):
            return
        source, line, col = self.loaded.where(loc, key=key)
        self.problems.append(Problem(source, line, col, code, severity, message))

    def add_at(self, source: str, line: int, col: int, code: str, message: str) -> None:
        """A problem at a place that is no loc of the spec (in an access file it names)."""
        self.problems.append(Problem(source, line, col, code, "error", message))

    def label(self, loc: Loc) -> str:
        """`loc` as a message names it: `access.3`, or `blocklist.access line 7`
        (the file as the spec names it)."""
        in_file = split_entry_loc(loc)
        read = self.loaded.access_files.get(in_file[0]) if in_file else None
        if in_file is not None and read is not None:
            return f"{read.name} line {in_file[1]}"
        return ".".join(map(str, loc))

    def entry_problem(self, loc: Loc, message: str) -> None:
        """S210 for an access entry: `access.3: ...` in the spec; in a file, the
        message alone (FILE:LINE:COL says where)."""
        text = message if split_entry_loc(loc) is not None else f"{self.label(loc)}: {message}"
        self.add(loc, "S210", text)


class _Shared(_Reporter):
    """A reporter adding to another one's problems, through a filter."""

    def __init__(self, rep: _Reporter, keep: Callable[[Loc, str], bool] | None):
        super().__init__(rep.loaded, keep)
        self.problems = rep.problems


class _WrittenOnly(_Shared):
    """Reports only on values the block wrote itself: a host's inherited `mc` values
    were checked (and reported) where the defaults wrote them."""

    def __init__(self, rep: _Reporter):
        super().__init__(rep, rep.keep)

    def add(
        self, loc: Loc, code: str, message: str, key: bool = False, severity: Severity = "error"
    ) -> None:
        if loc in self.loaded.positions:
            super().add(loc, code, message, key, severity)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields are valid at `loc` (for did-you-mean)."""
    current: Any = Cluster
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list:
            current = typing.get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(_unwrap(a), type)]
            tp = models[0] if len(args) == 1 or models else args[0]
            if len(args) > 1 and not models:
                return tp
        else:
            return tp


#: the members of an `access:` item's union (model.AccessItem), as pydantic names them
_ITEM_MEMBERS = ("constrained-str", "AccessFile")


def _errors(exc: ValidationError) -> list[Any]:
    """pydantic's errors, of a refused `access:` item only those of the member it was
    meant as (AccessFile for a mapping with a `file` key, else the string), without
    the member's name in their loc."""
    errors = exc.errors(include_url=False)
    meant: dict[tuple[Any, ...], str] = {}
    for err in errors:
        n = _member_at(err["loc"])
        if n is not None and err["loc"][n] == "constrained-str":
            item = err.get("input")
            file_item = isinstance(item, dict) and "file" in item
            meant[err["loc"][:n]] = "AccessFile" if file_item else "constrained-str"
    if not meant:
        return errors
    out = []
    for err in errors:
        loc = err["loc"]
        n = _member_at(loc)
        if n is None or loc[:n] not in meant:
            out.append(err)
        elif loc[n] == meant[loc[:n]]:
            out.append({**err, "loc": loc[:n] + loc[n + 1 :]})
    return out


def _member_at(loc: tuple[Any, ...]) -> int | None:
    """Where an access item's union member is named in `loc`, if it is."""
    for n, part in enumerate(loc):
        if part in _ITEM_MEMBERS and n and isinstance(loc[n - 1], int):
            return n
    return None


def _clean_loc(loc: tuple[Any, ...], data: Any = None) -> tuple[Loc, bool]:
    """Drop pydantic's internal loc parts; report whether it points at a key.

    A part that is a key of the spec's data where the loc has got to stays,
    whatever it holds: a key may be written `[192.0.2.1]` or `[x`, which look
    like pydantic's own parts (`function-after[...]`, `list[str]`).
    """
    out: list[str | int] = []
    key = False
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
            continue
        if part == "[key]":
            key = True
            break
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue
        out.append(part)
        node = node[part] if isinstance(node, list) and isinstance(part, int) else None
    return tuple(out), key


def _quoted(value: object) -> str:
    """A refused value as a message quotes it: a string's first characters, key material never."""
    return repr(shown(value)) if isinstance(value, str) else shown(repr(value))


def _pydantic_problems(
    exc: ValidationError, rep: _Reporter, seen: set[Loc], data: Any = None
) -> None:
    """One sentence per refused value; none again at a loc in `seen` (already reported).

    `data`: what was validated, to tell its keys from pydantic's own loc parts.
    """
    for err in _errors(exc):
        loc, is_key = _clean_loc(err["loc"], data)
        kind = err["type"]
        where = ".".join(str(p) for p in loc) or "the spec"
        if kind == "int_parsing_size" and loc not in seen:  # pydantic reads no such number
            seen.add(loc)
            expected = "the number 1" if loc == ("version",) else "a whole number"
            # the input as the loader's text: _kind says how many digits
            rep.add(loc, "S102", f"{where} must be {expected}, not {_kind(str(err.get('input')))}")
            continue
        if loc in seen and kind != "extra_forbidden":
            continue
        seen.add(loc)
        if kind == "extra_forbidden":
            name = str(loc[-1])
            model = _model_at(loc[:-1])
            choices = list(model.model_fields) if model else []
            parent = ".".join(str(p) for p in loc[:-1]) or "the top level"
            hint = did_you_mean(name, choices)
            if name == "mta_sts" and model in (PeerRule, DomainRule):
                hint = _NO_STS_OPT_OUT
            rep.add(loc, "S100", f"unknown key '{shown(name)}' in {parent}{hint}", True)
        elif kind == "missing":
            parent = ".".join(str(p) for p in loc[:-1]) or "the top level"
            rep.add(loc[:-1], "S101", f"missing required key '{loc[-1]}' in {parent}")
        elif kind in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            options = re.findall(r"'([^']*)'|(\d+)", expected)
            choices = [a or b for a, b in options]
            given = err.get("input")
            rep.add(
                loc,
                "S103",
                f"{_quoted(given)} is not a valid value for {where}; expected {expected}"
                f"{did_you_mean(str(given), choices)}",
            )
        elif (
            kind == "bool_type"
            and isinstance(given := err.get("input"), str)
            and is_bool_word(given)
        ):
            rep.add(
                loc,
                "S102",
                f"{where} must be true or false, not the text '{shown(given)}', which YAML 1.2"
                " does not read as a boolean; write true or false",
            )
        elif kind in _TYPE_NAMES or kind.endswith("_type"):
            expected = _TYPE_NAMES.get(kind, kind.removesuffix("_type"))
            rep.add(
                loc,
                "S102",
                f"{where} must be {expected}, not {_kind(err.get('input'))}",
                is_key,
            )
        elif kind == "value_error":
            msg = str(err["msg"]).removeprefix("Value error, ")
            rep.add(loc, "S104", f"{where}: {msg}" if not is_key else msg, is_key)
        else:
            msg = str(err["msg"])
            rep.add(loc, "S104", f"{where}: {msg[0].lower() + msg[1:]}", is_key)


def _tls_in_extra(line: str) -> str | None:
    """Why an mc.extra line sets an option tls: owns, or None: a define (undefine,
    pushdef) of it anywhere in the line, or the raw `O` line of a LOCAL_CONFIG
    section, which m4 copies into sendmail.cf as it is. Either decides the option
    wherever tls: leaves it unset, where no reader of tls: sees it."""
    name = None
    if "conf" in line:
        name = next((n for n in defined_names(line) if n in TLS_DEFINES), None)
    if name is not None:
        return (
            f"{name} is set by {TLS_DEFINES[name]}; a line of mc.extra that sets it would"
            f" decide it wherever tls: leaves it unset -- set {TLS_DEFINES[name]} instead"
        )
    if not line.startswith("O "):
        return None
    from compiler.sendmail.cfread import read_option

    got = read_option(line)
    if got is not None and got[0] in OPTION_DEFINES:
        key = TLS_DEFINES[OPTION_DEFINES[got[0]]]
        return (
            f"this line writes the sendmail.cf option {got[0]} itself, which {key} sets;"
            f" set {key} instead"
        )
    return None


def _check_mc(mc: Mc, loc: Loc, rep: _Reporter) -> None:
    for name in mc.defines:
        if name in TLS_DEFINES:
            rep.add(
                (*loc, "defines", name),
                "S202",
                f"{name} is set by {TLS_DEFINES[name]}; starttls.m4 is included later"
                " and would override this define",
                True,
            )
        elif name in REFUSED_DEFINES:
            rep.add((*loc, "defines", name), "S203", f"{name}: {REFUSED_DEFINES[name]}", True)
        elif name in IGNORED_DEFINES:
            rep.add(
                (*loc, "defines", name),
                "S223",
                f"{name}: {IGNORED_DEFINES[name]}",
                True,
                severity="warning",
            )
        elif name in OBSOLETE_OPTIONS:
            # sendmail-cf errprints about each while the .cf is built: apply's build stops
            rep.add(
                (*loc, "defines", name),
                "S203",
                f"{name} is obsolete: sendmail-cf prints a warning for it while the .cf is"
                f" built, so apply's build fails; {OBSOLETE_OPTIONS[name]}",
                True,
            )
        elif name.startswith("conf") and name not in KNOWN_OPTIONS:
            rep.add(
                (*loc, "defines", name),
                "S227",
                f"sendmail does not know {name}, so this define does nothing{_conf_hint(name)}",
                True,
                severity="warning",
            )
        if name in RESCANNED_DEFINES:
            words = name not in TRIPLE_QUOTED  # a third quote level keeps those literal
            _check_rescanned(mc.defines[name], (*loc, "defines", name), name, rep, words)
    seen: dict[str, int] = {}
    for i, feature in enumerate(mc.features):
        floc = (*loc, "features", i)
        if feature.name in REFUSED_FEATURES:
            rep.add(floc, "S205", f"FEATURE {feature.name}: {REFUSED_FEATURES[feature.name]}")
        elif feature.name == "sts":
            rep.add(floc, "S224", _STS_BY_HAND)
        elif feature.name not in FEATURES:
            rep.add(
                floc,
                "S204",
                f"sendmail has no FEATURE '{shown(feature.name)}'"
                f"{did_you_mean(feature.name, sorted(FEATURES))}",
            )
        words = feature.name in RESCANNED_FEATURE_ARGS
        for n, arg in enumerate(feature.args, 1):
            _check_rescanned(arg, floc, f"FEATURE {feature.name} argument {n}", rep, words)
        if feature.name in seen:
            rep.add(floc, "S206", f"FEATURE {feature.name} is listed twice")
        seen.setdefault(feature.name, i)
    if "access_db" in seen:
        for name in NEEDS_ACCESS_DB:
            if name in seen and seen[name] < seen["access_db"]:
                rep.add(
                    (*loc, "features", seen[name]),
                    "S207",
                    f"FEATURE {name} reads the access map and must come after access_db",
                )
    for name in NODELAY_FEATURES:
        if name not in seen:
            continue
        args = [*mc.features[seen[name]].args, "", ""]
        floc = (*loc, "features", seen[name])
        if args[0].lower() not in ("", "nodelay"):
            rep.add(floc, "S207", f"FEATURE {name}: the first argument can only be nodelay")
        elif args[0] and seen.get("delay_checks", len(mc.features)) > seen[name]:
            rep.add(floc, "S207", f"FEATURE {name} with nodelay needs delay_checks before it")
        if args[1] not in ("", "terminate"):
            rep.add(floc, "S207", f"FEATURE {name}: the second argument can only be terminate")
    _check_feature_words(mc, loc, rep, seen)
    if "greet_pause" in seen:
        arg = next(iter(mc.features[seen["greet_pause"]].args), "")
        if arg and not arg.isdigit():
            rep.add(
                (*loc, "features", seen["greet_pause"]),
                "S207",
                f"FEATURE greet_pause: the argument is the pause in milliseconds,"
                f" a whole number such as 1000, not '{shown(arg)}'",
            )
    if "delay_checks" in seen:
        arg = next(iter(mc.features[seen["delay_checks"]].args), "")
        if arg and arg[0].lower() not in "fh":  # cf reads only the first letter
            rep.add(
                (*loc, "features", seen["delay_checks"]),
                "S207",
                f"FEATURE delay_checks: the argument can only be friend or hater, not"
                f" '{shown(arg)}'",
            )
    if mc.ostype not in OSTYPES:
        rep.add(
            (*loc, "ostype"),
            "S204",
            f"sendmail has no OSTYPE"
            f" '{shown(mc.ostype)}'{did_you_mean(mc.ostype, sorted(OSTYPES))}",
        )
    if mc.domain and mc.domain not in DOMAINS:
        rep.add(
            (*loc, "domain"),
            "S204",
            f"sendmail-cf has no DOMAIN"
            f" '{shown(mc.domain)}'{did_you_mean(mc.domain, sorted(DOMAINS))}",
        )
    mailers: set[str] = set()
    for i, mailer in enumerate(mc.mailers):
        if mailer not in MAILERS:
            rep.add(
                (*loc, "mailers", i),
                "S204",
                f"sendmail has no MAILER '{shown(mailer)}'{did_you_mean(mailer, sorted(MAILERS))}",
            )
        if mailer in mailers:
            rep.add((*loc, "mailers", i), "S206", f"MAILER {mailer} is listed twice")
        mailers.add(mailer)
    for i, line in enumerate(mc.extra):
        if _STS_CALL.search(line):
            rep.add((*loc, "extra", i), "S224", f"mc.extra: {_STS_BY_HAND}")
        why = _tls_in_extra(line)
        if why is not None:
            rep.add((*loc, "extra", i), "S202", f"mc.extra: {why}")
        for col, message in check_line(line):
            rep.add(
                (*loc, "extra", i),
                "S209",
                f"mc.extra: {message}" + (f" (column {col} of the line)" if col > 1 else ""),
            )


#: why a rule has no mta_sts: key (the access tag would be ignored by both releases)
_NO_STS_OPT_OUT = (
    f": a per-domain MTA-STS opt-out (the access tag STS:DOMAIN NO) came with sendmail"
    f" {STS_TAG_RELEASE}, and neither 8.17.1.9 nor 8.18.1 reads it, so tlsc writes none"
)
#: FEATURE(`sts' in a raw m4 line
_STS_CALL = re.compile(r"\bFEATURE\(\s*`?sts\b")
_STS_BY_HAND = (
    "FEATURE sts is written by tls.mta_sts, which always names the resolver's socket:"
    " FEATURE(`sts') without one asks inet:5461@127.0.0.1, where postfix-mta-sts-resolver"
    " does not listen (its default is inet:8461@127.0.0.1), and sendmail then defers every"
    " recipient with '450 STS lookup temp fail'; remove it and set tls.mta_sts: true (or"
    " {socket: ADDRESS})"
)


#: an m4 macro call: a name followed at once by '(' (m4 calls `name (` without arguments)
_M4_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(")


_M4_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_feature_words(mc: Mc, loc: Loc, rep: _Reporter, seen: dict[str, int]) -> None:
    """The FEATURE arguments (and what goes with them) without which sendmail-cf
    errprints while it builds the .cf: apply treats any m4 output as a failed build."""

    def bad(name: str, message: str) -> None:
        rep.add(
            (*loc, "features", seen[name]),
            "S207",
            f"FEATURE {name}: {message}; else sendmail-cf complains while it builds the .cf,"
            " and apply's build fails",
        )

    for name, index in seen.items():
        args = [*mc.features[index].args, "", ""]
        if name in FEATURE_FIRST_ARG and (
            not args[0] or (name in ("nouucp", "nopercenthack") and args[0][0] not in "rn")
        ):
            bad(name, f"the first argument must be {FEATURE_FIRST_ARG[name]}")
        if name == "prefixmod" and not args[1]:
            bad(name, "the second argument must be the flags")
        if name == "nocanonify" and args[0].lower() not in ("", "canonify_hosts"):
            bad(name, f"the argument can only be canonify_hosts, not '{shown(args[0])}'")
        if name in FEATURES_WITH_MAILERS and {"local", "smtp"} & set(mc.mailers):
            bad(name, "it writes MAILER local and smtp itself: set mc.mailers to []")
        maps = args[0] and args[1]
        if name == "ldap_routing" and not maps and "confLDAP_DEFAULT_SPEC" not in mc.defines:
            bad(name, "without its two map arguments it needs confLDAP_DEFAULT_SPEC defined")
        if name == "preserve_luser_host" and "LUSER_RELAY" not in mc.defines:
            bad(name, "it needs LUSER_RELAY in mc.defines")


def _conf_hint(name: str) -> str:
    """The known conf* name `name` is a typo of, or the tls: key that sets it."""
    hint = did_you_mean(name, sorted(KNOWN_OPTIONS))
    for conf, key in TLS_DEFINES.items():
        if hint == f" (did you mean '{conf}'?)":
            return f" (did you mean {key}?)"
    return hint


def _check_rescanned(value: str, loc: Loc, what: str, rep: _Reporter, words: bool = True) -> None:
    """A value sendmail's cf files rescan holds no m4 call, nor (`words`) a macro name (S217).

    With the real m4, `dnl` in a dnsbl FEATURE's argument silently cut the
    zone name, and in local_procmail's broke the build; calls are refused in
    every FEATURE argument (the switch-off line already makes the dangerous
    ones inert; this says so at validation, with a line number).
    """
    call = _M4_CALL.search(value)
    if call is not None:
        rep.add(
            loc,
            "S217",
            f"{what} holds the m4 call '{call.group()}': sendmail's cf files rescan this"
            " value while the .cf is built, so m4 would run it (esyscmd( runs a shell"
            " command); write no name directly before '('",
        )
        return
    if words and ("," in value or not _balanced(value)):
        rep.add(
            loc,
            "S217",
            f"{what} holds a ',' or an unmatched parenthesis: sendmail's cf files rescan"
            " this value as a macro argument, where a ',' splits it and a ')' ends the"
            " call, writing the rest into sendmail.cf as raw text",
        )
        return
    word = next((w for w in _M4_WORD.findall(value) if words and _expands(w)), None)
    if word is not None:
        rep.add(
            loc,
            "S217",
            f"{what} holds '{shown(word)}', a name m4 expands when sendmail's cf files rescan this"
            " value, so sendmail would get something else than written",
        )


def _balanced(value: str) -> bool:
    """True when every ')' closes a '(' before it and every '(' is closed."""
    depth = 0
    for ch in value:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def _expands(word: str) -> bool:
    """True for a word m4 replaces even without arguments once cf.m4 is loaded."""
    return (
        word in BUILTINS_BARE
        or word in CF_MACROS
        or word.startswith("_")
        or re.fullmatch(r"conf[A-Z0-9_]+", word) is not None
        or (re.fullmatch(r"[A-Z0-9_]+", word) is not None and "_" in word)
    )


def _check_reads(settings: HostSettings, loc: Loc, rep: _Reporter) -> None:
    """m4 reads cf.m4 and every include into the world-readable sendmail.cf (S219)."""
    mc = settings.mc
    if cf_tree(mc.cf_m4) is None:
        rep.add(
            (*loc, "mc", "cf_m4"),
            "S219",
            f"mc.cf_m4 is '{mc.cf_m4}', but it can only be sendmail-cf's cf.m4 (m4/cf.m4 in"
            " a sendmail cf tree, such as /usr/share/sendmail/cf/m4/cf.m4 or Red Hat's"
            " /usr/share/sendmail-cf/m4/cf.m4): m4 copies the file it names into the"
            " world-readable sendmail.cf",
        )
        return
    prefixes = read_prefixes(mc.cf_m4, list(settings.paths.model_dump().values()))
    for i, line in enumerate(mc.extra):
        for col, path in included_paths(line):
            where = f" (column {col} of the line)" if col > 1 else ""
            if path is None:
                why = (
                    "include and sinclude are allowed only as a call with one absolute path"
                    " written out, such as include(`/etc/mail/m4/dialup.m4')"
                )
            elif include_allowed(path, prefixes):
                continue
            else:
                if not path.startswith("/"):
                    what = f"'{path}' is not an absolute path"
                elif not plain_components(path):
                    what = f"'{path}' has a '.' or '..' part"
                elif any(path.startswith(p) for p in prefixes):
                    what = f"'{path}' is no m4 file (.m4)"
                else:
                    shown = ", ".join(prefixes[:-1]) + f" or {prefixes[-1]}"
                    what = f"'{path}' is not below {shown}"
                why = (
                    f"{what}; m4 copies an included file into the world-readable"
                    " sendmail.cf, so only m4 files (.m4) below sendmail's cf tree, /etc/mail"
                    " and the directories of the managed files may be included"
                )
            rep.add((*loc, "mc", "extra", i), "S219", f"mc.extra: {why}{where}")


def _check_access_map(settings: HostSettings, loc: Loc, rep: _Reporter) -> None:
    """FEATURE(access_db) must read the map tlsc builds at paths.access_db."""
    access_db = settings.paths.access_db
    if not access_db.endswith(".db"):
        rep.add(
            (*loc, "paths", "access_db"),
            "S213",
            f"paths.access_db must end in .db (makemap hash writes NAME.db), not {access_db}",
        )
        return
    for i, feature in enumerate(settings.mc.features):
        if feature.name != "access_db":
            continue
        arg = feature.args[0] if feature.args else ""
        reads = arg.split()[-1] if arg.split() else DEFAULT_ACCESS_DB
        if not reads.endswith(".db"):  # sendmail adds .db unless the name ends in it (map.c)
            reads += ".db"
        if reads != access_db:
            rep.add(
                (*loc, "mc", "features", i),
                "S213",
                f"FEATURE access_db reads {reads} but paths.access_db is {access_db};"
                f" give the map as its first argument: '{access_map_arg(access_db)}'",
            )


def _check_paths(settings: HostSettings, loc: Loc, rep: _Reporter) -> None:
    seen: dict[str, str] = {}
    paths = settings.paths.model_dump()
    for field, path in paths.items():
        if path in seen:
            rep.add(
                (*loc, "paths", field),
                "S211",
                f"paths.{field} is the same file as paths.{seen[path]} ({path})",
            )
        seen.setdefault(path, field)
        # compile and apply write each file under its directories: no file may be one
        under = next((f for f, p in paths.items() if p.startswith(path + "/")), None)
        if under is not None:
            rep.add(
                (*loc, "paths", field),
                "S211",
                f"paths.{field} ({path}) is a directory of paths.{under} ({paths[under]});"
                " a path cannot be both a file and a directory",
            )


def _settings_blocks(
    cluster: Cluster, resolved: dict[str, HostSettings]
) -> Iterator[tuple[Loc, HostSettings, dict[str, Any]]]:
    yield ("defaults",), cluster.defaults, cluster.defaults.model_dump()
    for name in cluster.hosts:
        overrides = host_overrides(cluster.hosts[name])
        if overrides:
            yield ("hosts", name), resolved[name], overrides


def _host_list(hosts: list[str]) -> str:
    """'host a', 'hosts a and b', 'hosts a, b, c and 4 more'."""
    if len(hosts) == 1:
        return f"host {hosts[0]}"
    shown = hosts[:3]
    rest = len(hosts) - len(shown)
    if rest:
        return f"hosts {', '.join(shown)} and {rest} more"
    return f"hosts {', '.join(shown[:-1])} and {shown[-1]}"


#: a number with no unit letter after it in a sendmail time: convtime(val, 'm') reads
#: it as minutes (readcf.c settimeout), so "30" is half an hour
_BARE_NUMBER = re.compile(r"([0-9]+)(?![0-9smhdw])")


def _check_starttls_settings(
    cluster: Cluster, resolved: dict[str, HostSettings], rep: _Reporter
) -> None:
    """A host with STARTTLS on needs its certificate, key and both CA settings.

    Without any one of them sendmail starts, logs "<Option> missing" and silently
    offers no STARTTLS. The problem points at the `tls:` mapping that wrote the null.
    """
    missing: dict[tuple[Loc, str], list[str]] = {}
    bare: dict[tuple[Loc, str], None] = {}
    for name in cluster.hosts:
        tls = resolved[name].tls
        if not tls.enabled:
            continue
        if tls.timeout is not None and _BARE_NUMBER.search(tls.timeout):
            bare[_written_at(cluster, name, "tls", "timeout"), tls.timeout] = None
        for field in STARTTLS_REQUIRED:
            if getattr(tls, field) is None:
                where = _written_at(cluster, name, "tls", field)[:-1]
                missing.setdefault((where, field), []).append(name)
    for (where, field), hosts in missing.items():
        verb = "has" if len(hosts) == 1 else "have"
        rep.add(
            where,
            "S214",
            f"{_host_list(hosts)} {verb} STARTTLS on but no tls.{field}, so sendmail logs"
            f" '{STARTTLS_REQUIRED[field]} missing' and offers no STARTTLS; set tls.{field},"
            " or tls.enabled: false",
            True,
        )
    for where, value in bare:
        minutes, seconds = _BARE_NUMBER.sub(r"\1m", value), _BARE_NUMBER.sub(r"\1s", value)
        rep.add(
            where,
            "S228",
            f"tls.timeout '{value}' has a number without a unit, which sendmail reads as"
            f" minutes ('{minutes}'); write the unit: '{minutes}', or '{seconds}' for seconds",
            severity="warning",
        )


def _check_tls_ownership(
    cluster: Cluster, resolved: dict[str, HostSettings], rep: _Reporter
) -> None:
    """With ownership: tls the host's sendmail.mc is its own: an `mc:` would do nothing."""
    where: dict[Loc, list[str]] = {}
    for name in cluster.hosts:
        if resolved[name].ownership != "tls" or resolved[name].mc == Mc():
            continue
        where.setdefault(_written_at(cluster, name, "mc"), []).append(name)
    for loc, hosts in where.items():
        rep.add(
            loc,
            "S218",
            f"{_host_list(hosts)} {'has' if len(hosts) == 1 else 'have'} ownership: tls, so"
            " sendmail.mc stays the host's own and tlsc writes only its STARTTLS include;"
            " this mc: would do nothing -- remove it, or set ownership: file",
        )


def _written_at(cluster: Cluster, name: str, *path: str) -> Loc:
    """Where a host's setting comes from: its own block when it sets it, else defaults."""
    block: Any = host_overrides(cluster.hosts[name])
    for key in path[:-1]:
        block = block.get(key, {}) if isinstance(block, dict) else {}
    own = isinstance(block, dict) and path[-1] in block
    return ("hosts", name, *path) if own else ("defaults", *path)


def _check_release(cluster: Cluster, resolved: dict[str, HostSettings], rep: _Reporter) -> None:
    """What a host asks of sendmail exists in the release it runs (`sendmail:`)."""
    dane: dict[Loc, list[str]] = {}
    features: dict[tuple[Loc, str, str], list[str]] = {}
    for name in cluster.hosts:
        settings = resolved[name]
        release = release_of(settings.sendmail)
        if settings.tls.enabled and settings.tls.dane and not release.dane:
            dane.setdefault(_written_at(cluster, name, "tls", "dane"), []).append(name)
        for i, feature in enumerate(settings.mc.features):
            if feature.name in MISSING_FEATURES[release.family]:
                where = _written_at(cluster, name, "mc", "features")
                features.setdefault(((*where, i), feature.name, release.family), []).append(name)
    for loc, hosts in dane.items():
        rep.add(
            loc,
            "S220",
            f"{_host_list(hosts)} {'runs' if len(hosts) == 1 else 'run'} sendmail 8.17"
            " (Debian 12), which is built without DANE and refuses to start with confDANE;"
            " set sendmail: 8.18 for DANE, or tls.dane: false",
        )
    for (loc, feature_name, family), hosts in features.items():
        rep.add(
            loc,
            "S221",
            f"FEATURE {feature_name} came with sendmail 8.18; {_host_list(hosts)}"
            f" {'runs' if len(hosts) == 1 else 'run'} {family}",
        )


def _check_mta_sts(cluster: Cluster, resolved: dict[str, HostSettings], rep: _Reporter) -> None:
    """tls.mta_sts lives in starttls.m4, which a host with STARTTLS off does not include."""
    where: dict[Loc, list[str]] = {}
    for name in cluster.hosts:
        tls = resolved[name].tls
        if tls.mta_sts is not None and not tls.enabled:
            where.setdefault(_written_at(cluster, name, "tls", "mta_sts"), []).append(name)
    for loc, hosts in where.items():
        rep.add(
            loc,
            "S225",
            f"tls.mta_sts does nothing for {_host_list(hosts)}: STARTTLS is off"
            " (tls.enabled: false), so no starttls.m4 carries FEATURE(`sts') and MTA-STS"
            " needs TLS anyway; set tls.enabled: true, or remove tls.mta_sts",
            severity="warning",
        )


def _check_dane_rules(
    cluster: Cluster,
    resolved: dict[str, HostSettings],
    by_host: dict[str, ClusterRules],
    rep: _Reporter,
) -> None:
    """`dane: false` on a rule: a DANE build, DANE on, and tls_session_features."""
    reported: set[Loc] = set()
    #: per set of rules (most hosts share the cluster's): the rules with `dane: false`
    dane_off: dict[int, list[Loc]] = {}
    for name in cluster.hosts:
        settings = resolved[name]
        rules = by_host[name]
        locs = dane_off.get(id(rules))
        if locs is None:
            locs = dane_off[id(rules)] = [
                loc
                for _raw, _norm, rule, loc in rules.domain_items
                if isinstance(rule.outbound, PeerRule) and rule.outbound.dane is False
            ]
        for loc in locs:
            where = (*loc, "outbound", "dane")
            if where in reported:
                continue
            if not release_of(settings.sendmail).dane:
                reported.add(where)
                rep.add(
                    where,
                    "S222",
                    f"dane: false writes TLS_Clt_Features Flags=d, which host {name}'s"
                    f" sendmail {settings.sendmail} (built without DANE) does not know;"
                    " it needs sendmail: 8.18",
                )
            elif "tls_session_features" not in [f.name for f in settings.mc.features]:
                reported.add(where)
                rep.add(
                    where,
                    "S208",
                    "dane: false writes a TLS_Clt_Features entry, which needs FEATURE"
                    f" tls_session_features (missing on host {name}); without it sendmail"
                    " ignores it",
                )
            elif not settings.tls.dane:
                reported.add(where)
                rep.add(
                    where,
                    "S222",
                    f"dane: false does nothing on host {name}: its tls.dane is off",
                    severity="warning",
                )


def _check_cluster(cluster: Cluster, rep: _Reporter, release: bool = False) -> ClusterRules:
    resolved = {name: resolve(cluster, name).settings for name in cluster.hosts}
    for loc, settings, written in _settings_blocks(cluster, resolved):
        if "mc" in written:
            _check_mc(settings.mc, (*loc, "mc"), rep if loc == ("defaults",) else _WrittenOnly(rep))
        if "paths" in written:
            _check_paths(settings, loc, rep)
        if "paths" in written or "mc" in written:
            _check_access_map(settings, loc, rep)
            _check_reads(settings, loc, rep if loc == ("defaults",) else _WrittenOnly(rep))
    _check_starttls_settings(cluster, resolved, rep)
    _check_tls_ownership(cluster, resolved, rep)
    _check_release(cluster, resolved, rep)
    _check_mta_sts(cluster, resolved, rep)

    fqdns: dict[str, str] = {}
    for name, host in cluster.hosts.items():
        fqdn = names.parse_hostname(host.fqdn)
        if fqdn in fqdns:
            rep.add(
                ("hosts", name, "fqdn"),
                "S212",
                f"host {name} has the same fqdn as host {fqdns[fqdn]} ({fqdn})",
            )
        fqdns.setdefault(fqdn, name)
    lowered: dict[str, str] = {}
    for name in cluster.hosts:
        if name.lower() in lowered:
            rep.add(
                ("hosts", name),
                "S212",
                f"host names {lowered[name.lower()]} and {name} differ only in case",
                True,
            )
        lowered.setdefault(name.lower(), name)
    _check_tag_case(cluster, rep)

    rules = ClusterRules(cluster, files=rep.loaded.access_files)
    # every distinct set of rules a host gets: the cluster's, and one per host with its own
    # (the cluster's alone are not checked when every host has its own: a cluster entry
    # may name an issuer tag that each host defines)
    by_host = {name: rules.for_host(name) for name in cluster.hosts}
    rule_sets = list({id(r): r for r in by_host.values()}.values())
    parse_problems: dict[tuple[Loc, str], None] = {}
    for rule_set in rule_sets:
        _ = rule_set.user_texts
        parse_problems.update(dict.fromkeys(rule_set.problems))
    for loc, message in parse_problems:
        rep.entry_problem(loc, message)
    if release:
        _release_texts(cluster, rule_sets, rep.loaded)

    unknown_tags: dict[Loc, str] = {}
    for rule_set in rule_sets:
        tags = rule_set.tag_names
        for _raw, _norm, rule, loc in rule_set.domain_items:
            for direction in ("outbound", "inbound"):
                peer = getattr(rule, direction)
                if peer is not None and peer.issuer_tag and peer.issuer_tag not in tags:
                    unknown_tags.setdefault(
                        (*loc, direction, "issuer_tag"), _unknown_tag(peer.issuer_tag, tags)
                    )
        for _raw, _norm, req, loc in rule_set.recipient_items:
            if req.issuer_tag and req.issuer_tag not in tags:
                unknown_tags.setdefault((*loc, "issuer_tag"), _unknown_tag(req.issuer_tag, tags))
    for loc, message in unknown_tags.items():
        rep.add(loc, "S201", message)

    _check_rules_without_tls(resolved, by_host, rep)
    _check_duplicate_keys(cluster, resolved, by_host, rep)
    _check_session_features(resolved, by_host, rep)
    _check_clt_features(resolved, by_host, rep)
    _check_dane_rules(cluster, resolved, by_host, rep)
    _check_bounce_instead_of_defer(rule_sets, rep)
    _check_compressed_ipv6(resolved, by_host, rep)
    return rules


def _release_texts(cluster: Cluster, rule_sets: list[ClusterRules], loaded: LoadedSpec) -> None:
    """Let go of the `access:` entries' texts once every host's rules are checked: a
    million of them are 90 MB, held by the model, the loaded data (and the positions
    of the fast path's list) and the rules' segments, and the rest of a plan reads
    the rules' bodies. The model and the data let go of the lists first; each set of
    rules then makes its body, letting go of each list no later set of rules reads
    as it goes (AccessTexts.release), so that the texts and the bodies are never
    alive together. Every host's rules exist by now (for_host keeps them), and a
    list let go of keeps its length: a host with entries of its own still has them.
    """
    blocks: list[Any] = [cluster, *cluster.hosts.values()]
    for block in blocks:
        if block.access:
            object.__setattr__(block, "access", Released(len(block.access)))
    data = loaded.data
    hosts = data.get("hosts")
    for raw in [data, *(hosts.values() if isinstance(hosts, dict) else ())]:
        if isinstance(raw, dict) and isinstance(raw.get("access"), list) and raw["access"]:
            raw["access"] = Released(len(raw["access"]))
    for listed in getattr(loaded.positions, "lists", {}).values():  # the fast path's lists
        listed.texts = Released(len(listed.texts))
    for loc, read in list(loaded.access_files.items()):
        if read.texts:
            loaded.access_files[loc] = dataclasses.replace(read, texts=Released(len(read.texts)))
    # how many sets of rules still read each list (a host's rules hold the cluster's too)
    readers = collections.Counter(
        id(s.texts) for rule_set in rule_sets for s in rule_set.user_texts.segments
    )
    for rule_set in rule_sets:
        segments = rule_set.user_texts.segments
        rule_set.release_texts(lambda texts: readers[id(texts)] == 1)
        readers.subtract(id(s.texts) for s in segments)


def _check_tag_case(cluster: Cluster, rep: _Reporter) -> None:
    """Two issuer tags whose names differ only in case are one tag to sendmail (S200).

    makemap folds an access key to lower case and sendmail folds the key it looks
    up (`CITag:MyCA` asks `myca:ISSUER`), so `MyCA` and `myca` would each accept the
    other's issuers; and a host's `myca:` would add to the cluster's `MyCA:`, where
    the host meant to replace it (a host's tag replaces the cluster's spelled alike).
    """
    _tags_apart(("issuer_tags",), cluster.issuer_tags, rep)
    ours = {tag.lower(): tag for tag in cluster.issuer_tags}
    for name, host in cluster.hosts.items():
        loc = ("hosts", name, "issuer_tags")
        _tags_apart(loc, host.issuer_tags, rep)
        for tag in host.issuer_tags:
            theirs = ours.get(tag.lower(), tag)
            if theirs != tag:
                rep.add(
                    (*loc, tag),
                    "S200",
                    f"issuer tag '{shown(tag)}' differs from the cluster's '{shown(theirs)}'"
                    " only in case, and sendmail folds case in access keys: its issuers would"
                    f" be added to the cluster's, not replace them; spell it '{shown(theirs)}'"
                    " to replace it, or name it apart",
                    True,
                )


def _tags_apart(loc: Loc, tags: dict[str, list[str]], rep: _Reporter) -> None:
    """S200 for each tag of one `issuer_tags:` that differs from an earlier one only in case."""
    seen: dict[str, str] = {}
    for tag in tags:
        first = seen.setdefault(tag.lower(), tag)
        if first != tag:
            rep.add(
                (*loc, tag),
                "S200",
                f"issuer tags '{shown(first)}' and '{shown(tag)}' differ only in case, and"
                " sendmail folds case in access keys: each would accept the other's issuers;"
                " name them apart",
                True,
            )


def _unknown_tag(tag: str, tags: frozenset[str]) -> str:
    return (
        f"issuer tag '{shown(tag)}' is not defined in issuer_tags{did_you_mean(tag, sorted(tags))}"
    )


def _check_compressed_ipv6(
    resolved: dict[str, HostSettings], by_host: dict[str, ClusterRules], rep: _Reporter
) -> None:
    """UseCompressedIPv6Addresses on, while tlsc writes IPv6 keys in sendmail's full form.

    Debian's sendmail (IPV6_FULL) compares `IPv6:0:0:0:0:0:0:0:1`; with the option
    on it compares `IPv6:::1`, and every key tlsc wrote would silently stop matching.
    """
    name = "confUSE_COMPRESSED_IPV6_ADDRESSES"
    on = [
        host
        for host, settings in resolved.items()
        if name in settings.mc.defines and option_true(settings.mc.defines[name])
    ]
    seen: set[int] = set()
    host, ipv6 = None, None
    for candidate in on:
        rules = by_host[candidate]
        if id(rules) in seen:
            continue  # hosts share their rules: look at each set once
        seen.add(id(rules))
        ipv6 = next(
            (
                item
                for variant in (False, True)
                for item in rules.all(variant)
                if ":ipv6:" in item.entry.folded_key or item.entry.folded_key.startswith("ipv6:")
            ),
            None,
        )
        if ipv6 is not None:
            host = candidate
            break
    if host is None or ipv6 is None:
        return
    written = ("hosts", host, "mc", "defines", name)
    loc = written if written in rep.loaded.positions else ("defaults", "mc", "defines", name)
    rep.add(
        loc,
        "S216",
        f"{name} makes sendmail compare IPv6 addresses compressed (IPv6:::1) on host {host},"
        f" but tlsc writes IPv6 keys in full ({ipv6.entry.key}, from"
        f" {rep.label(ipv6.loc)}), so they would never match; remove the define",
    )


def _check_bounce_instead_of_defer(rule_sets: list[ClusterRules], rep: _Reporter) -> None:
    """A recipient rule toward a domain tlsc tells sendmail never to try STARTTLS with.

    Seen with a real sendmail (tests/test_rules_sendmail.py): with `Try_TLS NO`
    the TLS_Rcpt check fails and sendmail bounces the recipient for good
    (dsn=5.5.2), where a server that merely lacks STARTTLS gets it deferred.
    Checked on the rules each host gets (the cluster's with the host's own).
    """
    reported: set[Loc] = set()
    for rules in rule_sets:
        never = {
            norm: loc[-1]
            for _raw, norm, rule, loc in rules.domain_items
            if rule.outbound is not None and not rule.outbound.starttls
        }
        if not never:
            continue
        order = {peer: n for n, peer in enumerate(never)}
        first = next(iter(never))
        for raw, norm, req, loc in rules.recipient_items:
            if loc in reported:
                continue
            domain = norm.rpartition("@")[2]
            peer = _first_parent(domain, order) if domain else first
            if peer is None:
                continue
            reported.add(loc)
            rep.add(
                loc,
                "S215",
                f"recipients key '{shown(raw)}' requires {req.require} but domains.{never[peer]}"
                " turns STARTTLS off (Try_TLS NO), so sendmail bounces such mail for good"
                " instead of deferring it",
                True,
                "warning",
            )


def _check_rules_without_tls(
    resolved: dict[str, Any], by_host: dict[str, ClusterRules], rep: _Reporter
) -> None:
    """S229 (warning): a rule no session of a host with STARTTLS off can meet.

    Without the starttls include the server offers no STARTTLS, so an inbound
    `encrypt`/`verify` rule refuses the client's mail (`encryption too weak`), and
    sendmail has no CA file to check a server's certificate with, so an outbound or
    recipient `verify` rule defers all such mail (`454 4.7.0 authentication
    failed`, seen with a real sendmail). Outbound `encrypt` still holds: sendmail
    still sends STARTTLS as a client. One warning a rule, naming the hosts.
    """
    off = [name for name in by_host if not resolved[name].tls.enabled]
    if not off:
        return
    found: dict[Loc, tuple[str, str, list[str]]] = {}
    for name in off:
        rules = by_host[name]
        for _raw, _norm, rule, loc in rules.domain_items:
            for direction in ("outbound", "inbound"):
                peer = getattr(rule, direction)
                if peer is None or not peer.starttls or peer.require == "may":
                    continue
                if peer.require == "verify" or direction == "inbound":
                    at = (*loc, direction)
                    found.setdefault(at, (peer.require, _WITHOUT_TLS[direction], []))[2].append(
                        name
                    )
        for _raw, _norm, req, loc in rules.recipient_items:
            if req.require == "verify":
                found.setdefault(loc, ("verify", _WITHOUT_TLS["outbound"], []))[2].append(name)
    for loc, (level, why, hosts) in found.items():
        where = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
        rep.add(
            loc,
            "S229",
            f"this rule requires {level}, but STARTTLS is off on host(s) {where}"
            f" (tls.enabled: false): {why}",
            severity="warning",
        )


_WITHOUT_TLS = {
    "outbound": "sendmail has no CA file to check the server's certificate with, so it"
    " defers all such mail (454 4.7.0 authentication failed)",
    "inbound": "sendmail offers no STARTTLS, so it refuses such clients' mail (encryption"
    " too weak)",
}


def _first_parent(domain: str, order: dict[str, int]) -> str | None:
    """The first peer of `order` (by its number) that is `domain`, a parent domain of it,
    or the bare default "": looked up by the domain's suffixes, not peer by peer."""
    labels = domain.split(".")
    hits = [p for p in (".".join(labels[n:]) for n in range(len(labels))) if p in order]
    if "" in order:
        hits.append("")
    return min(hits, key=order.__getitem__) if hits else None


def _check_duplicate_keys(
    cluster: Cluster,
    resolved: dict[str, HostSettings],
    by_host: dict[str, ClusterRules],
    rep: _Reporter,
) -> None:
    blocks: list[tuple[Loc, Any]] = [((), cluster)]
    blocks += [(("hosts", name), host) for name, host in cluster.hosts.items()]
    for prefix, block in blocks:
        for section in ("domains", "recipients"):
            parse = names.parse_peer if section == "domains" else names.parse_recipient
            normal: dict[str, str] = {}
            for raw in getattr(block, section):
                norm = parse(raw)
                if norm in normal:
                    first = rep.loaded.locate((*prefix, section, normal[norm]), key=True)[0]
                    rep.add(
                        (*prefix, section, raw),
                        "S200",
                        f"{section} key '{shown(raw)}' is the same as '{normal[norm]}'"
                        f" on line {first}"
                        " (sendmail folds case and IDNA)",
                        True,
                    )
                normal.setdefault(norm, raw)
    # each set of rules with the client-certificate variants of the hosts that get it
    variants: dict[int, tuple[ClusterRules, set[bool]]] = {}
    for name, rules in by_host.items():
        variants.setdefault(id(rules), (rules, set()))[1].add(
            resolved[name].tls.request_client_cert
        )
    reported: set[tuple[Loc, Loc]] = set()
    for rules, wanted in variants.values():
        for variant in sorted(wanted):
            if not rules.keys_collide(variant):
                continue  # no two entries collide: nothing to look for one by one
            first_seen: dict[str, Loc] = {}
            for item in rules.all(variant):
                folded = item.entry.folded_key
                if folded in first_seen:
                    other = first_seen[folded]
                    if other == item.loc or (other, item.loc) in reported:
                        continue
                    reported.add((other, item.loc))
                    if split_entry_loc(other) is not None:
                        by = rep.label(other)  # `blocklist.access line 7`
                    else:
                        by = f"{rep.label(other)} on line {rep.loaded.locate(other)[0]}"
                    rep.add(
                        item.loc,
                        "S200",
                        f"access key {item.entry.key} is also written by {by}; makemap would"
                        " keep only one",
                    )
                else:
                    first_seen[folded] = item.loc


def _check_session_features(
    resolved: dict[str, HostSettings], by_host: dict[str, ClusterRules], rep: _Reporter
) -> None:
    found: dict[int, list[SourcedEntry]] = {}  # per set of rules, not per host: big clusters
    for name, settings in resolved.items():
        rules = by_host[name]
        users = found.get(id(rules))
        if users is None:
            # an entry of these tags is never canonical as written: only parsed ones
            users = found[id(rules)] = [
                SourcedEntry(e, loc, "access")
                for e, loc in rules.user_texts.parsed()
                if e.tag in ("TLS_Srv_Features", "TLS_Clt_Features")
            ]
        if not users:
            continue
        features = [f.name for f in settings.mc.features]
        if "tls_session_features" not in features:
            rep.add(
                users[0].loc,
                "S208",
                f"{users[0].entry.tag}: entries need FEATURE tls_session_features"
                f" (missing on host {name}); without it sendmail ignores them",
            )
            return


def _check_clt_features(
    resolved: dict[str, HostSettings], by_host: dict[str, ClusterRules], rep: _Reporter
) -> None:
    """A keyed Clt_Features: line is looked up by the server in 8.18 (cf/README's
    `Clt_Features:broken.sts M`), by the inbound client in 8.17's clt_features: a
    warning there, as lint's A006 (an 8.17 host's import carries the line over)."""
    found: dict[int, list[SourcedEntry]] = {}  # per set of rules, as session features
    reported: set[object] = set()
    for name, settings in resolved.items():
        if release_of(settings.sendmail).family != "8.17":
            continue
        rules = by_host[name]
        keyed = found.get(id(rules))
        if keyed is None:
            keyed = found[id(rules)] = [
                SourcedEntry(e, loc, "access")
                for e, loc in rules.user_texts.parsed()
                if e.tag == "Clt_Features" and e.key != "Clt_Features:"
            ]
        for user in keyed:
            if user.loc not in reported:
                reported.add(user.loc)
                rep.add(
                    user.loc,
                    "S210",
                    "a keyed Clt_Features: line is looked up by the inbound client, not the"
                    f" server, in host {name}'s sendmail {settings.sendmail} (8.18 looks it up by"
                    " the server); use Try_TLS:<server> NO (outbound: {starttls: false})",
                    severity="warning",
                )


def _check_raw_access(data: dict[str, Any], rep: _Reporter) -> None:
    """Check `access:` entries (and those of the files it names) even when another
    part of the spec is malformed."""
    entries, tags = data.get("access"), data.get("issuer_tags")
    if not isinstance(entries, list):
        return
    tag_names = frozenset(t for t in tags if isinstance(t, str)) if isinstance(tags, dict) else None
    segments = access_segments(entries, ("access",), rep.loaded.access_files)
    for loc, message in AccessTexts(segments, tag_names or frozenset()).problems:
        rep.entry_problem(loc, message)


def _check_access_files(rep: _Reporter) -> None:
    """S226: a named access file that cannot be read or decoded, or named twice."""
    for loc, read in rep.loaded.access_files.items():
        if read.error is not None:
            line, col, message = read.error
            if line:
                rep.add_at(read.source, line, col, "S226", message)
            else:
                rep.add((*loc, "file"), "S226", message)
        if read.again is not None:
            rep.add(
                (*loc, "file"),
                "S226",
                f"{rep.label(loc)} names {read.source} again ({rep.label(read.again)}"
                " reads it already); name each file once",
            )


def validate(loaded: LoadedSpec, release: bool = False) -> Validated:
    """Check loaded data against the spec; never raises for bad input.

    With `release`, the texts of the `access:` entries are let go of once checked
    (_release_texts): `loaded` is then spent (its `access:` lists, and those of the
    model, can no longer be read), and the entries are read from the rules' bodies.
    """
    with gc_paused():
        return _validate(loaded, release)


def _validate(loaded: LoadedSpec, release: bool = False) -> Validated:
    rep = _Reporter(loaded)
    _check_access_files(rep)
    words = bool_word_problems(loaded) + number_word_problems(loaded)
    for loc, message in words:
        rep.add(loc, "S102", message)
    try:
        cluster = Cluster.model_validate(loaded.data)
    except ValidationError as exc:
        _pydantic_problems(exc, rep, {loc for loc, _ in words}, loaded.data)
        _check_raw_access(loaded.data, rep)
        _second_pass_anyway(loaded, exc, rep)
        # the second pass may find again what _check_raw_access found
        return Validated(None, sort_problems(list(dict.fromkeys(rep.problems))))
    rules = _check_cluster(cluster, rep, release)
    problems = sort_problems(rep.problems)
    has_error = any(p.severity == "error" for p in problems)
    return Validated(None if has_error else cluster, problems, None if has_error else rules)


# -- the second pass when the first found errors ------------------------------------------

#: checks whose findings stay true when a broken part of the spec is left out:
#: leaving entries out never makes two keys collide, a FEATURE list wrong, ...
_STILL_TRUE = frozenset(
    {"S200", "S201", "S204", "S205", "S206", "S207", "S209", "S210", "S212", "S217"}
)
_MAX_ROUNDS = 8
#: required top-level values, and a valid stand-in for one the models refused
_STAND_INS: dict[Loc, object] = {("cluster",): "cluster", ("version",): 1}
#: findings about one value of a host's own (an unknown FEATURE or MAILER name, an extra
#: line, an access entry), true whatever the host's settings merged from the defaults
_PER_VALUE = frozenset({"S204", "S209", "S210", "S217"})


def _second_pass_anyway(loaded: LoadedSpec, exc: ValidationError, rep: _Reporter) -> None:
    """Run the cross-field checks on the spec with its broken parts left out.

    Every problem at once: a type error in one host must not hide a duplicate
    access key elsewhere. Each value the models refused is removed (its
    mapping entry, or the list holding it, so that no list index moves);
    what then fails is removed in turn, a few rounds at most. Only findings
    that leaving things out cannot cause are kept, and none from a block that
    lost something (a host, the defaults, a top-level section).
    """
    data = copy.deepcopy(loaded.data)
    pruned: set[Loc] = set()
    errors = _errors(exc)
    cluster: Cluster | None = None
    for _ in range(_MAX_ROUNDS):
        for err in errors:
            loc, _key = _clean_loc(err["loc"], data)
            if err["type"] == "missing" and loc not in _STAND_INS:
                loc = loc[:-1]
            if loc[:1] in _STAND_INS:
                # a required top-level value: a stand-in, so that the rest is checked
                data[str(loc[0])] = _STAND_INS[loc[:1]]
                pruned.add(loc[:1])
                continue
            removed = _remove(data, loc)
            if removed is None:
                return
            pruned.add(removed)
        try:
            cluster = Cluster.model_validate(data)
            break
        except ValidationError as again:
            errors = _errors(again)
    if cluster is None:
        return
    blocks = {_block(loc) for loc in pruned}
    # a host that lost its request_client_cert gets another value from the defaults
    # (or false), and Srv_Features:KEY v entries exist only for hosts without it
    variant_moved = any(_may_set_client_cert(loc) for loc in pruned)

    def keep(loc: Loc, code: str) -> bool:
        if code not in _STILL_TRUE or _block(loc) in blocks:
            return False
        if loc[:1] == ("hosts",) and ("defaults",) in blocks and code not in _PER_VALUE:
            return False  # the hosts' settings were merged from the broken defaults
        if code == "S200" and variant_moved:
            return False
        # without a tag that lost a value, an access entry naming it looks unknown
        return not (code in ("S201", "S210") and ("issuer_tags",) in blocks)

    _check_cluster(cluster, _Shared(rep, keep))


def _may_set_client_cert(loc: Loc) -> bool:
    """True when removing `loc` may change a host's tls.request_client_cert."""
    block = _block(loc)
    if block[:1] not in (("hosts",), ("defaults",)):
        return False  # only a host's tls: or the defaults' set it
    if loc == block and block[:1] == ("hosts",):
        return False  # a host left out entirely writes no access file
    target = (*block, "tls", "request_client_cert")
    return loc[: len(target)] == target[: len(loc)]


def _block(loc: Loc) -> Loc:
    """The part of the spec a location belongs to: a host, or a top-level key."""
    return loc[:2] if loc[:1] == ("hosts",) else loc[:1]


def _remove(data: Any, loc: Loc) -> Loc | None:
    """Remove the mapping entry at `loc`, or the nearest one holding it; None at the top."""
    for end in range(len(loc), 0, -1):
        parent = data
        for part in loc[: end - 1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if isinstance(parent, dict) and loc[end - 1] in parent:
            del parent[loc[end - 1]]
            return loc[:end]
    return None
