"""Make a plan from the command line's choices: the spec, one source of
"what is there now", and the hosts.

    --root DIR   one host's files under DIR (default /); the host is --host,
                 or the one whose name or fqdn is this machine's
    --state DIR  DIR/HOST/<path> for every host (a tree made by tlsc compile)
    --base REF   the same spec file at git revision REF, compiled, every host

Hosts are planned one at a time, so memory holds one host's files, and with
--state up to prefetch.WINDOW bytes of the next hosts' files, read and hashed
ahead in a thread while the spec is loaded (plan/prefetch.py).

With --root and --state the plan also reads the certificates each host's
spec names (certificates.py) and lists their facts; with --state, a host
directory that holds none of them is a tree of managed files only (as
`tlsc compile` writes) and its certificates count as not observed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compiler import heap
from compiler.compile import unknown_host_problems
from compiler.fileio import MAX_INPUT_BYTES, read_regular
from compiler.gcpause import gc_settling
from compiler.localhost import HostMatchError, match_host
from compiler.plan.certificates import certificate_warnings, host_certificates, none_present
from compiler.plan.desired import (
    DesiredHost,
    DesiredSpec,
    desired_from_file,
    desired_from_text,
    desired_from_texts,
    managed_paths,
)
from compiler.plan.leftover import note_leftover, note_stale
from compiler.plan.links import note_links, written_paths
from compiler.plan.model import HostPlan, Observed, Plan, PlanWarning, SpecHash, ThreadedSha256
from compiler.plan.observe import (
    ObserveError,
    check_dir,
    read_file,
    read_files,
    resolve_tree,
    revision_reader,
    spec_at_revision,
)
from compiler.plan.planner import HASH_IN_THREAD, PlanError, Planner, encode
from compiler.plan.prefetch import StatePrefetch
from compiler.plan.submit import note_submit
from compiler.problems import Problem, no_host
from compiler.spec.loader import unreadable_problem

_BOM = "\ufeff".encode()


class SpecProblems(Exception):
    """The spec is not valid; carries every problem."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems[0].message if problems else "invalid spec")
        self.problems = problems


@dataclass
class PlanRequest:
    """What to plan: the spec, where "now" comes from, which hosts (empty: all)."""

    spec: str
    root: str | None = None
    state: str | None = None
    base: str | None = None
    hosts: list[str] = field(default_factory=list)
    #: mail logs to judge each added or changed TLS rule by (plan/impact.py)
    logs: list[str] = field(default_factory=list)
    #: the year of classic syslog stamps in them (None: from each file's date)
    year: int | None = None
    #: the --state tree's files being read ahead (plan/prefetch.py), or None
    ahead: StatePrefetch | None = None

    def source(self) -> tuple[str, str]:
        """("root"|"state"|"base", location); at most one may be given."""
        given = [
            (kind, value)
            for kind, value in (("root", self.root), ("state", self.state), ("base", self.base))
            if value is not None
        ]
        if len(given) > 1:
            names = " and ".join(f"--{k}" for k, _ in given)
            raise PlanError(f"{names} cannot be combined; give one source of what is there now")
        return given[0] if given else ("root", "/")


def make_plan(request: PlanRequest) -> Plan:
    """Build the plan; PlanError, ObserveError or SpecProblems say why not.

    Each spec, once built, is settled (gcpause.gc_settling): the collector
    stops rescanning its objects while the hosts are diffed.
    """
    with gc_settling() as settle:
        return _make_plan(request, settle)


