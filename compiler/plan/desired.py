"""What the spec wants on each host, rendered one host at a time.

The spec is validated once; each host's files are rendered when the planner
asks for them and dropped after, so a plan over 50 hosts with 100,000 access
entries holds one host's files at a time, not all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compiler.compile import load_problems
from compiler.problems import Problem
from compiler.render import render_host
from compiler.resolve import HostConfig, resolve
from compiler.rules import ClusterRules
from compiler.spec.accessfiles import Reader
from compiler.spec.loader import LoadedSpec, SpecLoadError, load_file, load_text
from compiler.spec.model import Cluster
from compiler.spec.validate import validate


@dataclass(frozen=True)
class DesiredHost:
    """One host's configuration and the exact text of each file tlsc writes there.

    For `ownership: block` the access text is only the block; the planner
    splices it into the observed file.
    """

    config: HostConfig
    files: dict[str, str]
    #: for some files, the parts their text is joined from (render_access_parts): the
    #: parts hosts share are compared and scanned once for all of them (planner.py)
    parts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The host's name in the spec."""
        return self.config.name


def managed_paths(config: HostConfig) -> tuple[str, ...]:
    """Every file tlsc manages on a host, written or (starttls.m4 with TLS off) deleted."""
    p = config.settings.paths
    return tuple(sorted({p.sendmail_mc, p.access, p.starttls_m4}))


class DesiredSpec:
    """A validated spec whose hosts render on demand."""

    def __init__(self, loaded: LoadedSpec):
        result = validate(loaded, release=True)  # loaded is spent
        self.source = loaded.source
        #: where the spec's hosts are (line, column), for a --host it lacks
        self.hosts_at = loaded.locate(("hosts",))
        #: the access files the spec names, (name as written, SHA-256), each once
        self.inputs: list[tuple[str, str]] = sorted(
            {(f.name, f.sha256) for f in loaded.access_files.values() if f.sha256 is not None}
        )
        self.problems: list[Problem] = result.problems
        self._cluster: Cluster | None = result.cluster if result.ok else None
        self._rules: ClusterRules | None = result.rules if result.ok else None

    @property
    def ok(self) -> bool:
        """True when the spec is valid and its hosts can be rendered."""
        return self._cluster is not None and self._rules is not None

    @property
    def cluster(self) -> Cluster:
        """The validated cluster (only when ok)."""
        assert self._cluster is not None
        return self._cluster

    @property
    def rules(self) -> ClusterRules:
        """The cluster's access entries (only when ok); `for_host` gives a host's."""
        assert self._rules is not None
        return self._rules

    @property
    def hosts(self) -> list[str]:
        """Host names, sorted."""
        return sorted(self._cluster.hosts) if self._cluster else []

    def config(self, name: str) -> HostConfig:
        """The resolved configuration of host `name`."""
        assert self._cluster is not None
        return resolve(self._cluster, name)

    def host(self, name: str) -> DesiredHost:
        """Render host `name`."""
        assert self._rules is not None
        config = self.config(name)
        parts: dict[str, tuple[str, ...]] = {}
        files = render_host(config, self.source, self._rules, parts)
        return DesiredHost(config, files, parts)


def desired_from_text(
    text: str, source: str, read: Reader | None = None
) -> DesiredSpec | list[Problem]:
    """Load and validate spec text: the spec, or every problem found in it. The access
    files it names are read with `read` (default: next to `source` on the disk)."""
    return _desired(lambda: load_text(text, source, read))


def desired_from_texts(
    texts: list[str], source: str, read: Reader | None = None
) -> DesiredSpec | list[Problem]:
    """desired_from_text of the one text in `texts`, taken out of the list before the
    spec is validated: the caller holds no copy, so it is not held through validation."""
    return _desired(lambda: load_text(texts.pop(), source, read))


def desired_from_file(path: str | Path) -> DesiredSpec | list[Problem]:
    """Load and validate a spec file: the spec, or every problem found in it."""
    return _desired(lambda: load_file(path))


def _desired(load: Callable[[], LoadedSpec]) -> DesiredSpec | list[Problem]:
    try:
        loaded = load()
    except SpecLoadError as exc:
        return load_problems(exc)
    spec = DesiredSpec(loaded)
    return spec if spec.ok else spec.problems
