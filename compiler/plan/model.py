"""The plan as values: what changes per host and file, and why.

`Plan.to_json()` is the stable, versioned JSON that README.md documents:

    {"version": 1, "changes": N, "hosts": [{"host", "files": [{"path", "action",
     "before_sha256", "after_sha256", "diff"}], "access": {"added", "removed",
     "changed"}, "actions", "warnings"}]}

`changes` counts files that would be created, updated or deleted. Each host
entry also has `"certificates"` (added to version 1 without changing its
other fields) when the plan read the host's files (--root, --state): a list
of {"path", "role", "subject", "issuer", "not_after", "days_left", "sha256",
"count", "error"}; it is absent when nothing was read (--base). With
`--logs`, the plan has `"mail_logs"` ({"files", "lines", "sessions",
"unknown_hosts"}) and each host entry `"mail_impact"`: one `MailImpact.to_json()`
per TLS rule the plan adds or changes there (the what-if of `tlsc logs
--spec` on the new access map).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

PLAN_VERSION = 1

FileAction = Literal["create", "update", "delete", "unchanged"]
Side = Literal["before", "after"]
ActionName = Literal[
    "rebuild_access_db", "rebuild_sendmail_cf", "rebuild_submit_cf", "restart", "run_after"
]

#: Warning codes. P001-P004 mark a change that weakens TLS (apply needs
#: --allow-downgrade); P005 a host whose STARTTLS would not work; P101-P109
#: are notes for the reviewer (tlsc doctor's findings are D001-D033).
DOWNGRADE_CODES = frozenset({"P001", "P002", "P003", "P004"})

#: Every warning code and what it means (the README lists the same table).
CODES = {
    "P001": "a peer's or recipient's TLS level goes down (verify > encrypt > may > none)",
    "P002": "fewer minimum key bits for a peer or recipient",
    "P003": "STARTTLS removed from a host",
    "P004": "a certificate check dropped (+CN, +CN:name, +CS, +CI, +CITag)",
    "P005": "a certificate the spec names is missing or holds no PEM certificate",
    "P101": "a file tlsc would replace was not written by tlsc (--root)",
    "P102": "a binary file; its diff is not shown",
    "P103": "a file holding private key material; its diff is not shown",
    "P104": "a file that is not valid UTF-8; its diff shows U+FFFD",
    "P105": "an access file with no tlsc block yet (ownership: block)",
    "P106": "sendmail.cf changes but commands.restart is null",
    "P107": "a host no longer in the spec (--base)",
    "P108": "the state tree has no directory for a host (--state)",
    "P109": "a file apply writes is a symbolic link; apply writes the file it leads to (--root)",
    "P110": "a starttls.m4 no include names (STARTTLS off): left as it is, never deleted",
    "P111": "the host's own sendmail.mc sets a TLS option that tlsc's starttls.m4 now"
    " overrides, or sets one in a raw O line",
    "P112": "an access file holding what looks like key material; its diff shows it withheld",
    "P113": "the host's submit.mc includes a file the plan changes, and tlsc cannot rebuild"
    " submit.cf from it (no cf.m4 m4 finds, or an include of a file the plan deletes)",
    "P114": "an apply did not finish (its journal is there): the next apply finishes its"
    " rebuilds and restart (--root)",
    "P115": "sendmail.cf or access.db missing or older than its sources: apply rebuilds it"
    " (--root)",
    "P116": "a file apply writes has other hard links, which keep the old content (--root)",
}
#: warnings of work apply owes a host whose files all match (an interrupted apply, a
#: stale build): a change for --detailed-exitcode
OWED = frozenset({"P114", "P115"})


@dataclass(frozen=True)
class FileChange:
    """One managed file: what happens to it, its hashes, and its unified diff."""

    path: str
    action: FileAction
    before_sha256: str | None  # None: the file is absent now
    after_sha256: str | None  # None: the file will be absent
    diff: str  # "" when unchanged (or when the diff is withheld; a warning says why)

    def to_json(self) -> dict[str, Any]:
        """The documented shape of a file entry."""
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
    """Something a reviewer should look at. Downgrades (P001-P004) weaken TLS."""

    code: str
    message: str
    path: str | None = None
    lines: tuple[WarningLine, ...] = ()

    @property
    def downgrade(self) -> bool:
        """True for a change that weakens TLS (apply needs --allow-downgrade)."""
        return self.code in DOWNGRADE_CODES

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


@dataclass(frozen=True)
class CertificateFacts:
    """What a certificate file on a host says about itself; never its contents.

    `role` is the spec's setting (server_cert, client_cert, ca_cert). For a
    file holding several certificates (a CA bundle) the facts are the first
    one's and `count` says how many. `error` says why there are no facts:
    "missing", "not readable (...)", "not a regular file", "holds no PEM
    certificate".
    """

    path: str
    role: str
    sha256: str | None = None
    subject: str | None = None
    issuer: str | None = None
    not_after: str | None = None  # ISO 8601 UTC, e.g. 2027-01-31T12:00:00Z
    days_left: int | None = None  # negative once expired
    count: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """{"path", "role", "subject", "issuer", "not_after", "days_left", "sha256", "count",
        "error"}."""
        return {
            "path": self.path,
            "role": self.role,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_after": self.not_after,
            "days_left": self.days_left,
            "sha256": self.sha256,
            "count": self.count,
            "error": self.error,
        }


@dataclass(frozen=True)
class MailImpact:
    """What an added or changed TLS rule would have done to the mail in the logs.

    `deferred`, `refused` and `unknown` count messages (once each, by queue
    id); `peers` the servers (outbound) or clients (inbound) with stopped
    mail; `summary` is the sentence the text and markdown plans print.
    """

    key: str
    value: str
    change: Literal["added", "changed"]
    old: str | None
    direction: str
    sessions: int
    deliveries: int
    deferred: int
    refused: int
    unknown: int
    unknown_sessions: int
    peers: tuple[str, ...]
    first: str | None
    last: str | None
    reasons: tuple[tuple[str, int], ...]
    summary: str

    @property
    def stopped(self) -> int:
        """Messages deferred or refused."""
        return self.deferred + self.refused

    def to_json(self) -> dict[str, Any]:
        """{"key", "value", "change", "old", "direction", "sessions", "deliveries",
        "deferred", "refused", "unknown", "unknown_sessions", "peers", "first", "last",
        "reasons", "summary"}."""
        return {
            "key": self.key,
            "value": self.value,
            "change": self.change,
            "old": self.old,
            "direction": self.direction,
            "sessions": self.sessions,
            "deliveries": self.deliveries,
            "deferred": self.deferred,
            "refused": self.refused,
            "unknown": self.unknown,
            "unknown_sessions": self.unknown_sessions,
            "peers": list(self.peers),
            "first": self.first,
            "last": self.last,
            "reasons": dict(self.reasons),
            "summary": self.summary,
        }


@dataclass
class MailLogs:
    """What the plan read of the logs: `Plan.mail_logs`, the JSON's `"mail_logs"`."""

    files: int = 0
    lines: int = 0
    sessions: int = 0
    unknown_hosts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """{"files", "lines", "sessions", "unknown_hosts": [{"host", "sessions"}]}."""
        return {
            "files": self.files,
            "lines": self.lines,
            "sessions": self.sessions,
            "unknown_hosts": [
                {"host": h, "sessions": n} for h, n in sorted(self.unknown_hosts.items())
            ],
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
    #: the facts of the certificates the spec names; None when the host's files were
    #: not read (--base, or a --state directory holding none of them)
    certificates: list[CertificateFacts] | None = None
    #: path -> the host path its symbolic links lead to, for the files that are links;
    #: None when the host's files were not read (--state, --base). Not part of the JSON
    #: plan; a saved plan keeps it, and apply refuses the plan once a link leads elsewhere.
    links: dict[str, str] | None = None
    #: with --logs: what each added or changed TLS rule would have stopped; None without
    mail_impact: list[MailImpact] | None = None

    @property
    def changes(self) -> int:
        """Files that would be created, updated or deleted."""
        return sum(1 for f in self.files if f.action != "unchanged")

    @property
    def downgrades(self) -> list[PlanWarning]:
        """The warnings that mark a weakening of TLS."""
        return [w for w in self.warnings if w.downgrade]

    def to_json(self) -> dict[str, Any]:
        """The documented shape of a host entry (plus "certificates" when they were read)."""
        out: dict[str, Any] = {
            "host": self.host,
            "files": [f.to_json() for f in self.files],
            "access": self.access.to_json(),
            "actions": [a.to_json() for a in self.actions],
            "warnings": [w.to_json() for w in self.warnings],
        }
        if self.certificates is not None:
            out["certificates"] = [c.to_json() for c in self.certificates]
        if self.mail_impact is not None:
            out["mail_impact"] = [m.to_json() for m in self.mail_impact]
        return out


@dataclass(frozen=True)
class Observed:
    """Where "what is there now" came from."""

    kind: Literal["root", "state", "base"]
    location: str  # the directory, or the git revision as given
    commit: str | None = None  # for base: the commit the revision named
    #: for base: the revision has no file at the spec's path (a new spec, or one moved
    #: or renamed since), so every file counts as new: said where the revision is
    #: named, or a rename would read as a plan with nothing to weaken
    spec_absent: bool = False
    #: for base: the spec's path at the revision, when git sees it renamed or moved since
    #: (the plan compares with the spec as it was there)
    renamed_from: str | None = None

    def describe(self) -> str:
        """A short phrase for reports: 'files under /', 'git revision origin/main (1a2b3c4)'."""
        if self.kind == "root":
            return f"the files under {self.location}"
        if self.kind == "state":
            return f"the state tree {self.location}"
        short = f" ({self.commit[:12]})" if self.commit else ""
        absent = (
            ", which does not hold this spec (a new spec, or one moved or renamed"
            " since: every file counts as new)"
            if self.spec_absent
            else f", where this spec was {self.renamed_from} (renamed or moved since)"
            if self.renamed_from
            else ""
        )
        return f"git revision {self.location}{short}{absent}"


class ThreadedSha256:
    """The SHA-256 of some bytes, given whole or in chunks (None: of no file), computed
    in a thread when there are at least `threaded_from` of them, while the caller goes
    on (hashlib lets go of the GIL); the bytes are not held once hashed. `known`: the
    hex digest, known already (nothing is hashed).

    The chunks are those given when it starts (a list given may be emptied
    meanwhile): the caller may let go of them before the hash is done; they are
    freed once it is."""

    def __init__(
        self,
        data: bytes | Sequence[bytes] | None,
        known: str | None = None,
        threaded_from: int = 0,
    ):
        self._known = known if data is not None else None
        chunks = None if data is None else (data,) if isinstance(data, bytes) else tuple(data)
        self._data: Sequence[bytes] | None = chunks if self._known is None else None
        self._hash: Any = None
        self._thread: threading.Thread | None = None
        if self._data is not None and sum(map(len, self._data)) >= threaded_from:
            self._thread = threading.Thread(target=self._run, name="tlsc-hash")
            try:
                self._thread.start()
            except RuntimeError:  # no thread to be had: hashed when asked for
                self._thread = None

    def _run(self) -> None:
        data = self._data
        if data is not None:
            h = hashlib.sha256()
            for chunk in data:
                h.update(chunk)
            self._hash = h
            self._data = None

    def join(self) -> None:
        """Wait for the thread, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def hash(self) -> Any:
        """The hashlib object (None: no file, or the digest was known)."""
        self.join()
        if self._hash is None and self._data is not None:
            self._run()  # small, or the thread failed
        return self._hash

    def value(self) -> str | None:
        """The hex digest (None: no file)."""
        h = self.hash()
        return self._known if h is None else h.hexdigest()


class SpecHash:
    """spec_digest of some bytes, their SHA-256 computed in a thread from the start (the
    bytes are not held once hashed); `digest` adds the inputs."""

    def __init__(self, spec_bytes: bytes):
        self._sha = ThreadedSha256(spec_bytes)

    def wait(self) -> None:
        """Wait for the hash (the bytes are let go of once it is done)."""
        self._sha.join()

    def digest(self, inputs: Sequence[tuple[str, str]] = ()) -> str:
        """spec_digest(the bytes, inputs)."""
        return _finish_digest(self._sha.hash().copy(), inputs)


def spec_digest(spec_bytes: bytes, inputs: Sequence[tuple[str, str]] = ()) -> str:
    """The spec's SHA-256, a saved plan's check that the spec is the same one.

    `inputs` are the access files the spec names: (name as written, SHA-256).
    Without any it is the SHA-256 of the spec's bytes; with some, of the spec's
    bytes followed by each file's name and hash, so that a change to a file makes
    a saved plan stale as a change to the spec does.
    """
    return _finish_digest(hashlib.sha256(spec_bytes), inputs)


def _finish_digest(h: Any, inputs: Sequence[tuple[str, str]]) -> str:
    """spec_digest from the hash of the spec's bytes, `h`."""
    for name, sha in sorted(set(inputs)):
        h.update(b"\0" + name.encode("utf-8", "surrogateescape") + b"\0" + sha.encode())
    return str(h.hexdigest())


@dataclass
class Plan:
    """A whole plan: one HostPlan per host, sorted by host name."""

    spec: str
    spec_sha256: str
    observed: Observed
    hosts: list[HostPlan]
    #: with --logs: what was read of them; None without
    mail_logs: MailLogs | None = None
    #: the access files the spec names, (name, SHA-256), covered by spec_sha256
    inputs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """Files that would be created, updated or deleted, over all hosts."""
        return sum(h.changes for h in self.hosts)

    @property
    def downgrades(self) -> list[tuple[str, PlanWarning]]:
        """(host, warning) for every change that weakens TLS."""
        return [(h.host, w) for h in self.hosts for w in h.downgrades]

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON that README.md documents."""
        out: dict[str, Any] = {
            "version": PLAN_VERSION,
            "changes": self.changes,
            "hosts": [h.to_json() for h in self.hosts],
        }
        if self.mail_logs is not None:
            out["mail_logs"] = self.mail_logs.to_json()
        return out

    def over_deferred(self, limit: int) -> list[tuple[str, MailImpact]]:
        """(host, impact) of each added or changed rule that would have stopped more than
        `limit` messages in the logs, most first."""
        hits = [(h.host, m) for h in self.hosts for m in h.mail_impact or () if m.stopped > limit]
        return sorted(hits, key=lambda hm: (-hm[1].stopped, hm[0], hm[1].key))
