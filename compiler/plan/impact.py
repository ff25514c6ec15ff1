"""`tlsc plan --logs FILE...`: the mail each added or changed TLS rule would have stopped.

The logs are read once (compiler.logs.sessions) and every session is judged
against its host's new access map (compiler.logs.whatif, per host), the map
the plan would write; then each host's added and changed TLS entries (the
plan's access diff: TLS_Srv, TLS_Clt, TLS_Rcpt, Try_TLS NO, Srv_Features
with S) get what they did. A log line's host is matched to a spec host by
its name, fqdn or short name; sessions of other hosts are counted in
`MailLogs.unknown_hosts` and in no host's impact.

Imported only when --logs is given: plan's cold start stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from compiler.logs.sessions import Session, read_sessions
from compiler.logs.spec_tables import host_tables
from compiler.logs.whatif import Evaluation, RuleImpact, is_rule_entry
from compiler.logs.whatif_format import impact_sentence
from compiler.plan.desired import DesiredSpec
from compiler.plan.model import HostPlan, MailImpact, MailLogs


class LogsError(Exception):
    """A log file could not be read; the message is one sentence."""


def _impact(
    key: str,
    value: str,
    change: Literal["added", "changed"],
    old: str | None,
    found: RuleImpact | None,
) -> MailImpact:
    direction = (
        "outbound" if key.partition(":")[0] in ("TLS_Srv", "TLS_Rcpt", "Try_TLS") else ("inbound")
    )
    if found is None:  # not one of the host's rules (an entry the plan keeps outside tlsc's)
        return MailImpact(
            key,
            value,
            change,
            old,
            direction,
            0,
            0,
            0,
            0,
            0,
            0,
            (),
            None,
            None,
            (),
            "would have stopped no mail in 0 sessions",
        )
    return MailImpact(
        key=key,
        value=value,
        change=change,
        old=old,
        direction=direction,
        sessions=found.sessions,
        deliveries=found.deliveries,
        deferred=len(found.deferred),
        refused=len(found.refused),
        unknown=len(found.unknown),
        unknown_sessions=found.unknown_sessions,
        peers=tuple(p.peer for p in found.stopped_peers),
        first=found.first,
        last=found.last,
        reasons=tuple(sorted(found.reasons.items())),
        summary=impact_sentence(found),
    )


def host_impacts(plan: HostPlan, impacts: dict[str, RuleImpact]) -> list[MailImpact]:
    """The impact of each TLS entry the host's plan adds or changes, in the diff's order."""
    out = []
    for line in plan.access.added:
        if is_rule_entry(line.key, line.value):
            out.append(_impact(line.key, line.value, "added", None, impacts.get(line.key.lower())))
    for changed in plan.access.changed:
        after = changed.after
        if is_rule_entry(after.key, after.value):
            out.append(
                _impact(
                    after.key,
                    after.value,
                    "changed",
                    changed.before.value,
                    impacts.get(after.key.lower()),
                )
            )
    return out


def add_mail_impact(
    hosts: Sequence[HostPlan], desired: DesiredSpec, files: Sequence[str], year: int | None
) -> MailLogs:
    """Fill each host plan's `mail_impact` from the logs; LogsError when a file is unreadable."""
    tables, fallback = host_tables(desired.cluster, desired.rules)
    evaluation = Evaluation(tables, fallback, per_host=True)

    def on_session(session: Session) -> None:
        evaluation.add(session)

    stats, problems = read_sessions(files, on_session, year)
    if problems:
        raise LogsError(problems[0])
    known = set(desired.hosts)
    for plan in hosts:
        if plan.host in known:
            plan.mail_impact = host_impacts(plan, evaluation.for_host(plan.host))
    return MailLogs(
        files=len(files),
        lines=stats.lines,
        sessions=evaluation.sessions,
        unknown_hosts=dict(evaluation.unknown_hosts),
    )
