"""The plan as values: what changes per host and file, and why.

`Plan.to_json()` is the stable, versioned JSON of DESIGN.md:

    {"version": 1, "changes": N, "hosts": [{"host", "files": [{"path", "action",
     "before_sha256", "after_sha256", "diff"}], "access": {"added", "removed",
     "changed"}, "actions", "warnings"}]}

`changes` counts files that would be created, updated or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PLAN_VERSION = 1

FileAction = Literal["create", "update", "delete", "unchanged"]
Side = Literal["before", "after"]
ActionName = Literal["rebuild_access_db", "rebuild_sendmail_cf", "restart", "run_after"]


@dataclass(frozen=True)
class FileChange:
    """One managed file: what happens to it, its hashes, and its unified diff."""

    path: str
    action: FileAction
    before_sha256: str | None  # None: the file is absent now
    after_sha256: str | None  # None: the file will be absent
    diff: str  # "" when unchanged (or when the diff is withheld; a warning says why)

    def to_json(self) -> dict[str, Any]:
        """The DESIGN shape of a file entry."""
        return {
            "path": self.path,
            "action": self.action,
            "before_sha256": self.before_sha256,
            "after_sha256": self.after_sha256,
            "diff": self.diff,
        }


@dataclass(frozen=True)
class AccessLine:
    """An access map entry as it stands in a file (line counts from 1)."""

    key: str
    value: str
    line: int

    def text(self) -> str:
        """The entry as a file line, `KEY<TAB>VALUE`."""
        return f"{self.key}\t{self.value}"


@dataclass(frozen=True)
class AccessChanged:
    """A key whose right-hand side changes."""

    before: AccessLine
    after: AccessLine

    @property
    def key(self) -> str:
        """The key as the new file spells it."""
        return self.after.key


@dataclass
class AccessDiff:
    """The access map compared key by key (keys fold case, as makemap does)."""

    added: list[AccessLine] = field(default_factory=list)
    removed: list[AccessLine] = field(default_factory=list)
    changed: list[AccessChanged] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        """{"added": [{key, value}], "removed": [{key, value}], "changed": [{key, old, new}]}."""
        return {
            "added": [{"key": a.key, "value": a.value} for a in self.added],
            "removed": [{"key": r.key, "value": r.value} for r in self.removed],
            "changed": [
                {"key": c.key, "old": c.before.value, "new": c.after.value} for c in self.changed
            ],
        }


@dataclass(frozen=True)
class PlannedAction:
    """Something apply would run after writing the files."""

    action: ActionName
    description: str
    because: tuple[str, ...]  # the changed files that make it necessary
    command: str | None = None  # the spec's shell command, for restart and run_after

    def to_json(self) -> dict[str, Any]:
        """{"action", "description", "because", "command"}."""
        return {
            "action": self.action,
            "description": self.description,
            "because": list(self.because),
            "command": self.command,
        }


@dataclass(frozen=True)
class WarningLine:
    """A line a warning is about, on the old (before) or new (after) side of a file."""

    side: Side
    line: int
    text: str


@dataclass(frozen=True)
class PlanWarning:
    """Something a reviewer should look at. Downgrades (D...) weaken TLS."""

    code: str
    message: str
    path: str | None = None
    lines: tuple[WarningLine, ...] = ()

    @property
    def downgrade(self) -> bool:
        """True for a change that weakens TLS (apply needs --allow-downgrade)."""
        return self.code.startswith("D")

    def to_json(self) -> dict[str, Any]:
        """{"code", "severity", "downgrade", "message", "path", "lines"}."""
        return {
            "code": self.code,
            "severity": "warning",
            "downgrade": self.downgrade,
            "message": self.message,
            "path": self.path,
            "lines": [{"side": w.side, "line": w.line, "text": w.text} for w in self.lines],
        }


@dataclass
class HostPlan:
    """Everything that would change on one host."""

    host: str
    files: list[FileChange]
    access: AccessDiff = field(default_factory=AccessDiff)
    actions: list[PlannedAction] = field(default_factory=list)
    warnings: list[PlanWarning] = field(default_factory=list)
    #: which of the files is the access file (not part of the JSON)
    access_path: str | None = None

    @property
    def changes(self) -> int:
        """Files that would be created, updated or deleted."""
        return sum(1 for f in self.files if f.action != "unchanged")

    @property
    def downgrades(self) -> list[PlanWarning]:
        """The warnings that mark a weakening of TLS."""
        return [w for w in self.warnings if w.downgrade]

    def to_json(self) -> dict[str, Any]:
        """The DESIGN shape of a host entry."""
        return {
            "host": self.host,
            "files": [f.to_json() for f in self.files],
            "access": self.access.to_json(),
            "actions": [a.to_json() for a in self.actions],
            "warnings": [w.to_json() for w in self.warnings],
        }


@dataclass(frozen=True)
class Observed:
    """Where "what is there now" came from."""

    kind: Literal["root", "state", "base"]
    location: str  # the directory, or the git revision as given
    commit: str | None = None  # for base: the commit the revision named

    def describe(self) -> str:
        """A short phrase for reports: 'files under /', 'git revision origin/main (1a2b3c4)'."""
        if self.kind == "root":
            return f"the files under {self.location}"
        if self.kind == "state":
            return f"the state tree {self.location}"
        short = f" ({self.commit[:12]})" if self.commit else ""
        return f"git revision {self.location}{short}"


@dataclass
class Plan:
    """A whole plan: one HostPlan per host, sorted by host name."""

    spec: str
    spec_sha256: str
    observed: Observed
    hosts: list[HostPlan]

    @property
    def changes(self) -> int:
        """Files that would be created, updated or deleted, over all hosts."""
        return sum(h.changes for h in self.hosts)

    @property
    def downgrades(self) -> list[tuple[str, PlanWarning]]:
        """(host, warning) for every change that weakens TLS."""
        return [(h.host, w) for h in self.hosts for w in h.downgrades]

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON of DESIGN.md."""
        return {
            "version": PLAN_VERSION,
            "changes": self.changes,
            "hosts": [h.to_json() for h in self.hosts],
        }
