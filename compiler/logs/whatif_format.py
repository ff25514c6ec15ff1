"""The what-if in words and in JSON: one sentence per rule, the documented shape.

`impact_sentence` is what the text report and `tlsc plan --logs` print
(`would have deferred 37 messages to 2 servers, 2026-11-25..12-01`);
`report_json` is the object `tlsc logs --spec --format json` prints, whose
shape README.md documents (What if) and which stays stable (`"version": 1`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from compiler.logs.whatif import Evaluation, RuleImpact


def _counted(counter: Counter[str], name: str, limit: int | None) -> list[dict[str, Any]]:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if limit is not None:
        items = items[:limit]
    return [{name: k, "messages": n} for k, n in items]


def impact_json(impact: RuleImpact, limit: int | None = None) -> dict[str, Any]:
    """One rule's impact in the documented JSON shape (README: What if)."""
    failures = sorted(impact.failures)
    return {
        "key": impact.rule.key,
        "value": impact.rule.value,
        "tag": impact.rule.tag,
        "direction": impact.rule.direction,
        "source": impact.rule.source,
        "spec_path": list(impact.rule.spec_path),
        "hosts": sorted(impact.hosts),
        "on_failure": failures[0] if len(failures) == 1 else "mixed" if failures else None,
        "sessions": impact.sessions,
        "deliveries": impact.deliveries,
        "stopped": {
            "sessions": impact.stopped_sessions,
            "messages": impact.stopped_messages,
            "deferred": len(impact.deferred),
            "refused": len(impact.refused),
        },
        "unknown": {
            "sessions": impact.unknown_sessions,
            "messages": len(impact.unknown),
            "reasons": dict(sorted(impact.unknown_reasons.items())),
        },
        "made_clear": impact.made_clear,
        "reasons": dict(sorted(impact.reasons.items())),
        "first": impact.first,
        "last": impact.last,
        "peers": [
            {
                "peer": p.peer,
                "sessions": p.sessions,
                "stopped": p.stopped,
                "unknown": p.unknown,
                "deliveries": p.messages,
                "reasons": dict(sorted(p.reasons.items())),
                "details": dict(sorted(p.details.items())),
            }
            for p in sorted(
                (p for p in impact.peers.values() if p.stopped or p.unknown),
                key=lambda p: (-p.stopped, -p.unknown, p.peer),
            )[:limit]
        ],
        "senders": _counted(impact.senders, "address", limit),
        "recipients": _counted(impact.recipients, "address", limit),
        "safe_to_tighten": impact.safe_to_tighten[:limit],
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("s") else "s")


def span(first: str | None, last: str | None) -> str:
    """`2026-11-25..12-01` (the year once when both have it), one date for one day."""
    if first is None or last is None:
        return ""
    a, b = first[:10], last[:10]
    if a == b:
        return a
    return f"{a}..{b[5:]}" if a[:4] == b[:4] else f"{a}..{b}"


def impact_sentence(impact: RuleImpact) -> str:
    """What the rule would have done, in one phrase: `would have deferred 37 messages to
    2 servers, 2026-11-25..12-01`."""
    peers = len(impact.stopped_peers)
    side = "to" if impact.rule.direction == "outbound" else "from"
    noun = "server" if impact.rule.direction == "outbound" else "client"
    verbs = []
    if impact.deferred:
        verbs.append(f"deferred {_plural(len(impact.deferred), 'message')}")
    if impact.refused:
        verbs.append(f"refused {_plural(len(impact.refused), 'message')}")
    if verbs:
        text = f"would have {' and '.join(verbs)} {side} {_plural(peers, noun)}"
        when = span(impact.first, impact.last)
        text += f", {when}" if when else ""
    elif impact.stopped_sessions:
        text = (
            f"would have stopped {_plural(impact.stopped_sessions, 'session')} {side}"
            f" {_plural(peers, noun)} (no message lines)"
        )
    else:
        text = f"would have stopped no mail in {_plural(impact.sessions, 'session')}"
    if impact.rule.tag in ("Try_TLS", "Srv_Features"):
        off = f"would switch TLS off in {_plural(impact.made_clear, 'session')} that had it"
        if verbs or impact.stopped_sessions:
            text = f"{off}, and then a TLS requirement {text}"
        else:
            text = off
    if impact.unknown_sessions:
        why = ", ".join(sorted(impact.unknown_reasons))
        text += (
            f"; {_plural(len(impact.unknown), 'message')} in"
            f" {_plural(impact.unknown_sessions, 'session')} the log cannot judge ({why})"
        )
    return text


#: the version of the what-if JSON (README: What if)
WHATIF_VERSION = 1


def report_json(
    current: Evaluation,
    proposed: Evaluation | None,
    *,
    spec: str,
    files: int,
    lines: int,
    limit: int | None = None,
) -> dict[str, Any]:
    """The whole what-if as the documented JSON object."""
    rules = [impact_json(i, limit) for i in current.results()]
    extra = []
    if proposed is not None:
        extra = [impact_json(i, limit) for i in proposed.results() if i.rule.source == "proposed"]
    out: dict[str, Any] = {
        "version": WHATIF_VERSION,
        "spec": spec,
        "files": files,
        "lines": lines,
        "sessions": current.sessions,
        "hosts": [{"host": h, "sessions": n} for h, n in sorted(current.by_host.items())],
        "unknown_hosts": [
            {"host": h, "sessions": n} for h, n in sorted(current.unknown_hosts.items())
        ],
    }
    if current.cut_names:
        out["cut_names"] = current.cut_names  # matched by address only
    out["proposed"] = extra
    out["rules"] = rules
    return out
