"""Spec file in, exact files out: load, validate, resolve and render every host."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    unknown = [h for h in chosen if h not in cluster.hosts]
    if unknown:
        line, col = loaded.locate(("hosts",))
        return Compiled(
            loaded.source,
            [
                *result.problems,
                Problem(
                    loaded.source,
                    line,
                    col,
                    "S300",
                    "error",
                    no_host(unknown[0], "the spec", cluster.hosts),
                ),
            ],
        )
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


def _load_failed(source: str, exc: SpecLoadError) -> Compiled:
    """The load problems, plus what validation finds in whatever data the file gave."""
    problems = list(exc.problems)
    if exc.partial is not None:
        problems += validate(exc.partial).problems
    return Compiled(source, sort_problems(problems))


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
