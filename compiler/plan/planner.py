"""Compare what the spec wants on a host with what is there, file by file.

Pure: the inputs are a rendered host and the bytes observed for each of its
paths; the output is a HostPlan. Where tlsc owns only part of a file
(`ownership: block` or `tls`) the file to write is the observed one with
tlsc's part spliced in (plan/ownership.py), so the plan (and the hash apply
checks) covers exactly the bytes apply will write.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from compiler.plan import diff as d
from compiler.plan.desired import DesiredHost
from compiler.plan.downgrade import access_downgrades, starttls_removed
from compiler.plan.model import (
    AccessChanged,
    AccessDiff,
    AccessLine,
    FileAction,
    FileChange,
    HostPlan,
    PlannedAction,
    PlanWarning,
    ThreadedSha256,
)
from compiler.plan.ownership import TLSC_HEADER, BlockError, settle
from compiler.problems import KEY_RUN, WITHHELD, Problem, withhold_key_material

_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


def _withhold_key_runs(
    path: str, text: str, access: AccessDiff | None, warnings: list[PlanWarning]
) -> tuple[str, AccessDiff | None]:
    """An access diff with each key-like base64 run shown as WITHHELD (P112 says so).

    A PEM body pasted without its markers (as an issuer or a value) is key
    material the plan must not print; the diff's other lines stay readable.
    """
    shown = withhold_key_material(text)
    if shown == text:
        return text, access
    warnings.append(
        PlanWarning(
            "P112",
            f"{path} holds what looks like key material (a base64 run of {KEY_RUN} characters"
            f" or more); the diff shows it as {WITHHELD}",
            path,
        )
    )
    if access is not None:

        def line(entry: AccessLine) -> AccessLine:
            return AccessLine(
                withhold_key_material(entry.key), withhold_key_material(entry.value), entry.line
            )

        access = AccessDiff(
            [line(x) for x in access.added],
            [line(x) for x in access.removed],
            [AccessChanged(line(c.before), line(c.after)) for c in access.changed],
        )
    return shown, access


#: files this big are hashed in a thread of their own (model.ThreadedSha256)
HASH_IN_THREAD = 1 << 20
#: a file wanted this big is let go of only once hashed (Planner._compare): the
#: smaller ones' hash is not waited for (it goes on beside the diff)
RELEASE_WAIT = 16 << 20


#: the parts of a text wanted kept encoded for the whole plan (DesiredHost.parts): the
#: ones hosts share, this big (a million entries' part, 45 MB, is not kept: one host)
SHARED_PART_MIN = 1 << 12
SHARED_PART = 16 << 20


def _has_key(data: bytes) -> bool:
    """True when `data` holds a PEM private key marker."""
    # every match holds the marker's tail: looked for first, with a C string search
    return b"PRIVATE KEY-----" in data and _PRIVATE_KEY.search(data) is not None


def _same(data: bytes, chunks: Sequence[bytes]) -> bool:
    """True when `data` is the chunks one after the other (compared in place)."""
    if len(chunks) == 1:
        return data == chunks[0]
    if len(data) != sum(map(len, chunks)):
        return False
    at = 0
    for chunk in chunks:
        if not data.startswith(chunk, at):
            return False
        at += len(chunk)
    return True


class PlanError(Exception):
    """The plan cannot be made; the message is one sentence. When it is the spec's
    fault (it cannot be read, it has no host --host names), `problems` are what
    `tlsc validate` and `tlsc compile --host` report for it."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems


def sha256(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes | None) -> str | None:
    """File bytes as text; bytes that are not UTF-8 survive a round trip (surrogateescape)."""
    return None if data is None else data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    """The exact bytes of a text made by decode() or a renderer."""
    return text.encode("utf-8", "surrogateescape")


def _printable(diff: str) -> str:
    return diff.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class _Compared:
    change: FileChange
    before_text: str | None
    after_text: str | None
    access: AccessDiff | None = None


