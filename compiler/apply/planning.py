"""Step "load" and "plan": choose this host, and compare the spec with its files under the root.

The plan is made by compiler.plan's own pieces (the same Planner, with
--root semantics, as `tlsc plan --root`), and apply keeps what it needs to
act on it: the exact bytes each file gets, checked against the plan's
after_sha256, so apply writes precisely what the plan showed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compiler.fileio import read_regular
from compiler.localhost import HostMatchError, match_host
from compiler.plan.desired import DesiredHost, DesiredSpec, desired_from_file, desired_from_text
from compiler.plan.desired import managed_paths as plan_managed_paths
from compiler.plan.links import note_links
from compiler.plan.make import SpecProblems
from compiler.plan.model import HostPlan, Observed, Plan, spec_digest
from compiler.plan.observe import check_dir, host_path, read_files
from compiler.plan.ownership import BlockError, settle
from compiler.plan.planner import PlanError, Planner, decode, encode, sha256
from compiler.plan.submit import SubmitMc, note_submit
from compiler.problems import no_host
from compiler.resolve import HostConfig


@dataclass(frozen=True)
class LoadedHost:
    """The valid spec, its bytes, and the chosen host rendered."""

    spec: str
    spec_bytes: bytes
    desired: DesiredHost
    #: the access files the spec names, (name, SHA-256): the plan's spec digest covers them
    inputs: tuple[tuple[str, str], ...] = ()

    @property
    def spec_sha256(self) -> str:
        """The digest a plan of this spec records (model.spec_digest)."""
        return spec_digest(self.spec_bytes, self.inputs)

    @property
    def config(self) -> HostConfig:
        """The host's resolved configuration."""
        return self.desired.config


@dataclass(frozen=True)
class HostState:
    """The plan for the host, what was observed, and the bytes each changed file gets."""

    plan: Plan
    host: HostPlan
    observed: dict[str, bytes | None]
    #: path -> new bytes (None: delete), for every file the plan changes
    writes: dict[str, bytes | None]
    #: the host's submit.mc, read when the plan changes a file (None: none, or nothing changes)
    submit: SubmitMc | None = None


def load_host(spec: str, host: str | None) -> LoadedHost:
    """Read and validate the spec and pick the host (--host, else this machine)."""
    try:
        spec_bytes = read_regular(spec)  # a FIFO or device is refused, never waited on
    except OSError as exc:
        raise PlanError(f"cannot read the spec {spec}: {exc.strerror}") from None
    try:
        text = spec_bytes.decode("utf-8").removeprefix("\ufeff")
        desired = desired_from_text(text, spec)
    except UnicodeDecodeError:
        desired = desired_from_file(spec)  # reports where the bad byte is
    if not isinstance(desired, DesiredSpec):
        raise SpecProblems(desired)
    if host is not None:
        if host not in desired.hosts:
            raise PlanError(no_host(host, spec, desired.hosts))
        name = host
    else:
        try:
            name = match_host({h: desired.config(h).fqdn for h in desired.hosts})
        except HostMatchError as exc:
            raise PlanError(str(exc)) from None
    return LoadedHost(spec, spec_bytes, desired.host(name), tuple(desired.inputs))


def on_disk(root: Path, path: str) -> Path:
    """Where host path `path` is on this machine."""
    return host_path(root, path)


def managed_paths(config: HostConfig) -> tuple[str, ...]:
    """The files apply writes (the plan's managed files)."""
    return plan_managed_paths(config)


def plan_host(
    loaded: LoadedHost,
    root: Path,
    files: Mapping[str, Path],
    read_from: Mapping[str, Path] | None = None,
) -> HostState:
    """Observe the host's files under `root` and plan them.

    `files` maps each path apply writes (links.written_paths) to the file it
    writes there (observe.resolve_tree): the end of a symbolic link is what
    is read now, as it is what apply writes, backs up and restores.
    `read_from` maps paths to where to read them instead (apply: the same
    files through their directories held open, compiler.apply.dirfd).
    """
    check_dir(root, "--root")
    config = loaded.config
    where = {**files, **(read_from or {})}
    paths = managed_paths(config)
    observed = read_files({p: where[p] for p in paths}, {p: files[p] for p in paths})
    host = Planner(check_headers=True).host(loaded.desired, observed)
    submit = note_submit(host, config, root)  # its rebuild first: a link to it is P109
    note_links(host, config, root, files)
    plan = Plan(
        loaded.spec,
        loaded.spec_sha256,
        Observed("root", str(root)),
        [host],
        inputs=list(loaded.inputs),
    )
    return HostState(plan, host, observed, _writes(loaded.desired, host, observed), submit)


def _writes(
    desired: DesiredHost, host: HostPlan, observed: dict[str, bytes | None]
) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    try:
        files = settle(desired.config, desired.files, {k: decode(v) for k, v in observed.items()})
    except BlockError as exc:  # the planner already refused this; be sure
        raise PlanError(str(exc)) from None
    for change in host.files:
        if change.action == "unchanged":
            continue
        text = files.files.get(change.path)
        data = None if text is None else encode(text)
        if (None if data is None else sha256(data)) != change.after_sha256:
            raise PlanError(
                f"the bytes for {change.path} do not match the plan's hash; nothing was changed"
            )
        out[change.path] = data
    return out
