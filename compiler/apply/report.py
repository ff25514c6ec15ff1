"""What an apply did, step by step: for a person (text) and for tools (JSON).

The JSON is versioned:

    {"version": 1, "host", "spec", "root", "result", "message", "changes",
     "files": [{"path", "action", "before_sha256", "after_sha256"}],
     "actions": [...], "warnings": [...],          # as in the plan's JSON
     "backup", "rebuilt": ["sendmail.cf", ...], "restarted", "verify",
     "steps": [{"name", "status", "seconds", "detail"}], "seconds",
     "preflight": [{"host", "path", "code", "severity", "message", "fix"}]}

`preflight` lists what the pre-flight step (tlsc doctor's TLS file checks)
found; an error among them refused the apply.

`result` is `applied`, `unchanged` (nothing to do), `rolled-back` (a step
failed and the host is back where it was), `failed` (a step failed and the
host could not be put back, or nothing was changed because a step before any
change failed) or `refused` (nothing was changed: an invalid spec, a stale
saved plan, a downgrade without --allow-downgrade, no confirmation).
`status` is `ok`, `failed` or `skipped`. `verify` is the probe result in
`tlsc verify --format json`'s shape, or null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from compiler.doctor.finding import Finding
from compiler.plan.model import HostPlan
from compiler.problems import Problem, one_line

REPORT_VERSION = 1
Result = Literal["applied", "unchanged", "rolled-back", "failed", "refused"]
Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class Step:
    """One step of an apply and how it went."""

    name: str
    status: Status
    seconds: float
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """{"name", "status", "seconds", "detail"}."""
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 6),
            "detail": self.detail,
        }

    def text(self) -> str:
        """One line: name, status, time, detail."""
        detail = one_line(self.detail)  # a path under --root may hold a newline
        return f"  {self.name:<17}{self.status:<8}{self.seconds:8.3f} s  {detail}".rstrip()


@dataclass
class ApplyReport:
    """The whole apply."""

    spec: str
    root: str
    host: str | None = None
    result: Result = "refused"
    message: str = ""
    steps: list[Step] = field(default_factory=list)
    plan: HostPlan | None = None
    backup: str | None = None
    rebuilt: list[str] = field(default_factory=list)
    restarted: bool = False
    verify: dict[str, object] | None = None
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    #: what the pre-flight step found (errors refuse the apply, warnings do not)
    preflight: list[Finding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when the host now matches the spec (applied or nothing to do), else 1."""
        return 0 if self.result in ("applied", "unchanged") else 1

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON described in the module docstring."""
        plan = self.plan
        return {
            "version": REPORT_VERSION,
            "host": self.host,
            "spec": self.spec,
            "root": self.root,
            "result": self.result,
            "message": self.message,
            "changes": plan.changes if plan else 0,
            "files": [{k: v for k, v in f.to_json().items() if k != "diff"} for f in plan.files]
            if plan
            else [],
            "actions": [a.to_json() for a in plan.actions] if plan else [],
            "warnings": [w.to_json() for w in plan.warnings] if plan else [],
            "backup": self.backup,
            "rebuilt": self.rebuilt,
            "restarted": self.restarted,
            "verify": self.verify,
            "steps": [s.to_json() for s in self.steps],
            "seconds": round(self.seconds, 6),
            "problems": [p.as_dict() for p in self.problems],
            "preflight": [f.as_dict(self.host or "") for f in self.preflight],
        }