class Planner:
    """Plans hosts one by one; identical access changes are compared once."""

    def __init__(self, check_headers: bool = False):
        #: warn when a file tlsc would replace was not written by tlsc (--root)
        self.check_headers = check_headers
        self._access_cache: dict[object, AccessDiff] = {}
        #: path -> the last texts diffed there (lines, opcodes), to reuse for the next host
        self._last_diff: dict[str, d.Diffed] = {}
        #: id(text) -> (text, its bytes) for the host being planned: a text that stands
        #: on both sides (plan --base of an unchanged host) is encoded once
        self._bytes: dict[int, tuple[str, bytes]] = {}
        #: id(part) -> (part, its bytes) for the parts of the texts wanted that hosts
        #: share (DesiredHost.parts), kept for the plan; id(bytes) -> (the bytes, holds a
        #: private key marker, holds a NUL) for those bytes
        self._parts: dict[int, tuple[str, bytes]] = {}
        self._flags: dict[int, tuple[bytes, bool, bool]] = {}

    def encode(self, text: str) -> bytes:
        """encode(text), remembered for this text object until the next host."""
        hit = self._bytes.get(id(text))
        if hit is not None and hit[0] is text:
            return hit[1]
        data = encode(text)
        self._bytes[id(text)] = (text, data)
        return data

    def _wanted(self, text: str, parts: tuple[str, ...] | None) -> list[bytes]:
        """The bytes of a text wanted, in chunks: whole, or (`parts`, which it is joined
        from, each ending in a line break) a chunk per part, a part that hosts share
        encoded once for all of them (one no bigger than SHARED_PART)."""
        if parts is None or not all(p.endswith("\n") for p in parts if p):
            return [self.encode(text)]
        out = []
        for part in parts:
            hit = self._parts.get(id(part))
            if hit is not None and hit[0] is part:
                out.append(hit[1])
                continue
            data = encode(part)
            if SHARED_PART_MIN <= len(part) <= SHARED_PART:
                self._parts[id(part)] = (part, data)
            out.append(data)
        return out

    def _scan(self, chunk: bytes) -> tuple[bool, bool]:
        """(holds a private key marker, holds a NUL); of a shared part, found once."""
        hit = self._flags.get(id(chunk))
        if hit is not None and hit[0] is chunk:
            return hit[1], hit[2]
        key, nul = _has_key(chunk), b"\0" in chunk
        if any(data is chunk for _, data in self._parts.values()):
            self._flags[id(chunk)] = (chunk, key, nul)
        return key, nul

    # -- one file -----------------------------------------------------------
    def _compare(
        self,
        path: str,
        given: list[bytes | None],
        after_text: str | None,
        is_access: bool,
        warnings: list[PlanWarning],
        before_sha: str | None = None,
        parts: tuple[str, ...] | None = None,
    ) -> _Compared:
        """Compare the file observed, taken out of `given` (so that, when nothing
        else holds them, its bytes are let go of once decoded, before the diff),
        with the text wanted (joined from `parts`, when given)."""
        before = given.pop()
        after = None if after_text is None else self._wanted(after_text, parts)
        if before is not None and after is not None and _same(before, after):
            # the file is what the spec wants: one hash serves both sides, and its text
            # is the desired text (decode(encode(t)) is t), never decoded nor diffed
            sha = before_sha or sha256(before)
            return _Compared(FileChange(path, "unchanged", sha, sha, ""), after_text, after_text)
        action: FileAction
        if before is None:
            action = "create"
        elif after is None:
            action = "delete"
        else:
            action = "update"
        # hashed in threads while the files are scanned and diffed
        before_hash = ThreadedSha256(before, before_sha, HASH_IN_THREAD)
        after_hash = ThreadedSha256(after, threaded_from=HASH_IN_THREAD)
        try:

            def release() -> None:
                # the bytes wanted, once scanned, are not needed again: the hash thread
                # lets go of them when it is done; big ones are let go of before the
                # file observed is decoded, not beside its text (a million-line access
                # file's are 45 MB), so their hash is waited for
                if after is not None and sum(map(len, after)) >= RELEASE_WAIT:
                    after_hash.hash()
                if after_text is not None:
                    self._bytes.pop(id(after_text), None)
                if after is not None:
                    after.clear()  # the shared parts' bytes stay in self._parts

            withheld, before_text, lossy = self._withheld(path, before, after, warnings, release)
            fromfile = "/dev/null" if before is None else f"a{path}"
            del before  # decoded: the text is what is diffed
            if withheld:
                return _Compared(
                    FileChange(path, action, before_hash.value(), after_hash.value(), ""),
                    before_text,
                    after_text,
                )
            tofile = "/dev/null" if after is None else f"b{path}"
            diffed = d.diff_texts(before_text or "", after_text or "", self._last_diff.get(path))
            self._last_diff[path] = diffed
            a, b, codes = diffed.a, diffed.b, diffed.codes
            text = d.unified_diff(a, b, fromfile, tofile, codes, reused=diffed)
            if lossy:
                text = _printable(text)
            access = self._access_diff(a, b, codes) if is_access else None
            if is_access:
                text, access = _withhold_key_runs(path, text, access, warnings)
            return _Compared(
                FileChange(path, action, before_hash.value(), after_hash.value(), text),
                before_text,
                after_text,
                access,
            )
        finally:
            before_hash.join()
            after_hash.join()

    def _withheld(
        self,
        path: str,
        before: bytes | None,
        after: list[bytes] | None,
        warnings: list[PlanWarning],
        release: Callable[[], None],
    ) -> tuple[bool, str | None, bool]:
        """(diff withheld, the text before, diff shown with U+FFFD for bytes that are
        not UTF-8); the file before is decoded once, strictly when it can be, after
        `release` is called (once the file wanted's chunks are scanned).

        The file wanted comes in chunks that each end in a line break (or is one):
        no marker, which holds none, lies across two of them."""
        scans = [(_has_key(before), b"\0" in before)] if before is not None else []
        scans += [self._scan(chunk) for chunk in after or ()]
        release()
        if any(key for key, _ in scans):
            warnings.append(
                PlanWarning(
                    "P103",
                    f"{path} holds private key material; its diff is not shown (hashes only)",
                    path,
                )
            )
            return True, decode(before), False
        if any(nul for _, nul in scans):
            warnings.append(
                PlanWarning("P102", f"{path} is a binary file; its diff is not shown", path)
            )
            return True, decode(before), False
        if before is not None:
            try:
                return False, before.decode("utf-8"), False
            except UnicodeDecodeError:
                warnings.append(
                    PlanWarning(
                        "P104",
                        f"{path} is not valid UTF-8; the diff shows such bytes as U+FFFD",
                        path,
                    )
                )
                return False, decode(before), True
        return False, None, False

    def _access_diff(self, a: Sequence[str], b: Sequence[str], codes: list[d.Opcode]) -> AccessDiff:
        old, new = d.changed_entries(a, b, codes)
        key = (_entries_key(old), _entries_key(new))
        cached = self._access_cache.get(key)
        if cached is None:
            cached = d.compare_entries(old, new)
            self._access_cache[key] = cached
        return cached

    # -- one host -----------------------------------------------------------
    def host(
        self,
        desired: DesiredHost,
        observed: Mapping[str, bytes | None],
        hashes: Mapping[str, str] | None = None,
        consume: bool = False,
    ) -> HostPlan:
        """The plan for one host: `observed` maps each managed path to its bytes (or None);
        `hashes`, the SHA-256 of some of them, already known (plan/prefetch.py).

        `consume`: `observed` is a dict the caller no longer needs; each file's bytes
        are taken out of it when that file is compared, so a million-line file's 45 MB
        are not held while its diff is made.
        """
        try:
            return self._host(desired, observed, hashes or {}, consume)
        finally:
            self._bytes.clear()

    def _host(
        self,
        desired: DesiredHost,
        observed: Mapping[str, bytes | None],
        hashes: Mapping[str, str],
        consume: bool,
    ) -> HostPlan:
        config = desired.config
        s = config.settings
        p = s.paths
        warnings: list[PlanWarning] = []
        try:
            settled = settle(
                config, desired.files, _DecodedLazily(observed), host_files=self.check_headers
            )
        except BlockError as exc:
            raise PlanError(f"host {config.name}: {exc}") from None
        files = settled.files
        warnings += settled.warnings
        compared: dict[str, _Compared] = {}
        for path in sorted(set(observed) | set(files)):
            after = files.get(path)
            given = [observed.get(path)]
            if consume and isinstance(observed, dict):
                observed.pop(path, None)
            head = given[0][:2048] if given[0] is not None else None
            if head is None and after is None:
                continue
            # the parts of the text wanted, when the file is the one rendered (not spliced)
            parts = desired.parts.get(path) if after is desired.files.get(path) else None
            compared[path] = self._compare(
                path, given, after, path == p.access, warnings, hashes.get(path), parts
            )
            if (
                self.check_headers
                and head is not None
                and after is not None
                and compared[path].change.action != "unchanged"
                and not (path == p.access and s.ownership in ("block", "tls"))
                and not (path == p.sendmail_mc and s.ownership == "tls")
                and TLSC_HEADER not in "".join(decode(head) or "")
            ):
                warnings.append(
                    PlanWarning(
                        "P101",
                        f"{path} was not written by tlsc; apply replaces it (keeping a backup)",
                        path,
                    )
                )
        access = compared[p.access].access if p.access in compared else None
        access = access or AccessDiff()
        acc = compared.get(p.access)
        if acc is not None and acc.before_text is not None and acc.after_text is not None:
            warnings += access_downgrades(access, p.access)
        mc = compared.get(p.sendmail_mc)
        removed = starttls_removed(
            p.sendmail_mc, mc.before_text if mc else None, mc.after_text if mc else None
        )
        if removed is not None:
            warnings.append(removed)
        changes = [c.change for c in compared.values()]
        actions = self._actions(desired, changes, warnings)
        return HostPlan(config.name, changes, access, actions, warnings, p.access)

    def _actions(
        self, desired: DesiredHost, changes: list[FileChange], warnings: list[PlanWarning]
    ) -> list[PlannedAction]:
        s = desired.config.settings
        p = s.paths
        changed = [c.path for c in changes if c.action != "unchanged"]
        out = []
        if p.access in changed:
            out.append(
                PlannedAction(
                    "rebuild_access_db",
                    f"rebuild {p.access_db} from {p.access} (makemap hash)",
                    (p.access,),
                )
            )
        cf_because = tuple(x for x in (p.sendmail_mc, p.starttls_m4) if x in changed)
        if cf_because:
            out.append(
                PlannedAction(
                    "rebuild_sendmail_cf",
                    f"rebuild {p.sendmail_cf} from {p.sendmail_mc} (m4)",
                    cf_because,
                )
            )
            if s.commands.restart:
                out.append(
                    PlannedAction(
                        "restart",
                        f"restart sendmail: {s.commands.restart}",
                        (p.sendmail_cf,),
                        s.commands.restart,
                    )
                )
            else:
                warnings.append(
                    PlanWarning(
                        "P106",
                        f"{p.sendmail_cf} changes, but commands.restart is null: sendmail"
                        " keeps the old settings until someone restarts it",
                        p.sendmail_cf,
                    )
                )
        if changed and s.commands.after:
            out.append(
                PlannedAction(
                    "run_after",
                    f"run: {s.commands.after}",
                    tuple(changed),
                    s.commands.after,
                )
            )
        return out

    def removed_host(self, name: str, observed: Mapping[str, bytes | None]) -> HostPlan:
        """A host the base spec had and the spec no longer has (--base only)."""
        self._bytes.clear()
        warnings: list[PlanWarning] = []
        changes = [
            self._compare(path, [data], None, False, warnings).change
            for path, data in sorted(observed.items())
            if data is not None
        ]
        warnings.append(
            PlanWarning(
                "P107",
                f"host {name} is no longer in the spec: tlsc apply no longer runs there, and"
                " its files stay as they are until someone removes them",
            )
        )
        return HostPlan(name, changes, AccessDiff(), [], warnings)


class _DecodedLazily(Mapping[str, str | None]):
    """The observed files as text, each decoded only when asked for: settle() reads
    the files tlsc owns in part, and a host owning its files whole needs none."""

    def __init__(self, observed: Mapping[str, bytes | None]):
        self._observed = observed
        self._texts: dict[str, str | None] = {}

    def __getitem__(self, path: str) -> str | None:
        if path not in self._texts:
            self._texts[path] = decode(self._observed[path])
        return self._texts[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._observed)

    def __len__(self) -> int:
        return len(self._observed)


def _entries_key(entries: list[AccessLine]) -> tuple[tuple[str, str, int], ...]:
    return tuple((e.key, e.value, e.line) for e in entries)
