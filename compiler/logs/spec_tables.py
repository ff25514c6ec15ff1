"""The access tables a spec gives each host, for the what-if, and proposed rules.

Each host's table holds exactly the entries `tlsc compile` writes to its
access file (compiler/rules.py `ClusterRules.all`, in file order), so the
what-if sees the bytes tlsc would write. A proposal is one more rule, in
YAML flow syntax, added to the spec's top-level section before it is
validated by the spec's own models and checks:

* `KEY: RULE` is a `domains:` item (`bank.example: {outbound: verify}`);
* `domains: {KEY: RULE}` says the same explicitly (use it for a key
  spelled `domains` or `recipients`);
* `recipients: {KEY: RULE}` is a `recipients:` item
  (`recipients: {alice@bank.example: verify}`).

A proposal replaces the spec's item with the same access key, as a host's
own item replaces the cluster's; a host with its own item for that key
keeps it. This module loads the spec stack (pydantic, ruamel.yaml); the
engine (whatif.py) does not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.logs.matching import AccessTable
from compiler.logs.whatif import HostRules, TlsRule, is_rule_entry
from compiler.problems import Problem
from compiler.resolve import resolve
from compiler.rules import ClusterRules, SourcedEntry
from compiler.sendmail import names
from compiler.spec.loader import LoadedSpec, Loc, SpecLoadError, load_text
from compiler.spec.model import Cluster, HostSettings
from compiler.spec.validate import validate

SECTIONS = ("domains", "recipients")
_PARSE: dict[str, Callable[[str], str]] = {
    "domains": names.parse_peer,
    "recipients": names.parse_recipient,
}
#: the host name of the cluster-wide rules, for sessions of hosts not in the spec
CLUSTER = "(cluster)"


class ProposalError(Exception):
    """A proposal that is not one valid rule; the message is one sentence, `problems`
    the same as a problem list (for --format json): at the proposal's own line and
    column, its path the proposal as the sentence names it (`--propose '...'`)."""

    def __init__(self, message: str, problems: list[Problem]):
        super().__init__(message)
        self.problems = problems


def _shape_error(label: str, message: str, line: int = 1, col: int = 1) -> ProposalError:
    """A proposal that is not one rule: Y005, as a spec that is not a mapping is."""
    return ProposalError(
        f"{label}: {message}", [Problem(label, line, col, "Y005", "error", message)]
    )


@dataclass(frozen=True)
class Proposal:
    """One `--propose` rule: the section it goes to, its key as written, its data."""

    text: str
    section: str
    key: str
    value: Any
    loaded: LoadedSpec
    #: where the proposal's own positions sit in the spec (`("domains",)`, or `()`
    #: when it was written with its section)
    prefix: Loc = ()

    @property
    def label(self) -> str:
        """How messages name it: `--propose 'TEXT'`."""
        return f"--propose {self.text!r}"


def _located(label: str, problem: Problem) -> str:
    return f"{label}:{problem.line}:{problem.col}: {problem.message}"


def parse_proposal(text: str) -> Proposal:
    """One proposal's text as a rule of `domains:` or `recipients:` (not yet validated)."""
    label = f"--propose {text!r}"
    try:
        loaded = load_text(text, label)
    except SpecLoadError as exc:
        first = exc.problems[0]
        if first.code == "Y005":  # empty, or not a mapping
            raise _shape_error(
                label,
                "a proposal is one rule, KEY: RULE in YAML flow syntax, e.g."
                " 'bank.example: {outbound: {require: verify}}'",
                first.line,
                first.col,
            ) from None
        raise ProposalError(_located(label, first), list(exc.problems)) from None
    data = loaded.data
    if not isinstance(data, dict):  # pragma: no cover - load_text refuses other roots
        raise _shape_error(label, "a proposal is one rule, KEY: RULE")
    if len(data) == 1:
        ((key, value),) = data.items()
        if key in SECTIONS and isinstance(value, dict):
            inner = value
            if len(inner) != 1:
                raise _shape_error(
                    label,
                    f"{key}: must hold exactly one rule, not {len(inner)}; give"
                    " --propose once per rule",
                )
            ((rule_key, rule_value),) = inner.items()
            return Proposal(text, key, str(rule_key), rule_value, loaded)
        return Proposal(text, "domains", str(key), value, loaded, ("domains",))
    raise _shape_error(
        label,
        f"a proposal is one rule (KEY: RULE), not {len(data)}; give --propose once per rule",
    )


def _rooted(proposal: Proposal) -> dict[Loc, tuple[int, int]]:
    """The proposal's positions, at the place in the spec its rule goes to."""
    return {(*proposal.prefix, *loc): pos for loc, pos in proposal.loaded.positions.items() if loc}