def _make_plan(request: PlanRequest, settle: Callable[[], None]) -> Plan:
    kind, location = request.source()
    try:
        spec_bytes = read_regular(request.spec, MAX_INPUT_BYTES)
    except OSError as exc:
        problems = [unreadable_problem(request.spec, exc)]
        raise PlanError(f"cannot read the spec {request.spec}: {exc.strerror}", problems) from None
    heap.for_input_of(len(spec_bytes))  # a big spec's freed memory goes back (heap.py)
    # hashed in a thread while the spec loads; then, but for --base, which compares them
    # with the spec at the revision, the bytes are dropped, and so is the text once
    # loaded: a million entries' spec is 45 MB, held twice through validation else
    spec_hash = SpecHash(spec_bytes)
    box = [spec_bytes]
    del spec_bytes
    desired = _desired(request.spec, box, keep=kind == "base", hashed=spec_hash.wait)
    spec_bytes = box.pop() if box else b""
    if not isinstance(desired, DesiredSpec):
        raise SpecProblems(desired)
    settle()
    spec_sha = spec_hash.digest(desired.inputs)
    try:
        if kind == "root":
            observed, hosts = Observed("root", location), _plan_root(request, desired, location)
        elif kind == "state":
            observed, hosts = Observed("state", location), _plan_state(request, desired, location)
        else:
            observed, hosts = _plan_base(request, desired, spec_bytes, location, settle)
    except HostMatchError as exc:
        raise PlanError(str(exc)) from None
    plan = Plan(
        request.spec,
        spec_sha,
        observed,
        sorted(hosts, key=lambda h: h.host),
        inputs=desired.inputs,
    )
    if request.logs:
        from compiler.plan.impact import LogsError, add_mail_impact

        try:
            plan.mail_logs = add_mail_impact(plan.hosts, desired, request.logs, request.year)
        except LogsError as exc:
            raise PlanError(str(exc)) from None
    return plan


def _desired(
    spec: str, box: list[bytes], keep: bool, hashed: Callable[[], None]
) -> DesiredSpec | list[Problem]:
    """The spec from the bytes already read, box's one item (decoded here, once); a spec
    that is not UTF-8 is read again by the loader, which says where the bad byte is.
    The bytes are taken out of the box (not kept: `keep` False) before the spec is
    loaded, once `hashed` says their hash is done (else the hash's thread would hold
    them while the spec's list is cut into items: 45 MB more at the peak for a
    million entries), and the text is dropped once it is."""
    try:
        text = box[0].decode("utf-8")
    except UnicodeDecodeError:
        return desired_from_file(spec)
    if not keep:
        hashed()
        box.clear()
    texts = [text.removeprefix("\ufeff")]
    del text
    return desired_from_texts(texts, spec)


def _chosen(request: PlanRequest, desired: DesiredSpec, known: list[str]) -> list[str]:
    """--host's hosts (default: `known`, those of the spec and, with --base, of the spec
    at the revision); PlanError for one that is none of them."""
    for name in request.hosts:
        if name not in known:
            problems = unknown_host_problems(
                desired.source, desired.hosts_at, desired.cluster.hosts, [name], desired.problems
            )
            raise PlanError(no_host(name, request.spec, known), problems)
    return sorted(set(request.hosts)) if request.hosts else known


def _plan_root(request: PlanRequest, desired: DesiredSpec, root: str) -> list[HostPlan]:
    if len(set(request.hosts)) > 1:
        raise PlanError("--root holds one host's files; give one --host, or use --state")
    if request.hosts:
        name = _chosen(request, desired, desired.hosts)[0]
    else:
        name = match_host({h: desired.config(h).fqdn for h in desired.hosts})
    base = Path(root)
    check_dir(base, "--root")
    host = desired.host(name)
    files = resolve_tree(base, written_paths(host.config))
    observed = read_files({p: files[p] for p in managed_paths(host.config)})
    plan = Planner(check_headers=True).host(host, observed, consume=True)
    del observed
    note_submit(plan, host.config, base)  # its rebuild first: a link to submit.cf is P109
    note_leftover(plan, host.config, base)
    note_stale(plan, host.config, base)
    note_links(plan, host.config, base, files)  # after every rebuild: each is a write
    plan.certificates = host_certificates(host.config, base)
    plan.warnings += certificate_warnings(plan.certificates)
    return [plan]


def _plan_state(request: PlanRequest, desired: DesiredSpec, state: str) -> list[HostPlan]:
    base = Path(state)
    check_dir(base, "--state")
    planner = Planner()
    now = dt.datetime.now(dt.UTC)  # one "now" for every host's days left
    out = []
    for name in _chosen(request, desired, desired.hosts):
        host = desired.host(name)
        files = resolve_tree(base / name, managed_paths(host.config))
        ahead = request.ahead.take(name) if request.ahead is not None else {}
        observed: dict[str, bytes | None] = {}
        hashes: dict[str, str] = {}
        for path, target in files.items():
            got = ahead.get(str(target))
            if got is None:
                observed[path] = read_file(target)
            else:
                observed[path], hashes[path] = got
        del ahead
        plan = planner.host(host, observed, hashes, consume=True)
        del observed
        if not (base / name).is_dir():
            plan.warnings.append(
                PlanWarning(
                    "P108",
                    f"the state tree has no directory {name}/, so every file of this host"
                    " counts as new",
                )
            )
        else:
            certificates = host_certificates(host.config, base / name, now)
            if not none_present(certificates):
                plan.certificates = certificates
                plan.warnings += certificate_warnings(certificates)
        out.append(plan)
    return out


