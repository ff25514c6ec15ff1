"""Spec file in, exact files out: load, validate, resolve and render every host."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from compiler.gcpause import gc_paused
from compiler.problems import Problem, no_host, sort_problems
from compiler.resolve import resolve
from compiler.spec.accessfiles import Reader
from compiler.spec.loader import LoadedSpec, SpecLoadError, load_file, load_text
from compiler.spec.validate import validate

HostFiles = dict[str, str]


@dataclass
class Compiled:
    """The outcome of compiling a spec: files per host, or the problems that stop it."""

    source: str
    problems: list[Problem]
    #: host name -> {absolute path on the host: text}; empty when compiled with lazy=True
    hosts: dict[str, HostFiles] = field(default_factory=dict)
    #: the chosen hosts, in output order (also when lazy)
    host_names: list[str] = field(default_factory=list)
    #: renders one host; set when compiled with lazy=True
    render: Callable[[str], HostFiles] | None = None

    @property
    def ok(self) -> bool:
        """True when the spec had no error and every host was rendered."""
        return not any(p.severity == "error" for p in self.problems)

    def iter_hosts(self) -> Iterator[tuple[str, HostFiles]]:
        """(host, files) for every chosen host; when lazy, each is rendered only now,
        so a caller that writes and drops them holds one host's files at a time."""
        if self.render is None:
            yield from self.hosts.items()
            return
        for name in self.host_names:
            yield name, self.render(name)


def compile_loaded(
    loaded: LoadedSpec, hosts: list[str] | None = None, *, lazy: bool = False
) -> Compiled:
    """Validate loaded data and render the chosen hosts (default: all).

    With `lazy`, nothing is rendered yet: `Compiled.iter_hosts()` renders each host
    when it is reached (what `tlsc compile` does, to keep memory flat on big clusters).
    """
    result = validate(loaded)
    if not result.ok or result.cluster is None or result.rules is None:
        return Compiled(loaded.source, result.problems)
    cluster = result.cluster
    chosen = list(cluster.hosts) if hosts is None else hosts
    at = loaded.locate(("hosts",))
    unknown = unknown_host_problems(loaded.source, at, cluster.hosts, chosen, result.problems)
    if unknown is not None:
        return Compiled(loaded.source, unknown)
    rules = result.rules

    def render(name: str) -> HostFiles:
        from compiler.render import render_host  # not on `tlsc validate`'s path

        return render_host(resolve(cluster, name), loaded.source, rules)

    names = sorted(chosen)
    if lazy:
        return Compiled(loaded.source, result.problems, {}, names, render)
    with gc_paused():
        files = {n: render(n) for n in names}
    return Compiled(loaded.source, result.problems, files, names)


def unknown_host_problems(
    source: str,
    at: tuple[int, int],
    known: Collection[str],
    chosen: Iterable[str],
    problems: list[Problem],
) -> list[Problem] | None:
    """What `tlsc compile --host` reports when a valid spec lacks a chosen host: the
    spec's `problems` (its warnings), then S300 for the first host of `chosen` that is
    not one of `known` (the spec's hosts, in its order), placed where the spec's hosts
    are (`at`, their line and column). None when it lacks none."""
    unknown = [h for h in chosen if h not in known]
    if not unknown:
        return None
    message = no_host(unknown[0], "the spec", known)
    return [*problems, Problem(source, *at, "S300", "error", message)]


def load_problems(exc: SpecLoadError) -> list[Problem]:
    """The problems of a spec that did not load, as `tlsc validate` reports them: the
    load's, plus what validation finds in whatever data the file gave, in file order."""
    problems = list(exc.problems)
    if exc.partial is not None:
        problems += validate(exc.partial).problems
    return sort_problems(problems)


def _load_failed(source: str, exc: SpecLoadError) -> Compiled:
    return Compiled(source, load_problems(exc))


def compile_text(text: str, source: str = "cluster.yaml", read: Reader | None = None) -> Compiled:
    """Compile spec text (for tests and tools); `read` reads the access files it names
    (default: from the disk, next to `source`)."""
    try:
        loaded = load_text(text, source, read)
    except SpecLoadError as exc:
        return _load_failed(source, exc)
    return compile_loaded(loaded)


def compile_file(
    path: str | Path, hosts: list[str] | None = None, *, lazy: bool = False
) -> Compiled:
    """Compile a spec file (see compile_loaded for `lazy`)."""
    try:
        loaded = load_file(path)
    except SpecLoadError as exc:
        return _load_failed(str(path), exc)
    return compile_loaded(loaded, hosts, lazy=lazy)


def output_path(out_dir: Path, host: str, path: str) -> Path:
    """Where `tlsc compile` writes a host's file: OUT/HOST/<path without leading />."""
    return out_dir / host / path.lstrip("/")
