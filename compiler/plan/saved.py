"""A saved plan (`tlsc plan --out PLAN.json`) and the drift check apply runs on it.

The file is the JSON plan plus what apply needs to trust it: the spec's
SHA-256 (which covers the access files it names, listed in `spec.files`:
model.spec_digest), where "now" was observed, and (already in every file entry) the hash
of what was observed (`before_sha256`, null for an absent file) and of what
will be written (`after_sha256`, null for a file to delete). A plan made
with --root also keeps, per host, `links`: {path: the host path its symbolic
links lead to} for each file apply writes that is a link. Apply refuses
the plan when the spec changed since, when any file on the host no longer
hashes to what the plan saw (`check_drift`), or when a link leads elsewhere
than it did (`check_links`), and it writes only bytes whose hash is
`after_sha256`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler import __version__
from compiler.fileio import (
    MAX_PLAN_BYTES,
    check_write_target,
    read_regular,
    refuse_an_input,
    signals_as_exceptions,
)
from compiler.plan.model import PLAN_VERSION, Plan, spec_digest

KIND = "tlsc-saved-plan"


class SavedPlanError(Exception):
    """A saved plan cannot be read or used; the message is one sentence."""


@dataclass(frozen=True)
class PlannedFile:
    """One file of a saved plan."""

    path: str
    action: str
    before_sha256: str | None
    after_sha256: str | None


@dataclass(frozen=True)
class SavedPlan:
    """What apply needs from a saved plan."""

    spec: str
    spec_sha256: str
    observed_kind: str  # root, state or base
    observed_location: str
    tlsc_version: str
    #: host -> its files as planned
    hosts: dict[str, list[PlannedFile]]
    #: host -> {path: where its symbolic links led}; only hosts whose files were read
    links: dict[str, dict[str, str]]
    #: the whole plan as saved (hosts, diffs, actions, warnings)
    document: dict[str, Any]


@dataclass(frozen=True)
class DriftedFile:
    """A file that is no longer what the plan saw."""

    host: str
    path: str
    expected_sha256: str | None  # None: the plan saw no file there
    found_sha256: str | None  # None: there is no file now

    def message(self) -> str:
        """One sentence for the person running apply."""
        if self.expected_sha256 is None:
            now = "now exists"
        elif self.found_sha256 is None:
            now = "is gone"
        else:
            now = "changed"
        return f"{self.path} on {self.host} {now} since the plan was made; make a new plan"


def saved_document(plan: Plan) -> dict[str, Any]:
    """The JSON written by --out: the plan's JSON plus spec and observation facts."""
    doc = plan.to_json()
    for host, entry in zip(plan.hosts, doc["hosts"], strict=True):
        if host.links is not None:
            entry["links"] = dict(host.links)
    return {
        "version": PLAN_VERSION,
        "kind": KIND,
        "tlsc_version": __version__,
        "spec": _spec_entry(plan),
        "observed": {
            "kind": plan.observed.kind,
            "location": plan.observed.location,
            "commit": plan.observed.commit,
        },
        "changes": doc["changes"],
        "hosts": doc["hosts"],
    }


def _spec_entry(plan: Plan) -> dict[str, Any]:
    """{"path", "sha256"}, and "files" [{"path", "sha256"}] when the spec names access
    files (its sha256 then covers them: model.spec_digest)."""
    entry: dict[str, Any] = {"path": plan.spec, "sha256": plan.spec_sha256}
    if plan.inputs:
        entry["files"] = [{"path": name, "sha256": sha} for name, sha in sorted(set(plan.inputs))]
    return entry