def _plan_base(
    request: PlanRequest,
    desired: DesiredSpec,
    spec_bytes: bytes,
    ref: str,
    settle: Callable[[], None],
) -> tuple[Observed, list[HostPlan]]:
    at = spec_at_revision(request.spec, ref)
    before: DesiredSpec | None = None
    read = revision_reader(request.spec, at.commit, at.renamed_from)
    if (
        at.text is not None
        and at.text.encode("utf-8") == spec_bytes.removeprefix(_BOM)
        and _same_files(desired, read)
    ):
        before = desired  # the spec did not change: the same text validates the same
    elif at.text is not None:
        loaded = desired_from_text(at.text, request.spec, read)
        if not isinstance(loaded, DesiredSpec):
            first = loaded[0]
            raise PlanError(
                f"{request.spec} at {ref} is not valid, so there is nothing to compare with"
                f" (line {first.line}: {first.code} {first.message})",
                loaded,
            )
        before = loaded
        settle()
    before_hosts = before.hosts if before else []
    planner = Planner()
    out = []

    # the files at the revision, encoded and hashed a few hosts ahead: each host's
    # big files are hashed in threads (hashlib lets go of the GIL) while the hosts
    # before it are compared
    def at_revision(name: str) -> _AtRevision:
        host = desired.host(name) if name in desired.hosts else None
        if before is desired and host is not None:
            old_files = host.files  # the same spec: the same texts, rendered once
        elif before is not None and name in before_hosts:
            old_files = before.host(name).files
        else:
            old_files = {}
        old = {p: encode(t) for p, t in old_files.items()}
        hashes = (
            {p: ThreadedSha256(data, threaded_from=HASH_IN_THREAD) for p, data in old.items()}
            if host is not None
            else {}
        )
        return name, host, old, hashes

    ahead: deque[_AtRevision] = deque()
    for name in _chosen(request, desired, sorted({*desired.hosts, *before_hosts})):
        ahead.append(at_revision(name))
        if len(ahead) > BASE_AHEAD:
            out.append(_plan_revision(planner, *ahead.popleft()))
    out += [_plan_revision(planner, *got) for got in ahead]
    return (
        Observed("base", ref, at.commit, spec_absent=at.text is None, renamed_from=at.renamed_from),
        out,
    )


#: hosts whose files at the revision are hashed ahead of the one compared (--base)
BASE_AHEAD = 2

_Hashes = dict[str, ThreadedSha256]
#: a host's name, its rendering (None: the spec no longer has it), its files at the
#: revision and their hashes being made
_AtRevision = tuple[str, DesiredHost | None, dict[str, bytes], _Hashes]


def _plan_revision(
    planner: Planner, name: str, host: DesiredHost | None, old: dict[str, bytes], hashes: _Hashes
) -> HostPlan:
    """The plan of one host against its files at a revision (`old`, their hashes being
    made); a host the spec no longer has (None) is removed."""
    if host is None:
        return planner.removed_host(name, old)
    known = {p: sha for p, h in hashes.items() if (sha := h.value()) is not None}
    observed: dict[str, bytes | None] = dict.fromkeys(managed_paths(host.config))
    observed.update(old)
    return planner.host(host, observed, known)


def _same_files(desired: DesiredSpec, read: Callable[[str], bytes]) -> bool:
    """True when each access file the spec names is at the revision what it is now."""
    for name, sha in desired.inputs:
        try:
            if hashlib.sha256(read(name)).hexdigest() != sha:
                return False
        except OSError:
            return False
    return True


__all__ = ["ObserveError", "PlanError", "PlanRequest", "SpecProblems", "make_plan"]
