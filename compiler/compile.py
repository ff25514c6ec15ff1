"""Spec file in, exact files out: load, validate, resolve and render every host."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from compiler.problems import Problem, sort_problems
from compiler.render import render_host
from compiler.resolve import resolve
from compiler.spec.loader import LoadedSpec, SpecLoadError, load_file, load_text
from compiler.spec.validate import validate


@dataclass
class Compiled:
    """The outcome of compiling a spec: files per host, or the problems that stop it."""

    source: str
    problems: list[Problem]
    #: host name -> {absolute path on the host: text}
    hosts: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the spec had no error and every host was rendered."""
        return not any(p.severity == "error" for p in self.problems)


def compile_loaded(loaded: LoadedSpec, hosts: list[str] | None = None) -> Compiled:
    """Validate loaded data and render the chosen hosts (default: all)."""
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
                    f"no host named {unknown[0]} in the spec; hosts are {', '.join(cluster.hosts)}",
                ),
            ],
        )
    files = {
        name: render_host(resolve(cluster, name), loaded.source, result.rules)
        for name in sorted(chosen)
    }
    return Compiled(loaded.source, result.problems, files)


def _load_failed(source: str, exc: SpecLoadError) -> Compiled:
    """The load problems, plus what validation finds in whatever data the file gave."""
    problems = list(exc.problems)
    if exc.partial is not None:
        problems += validate(exc.partial).problems
    return Compiled(source, sort_problems(problems))


def compile_text(text: str, source: str = "cluster.yaml") -> Compiled:
    """Compile spec text (for tests and tools)."""
    try:
        loaded = load_text(text, source)
    except SpecLoadError as exc:
        return _load_failed(source, exc)
    return compile_loaded(loaded)


def compile_file(path: str | Path, hosts: list[str] | None = None) -> Compiled:
    """Compile a spec file."""
    try:
        loaded = load_file(path)
    except SpecLoadError as exc:
        return _load_failed(str(path), exc)
    return compile_loaded(loaded, hosts)


def output_path(out_dir: Path, host: str, path: str) -> Path:
    """Where `tlsc compile` writes a host's file: OUT/HOST/<path without leading />."""
    return out_dir / host / path.lstrip("/")