def read_paths(plan: Plan, logs: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(path, what it is) of each file the plan read: the spec, the access files it names,
    the logs, and the managed files (and the files their links lead to) of --root or --state."""
    spec_dir = os.path.dirname(plan.spec)
    out = [(plan.spec, "the spec")]
    named = "an access file the spec names"
    out += [(os.path.join(spec_dir, name), named) for name, _ in plan.inputs]
    out += [(log, "a log the plan reads") for log in logs if log != "-"]
    if plan.observed.kind != "base":
        for host in plan.hosts:
            top = plan.observed.location
            if plan.observed.kind == "state":
                top = os.path.join(top, host.host)
            names = [f.path for f in host.files] + list((host.links or {}).values())
            out += [(os.path.join(top, n.lstrip("/")), f"{host.host}'s {n}") for n in names]
    return out


def write_saved_plan(plan: Plan, path: str | Path, logs: Sequence[str] = ()) -> None:
    """Write the saved plan atomically (a reader never sees half a file), never over a
    file it was made from (the spec, a named access file, a log, a host's file)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tlsc-tmp")
    data = json.dumps(saved_document(plan), indent=2) + "\n"
    with signals_as_exceptions():
        _write_plan(target, tmp, path, data, read_paths(plan, logs))


def _write_plan(
    target: Path, tmp: Path, path: str | Path, data: str, reads: Sequence[tuple[str, str]]
) -> None:
    try:
        check_write_target(target)  # renaming over /dev/null would replace the device
        refuse_an_input(target, reads)
        tmp.unlink(missing_ok=True)  # a leftover, or a planted symlink: never written through
        with open(tmp, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:  # a ^C or an error mid-write leaves no temporary file
        with contextlib.suppress(OSError):  # ENOTDIR when the parent is a file: said below
            tmp.unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        raise SavedPlanError(f"cannot write the plan to {path}: {exc.strerror}") from None


def _field(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise SavedPlanError(f"{where} is not a tlsc saved plan: '{key}' is missing or wrong")
    value = data[key]
    # JSON true/false are Python bools, and bool is an int: not a version number
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
        raise SavedPlanError(f"{where} is not a tlsc saved plan: '{key}' is missing or wrong")
    return data[key]


def _consistent(f: PlannedFile) -> bool:
    """Whether a file's action is the one its two hashes make (tlsc plan writes them
    together): an action edited to `unchanged` would hide a write from a reader of the
    plan, as apply goes by the hashes."""
    before, after = f.before_sha256, f.after_sha256
    return {
        "create": before is None and after is not None,
        "delete": before is not None and after is None,
        "update": before is not None and after is not None and before != after,
        "unchanged": before == after,
    }.get(f.action, False)


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def parse_saved_plan(doc: Any, where: str = "the plan") -> SavedPlan:
    """Check a saved plan's structure and return it as values."""
    if _field(doc, "kind", str, where) != KIND:
        raise SavedPlanError(f"{where} is not a tlsc saved plan (save one with tlsc plan --out)")
    version = _field(doc, "version", int, where)
    if version != PLAN_VERSION:
        raise SavedPlanError(
            f"{where} is a version {version} plan and this tlsc reads version {PLAN_VERSION};"
            " make a new plan"
        )
    spec = _field(doc, "spec", dict, where)
    observed = _field(doc, "observed", dict, where)
    hosts: dict[str, list[PlannedFile]] = {}
    links: dict[str, dict[str, str]] = {}
    for host in _field(doc, "hosts", list, where):
        name = _field(host, "host", str, where)
        if "links" in host:
            found = _field(host, "links", dict, where)
            if not all(isinstance(v, str) for v in found.values()):
                raise SavedPlanError(f"{where} is not a tlsc saved plan: 'links' is wrong")
            links[name] = found
        files = []
        for f in _field(host, "files", list, where):
            planned = PlannedFile(
                _field(f, "path", str, where),
                _field(f, "action", str, where),
                _field(f, "before_sha256", (str, type(None)), where),
                _field(f, "after_sha256", (str, type(None)), where),
            )
            if not _consistent(planned):
                raise SavedPlanError(
                    f"{where} is not a tlsc saved plan: host {name}'s {planned.path} is"
                    f" '{planned.action}' but its hashes say otherwise (the file was edited)"
                )
            files.append(planned)
        hosts[name] = files
    return SavedPlan(
        spec=_field(spec, "path", str, where),
        spec_sha256=_field(spec, "sha256", str, where),
        observed_kind=_field(observed, "kind", str, where),
        observed_location=_field(observed, "location", str, where),
        tlsc_version=_field(doc, "tlsc_version", str, where),
        hosts=hosts,
        links=links,
        document=doc,
    )


def load_saved_plan(path: str | Path) -> SavedPlan:
    """Read and check a saved plan file."""
    try:
        text = read_regular(path, MAX_PLAN_BYTES).decode("utf-8")
    except OSError as exc:
        raise SavedPlanError(f"cannot read the plan {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SavedPlanError(f"{path} is not a tlsc saved plan (not UTF-8 text)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SavedPlanError(f"{path} is not a tlsc saved plan (not JSON: {exc.msg})") from None
    except RecursionError:
        raise SavedPlanError(f"{path} is not a tlsc saved plan (JSON nested too deeply)") from None
    except ValueError:
        # int() refuses a number of more than sys.get_int_max_str_digits() digits
        raise SavedPlanError(
            f"{path} is not a tlsc saved plan (a number in it is far too long)"
        ) from None
    return parse_saved_plan(doc, str(path))


def spec_changed(
    saved: SavedPlan, spec_bytes: bytes, inputs: Sequence[tuple[str, str]] = ()
) -> bool:
    """True when the spec, or an access file it names (`inputs`), is no longer what the
    plan was made from."""
    return spec_digest(spec_bytes, inputs) != saved.spec_sha256


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def check_drift(
    saved: SavedPlan, observed: Mapping[str, Mapping[str, bytes | None]]
) -> list[DriftedFile]:
    """Files whose bytes now differ from what the plan saw.

    `observed` maps host -> path -> the file's bytes now (None: absent), for
    the hosts to check (apply passes just its own). Every file the plan lists
    for such a host must be in the mapping; a path left out counts as absent.
    A host the plan does not know is the caller's to refuse.
    """
    drifted = []
    for host, files in sorted(observed.items()):
        for planned in saved.hosts.get(host, []):
            found = _sha(files.get(planned.path))
            if found != planned.before_sha256:
                drifted.append(DriftedFile(host, planned.path, planned.before_sha256, found))
    return drifted


def already_applied(saved: SavedPlan, host: str, files: Mapping[str, bytes | None]) -> bool:
    """True when every file the plan lists for `host` already holds the bytes the plan
    writes (`files`: path -> the file's bytes now, None absent): the plan was applied.

    A rollout that stopped at a later host is run again with the same reviewed plans;
    the hosts it already reached must not refuse theirs as drifted.
    """
    planned = saved.hosts.get(host, [])
    return bool(planned) and all(_sha(files.get(p.path)) == p.after_sha256 for p in planned)


def check_links(saved: SavedPlan, host: str, links: Mapping[str, str]) -> list[str]:
    """Why the plan no longer holds because a symbolic link leads elsewhere (one sentence each).

    `links` is what link_ends says now for `host`. A plan that recorded no
    links for the host (made with --state or --base) is not checked here.
    """
    then = saved.links.get(host)
    if then is None:
        return []
    out = []
    for path in sorted(set(then) | set(links)):
        old, new = then.get(path), links.get(path)
        if old == new:
            continue
        if new is None:
            now = f"is no longer a symbolic link (it led to {old} when the plan was made)"
        elif old is None:
            now = f"became a symbolic link to {new} since the plan was made"
        else:
            now = f"is a symbolic link to {new} now, to {old} when the plan was made"
        out.append(f"{path} on {host} {now}; make a new plan")
    return out