def _mark_words(spec: LoadedSpec, proposals: Sequence[Proposal]) -> None:
    """Carry the proposals' unquoted YAML 1.1 booleans and numbers not in plain decimal
    digits into the spec they are validated in, at their place there: `cn: yes` or
    `min_bits: 0x80` is refused in a proposal as in the spec."""
    for p in proposals:
        spec.bool_words.update((*p.prefix, *loc) for loc in p.loaded.bool_words)
        spec.number_words.update(
            ((*p.prefix, *loc), text) for loc, text in p.loaded.number_words.items()
        )


def _same_key(section: str, a: str, b: str) -> bool:
    parse = _PARSE[section]
    try:
        return parse(a).lower() == parse(b).lower()
    except ValueError:
        return a == b


def with_proposals(loaded: LoadedSpec, proposals: Sequence[Proposal]) -> dict[str, Any]:
    """The spec's data with each proposal's rule put in its section."""
    data = copy.deepcopy(loaded.data)
    for p in proposals:
        section = data.get(p.section)
        if not isinstance(section, dict):
            section = data[p.section] = {}
        for key in [k for k in section if _same_key(p.section, str(k), p.key)]:
            del section[key]
        section[p.key] = copy.deepcopy(p.value)
    return data


def validate_proposals(
    loaded: LoadedSpec, proposals: Sequence[Proposal]
) -> tuple[Cluster, ClusterRules]:
    """The cluster with every proposal in it; ProposalError names the first bad one.

    The spec itself is valid (checked before), so an error is a proposal's:
    each is tried alone on the spec to say which, at its own line and column.
    """
    merged = LoadedSpec(loaded.source, with_proposals(loaded, proposals))
    _mark_words(merged, proposals)
    checked = validate(merged)
    if checked.ok and checked.cluster is not None and checked.rules is not None:
        return checked.cluster, checked.rules
    for p in proposals:
        alone = LoadedSpec(p.label, with_proposals(loaded, [p]), _rooted(p))
        _mark_words(alone, [p])
        errors = [e for e in validate(alone).problems if e.severity == "error"]
        if errors:
            raise ProposalError(_located(p.label, errors[0]), errors)
    errors = [e for e in checked.problems if e.severity == "error"]
    first = errors[0].message if errors else "they are not valid together"
    raise ProposalError(f"the proposals together: {first}", errors)


def _host_names(name: str, fqdn: str) -> list[str]:
    out = [name, fqdn, fqdn.split(".", 1)[0], name.split(".", 1)[0]]
    return list(dict.fromkeys(n.lower() for n in out if n))


def _rule(item: SourcedEntry, proposed: set[tuple[str, str]]) -> TlsRule:
    loc = item.loc
    source = item.section
    if len(loc) >= 2 and (str(loc[0]), str(loc[1])) in proposed:
        source = "proposed"
    return TlsRule(item.entry.key, item.entry.value, source, tuple(loc))


def _rule_set(
    items: list[SourcedEntry], proposed: set[tuple[str, str]]
) -> tuple[AccessTable, dict[str, TlsRule]]:
    """The table of every entry, and the TLS rules among them by folded key."""
    table = AccessTable((item.entry.key, item.entry.value) for item in items)
    rules: dict[str, TlsRule] = {}
    for item in items:
        key, value = item.entry.key, item.entry.value
        if is_rule_entry(key, value) and key.lower() not in rules:
            rules[key.lower()] = _rule(item, proposed)
    return table, rules


def _perm_default(settings: HostSettings) -> bool:
    return "TLS_PERM_ERR" in settings.mc.defines


def host_tables(
    cluster: Cluster, rules: ClusterRules, proposals: Sequence[Proposal] = ()
) -> tuple[list[HostRules], HostRules]:
    """Every host's table, and the cluster-wide one (for hosts the spec does not name)."""
    proposed = {(p.section, p.key) for p in proposals}
    # hosts without rules of their own share the cluster's entries: one table per variant
    sets: dict[tuple[int, bool], tuple[AccessTable, dict[str, TlsRule]]] = {}

    def rule_set(own: ClusterRules, cert: bool) -> tuple[AccessTable, dict[str, TlsRule]]:
        found = sets.get((id(own), cert))
        if found is None:
            found = sets[(id(own), cert)] = _rule_set(own.all(cert), proposed)
        return found

    out = []
    for name in sorted(cluster.hosts):
        config = resolve(cluster, name)
        cert = config.settings.tls.request_client_cert
        table, tls_rules = rule_set(rules.for_host(name), cert)
        names = frozenset(_host_names(name, config.fqdn))
        perm = _perm_default(config.settings)
        out.append(HostRules(name, table, tls_rules, names, cert, perm))
    cert = cluster.defaults.tls.request_client_cert
    table, tls_rules = rule_set(rules, cert)
    fallback = HostRules(
        CLUSTER, table, tls_rules, frozenset(), cert, _perm_default(cluster.defaults)
    )
    return out, fallback
