"""`tlsc import ROOT --host NAME [--fqdn F] [--cluster C] [--out FILE] [--force] [--allow-loss]
[--ownership auto|tls|file] [--format text|json]`, and `tlsc import NAME=ROOT [NAME=ROOT ...]
[--cluster C] ...` for several hosts in one spec (`cluster.import_cluster`).

Thin: import the host (`host.import_host`), print problems and a summary on
stderr, write the spec to --out (atomically) or stdout; with --format json,
one report object on stdout instead (the spec inside it unless --out is
given). Exit 0 when the spec was written, 1 otherwise. Nothing is written
when the import fails, or when the round trip lost something and
--allow-loss was not given.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from compiler.cli import PathName
from compiler.fileio import refuse_an_input
from compiler.importer.cluster import (
    ClusterImport,
    HostArgumentError,
    import_cluster,
    parse_host_args,
)
from compiler.importer.host import Imported, import_host
from compiler.importer.notes import Notes, Where
from compiler.lint.fix import write_atomic
from compiler.problems import format_text, one_line


@click.command(name="import")
@click.argument("roots", nargs=-1, required=True, metavar="ROOT | NAME=ROOT...")
@click.option("--host", "host", default=None, help="the host's name in the spec (one ROOT)")
@click.option("--fqdn", default=None, help="the host's fqdn (default: confDOMAIN_NAME, else NAME)")
@click.option(
    "--cluster",
    default=None,
    help="the cluster name (default: the host name, or the hosts' common prefix)",
)
@click.option("--out", "out_file", default=None, type=PathName(dir_okay=False), help="spec file")
@click.option("--force", is_flag=True, help="overwrite --out if it exists")
@click.option(
    "--allow-loss", is_flag=True, help="write the spec even if the round trip is not exact"
)
@click.option(
    "--ownership",
    type=click.Choice(["auto", "tls", "file"]),
    default="auto",
    show_default=True,
    help="tls: adopt the host, its files stay as they are and tlsc owns only what STARTTLS"
    " needs; file: tlsc owns the files whole; auto: file for files tlsc wrote, else tls",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object on stdout, the spec in it unless --out is given",
)
def import_cmd(
    roots: tuple[str, ...],
    host: str | None,
    fqdn: str | None,
    cluster: str | None,
    out_file: str | None,
    force: bool,
    allow_loss: bool,
    ownership: str,
    fmt: str,
) -> None:
    """Read an existing /etc/mail under ROOT into a tlsc spec for host NAME, or
    several hosts (NAME=ROOT each) into one spec.

    The spec is compiled again and compared with the original files (access
    map entry by entry, sendmail.cf built with real m4); every difference is
    reported with the original file and line. With several hosts, what all
    share goes to defaults: and the top-level rules, the rest stays per host,
    and each host's compiled files must equal those of its own import.
    """
    if host is None:
        _import_several(
            roots, fqdn, cluster, out_file, force, allow_loss, fmt, _ownership(ownership)
        )
    if len(roots) != 1:
        _finish(
            fmt,
            None,
            out_file,
            "--host names one host: give one ROOT, or NAME=ROOT per host without --host",
        )
    root = roots[0]
    if out_file and os.path.exists(out_file) and not force:
        _finish(fmt, None, out_file, f"{out_file} exists; use --force to overwrite it")
    result = import_host(root, host, fqdn, cluster, ownership=_ownership(ownership))
    notes = result.notes
    if fmt == "text":
        color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        sys.stderr.write(format_text(notes.errors, color=color))
        sys.stderr.write(format_text(sorted(notes.warnings), color=color))
        sys.stderr.write(format_text(sorted(notes.losses), color=color))
    if not result.ok or result.text is None:
        _finish(fmt, result, out_file, "nothing written")
    if fmt == "text":
        sys.stderr.write(summary(result))
    _deliver(
        result.text,
        len(notes.losses),
        allow_loss,
        out_file,
        fmt,
        lambda failure: _finish(fmt, result, out_file, failure),
        _inputs(host, result),
    )


def _inputs(name: str, result: Imported) -> list[tuple[str, str]]:
    """The files the import of host `name` read, each with what it is in words."""
    return [
        (real, f"{name}'s {path}, which the import read") for real, path in result.inputs.items()
    ]


def _deliver(
    text: str,
    losses: int,
    allow_loss: bool,
    out_file: str | None,
    fmt: str,
    finish: Callable[[str | None], NoReturn],
    inputs: list[tuple[str, str]],
) -> NoReturn:
    """Write the spec (to --out, or stdout) unless losses stop it, never over one of the
    `inputs` (the host's sendmail.mc, its access file); `finish` says how it ended."""
    if losses and not allow_loss:
        finish(
            f"{losses} difference(s) could not be carried over;"
            " nothing written (--allow-loss writes the spec anyway)"
        )
    if out_file is None:
        if fmt == "text":
            sys.stdout.write(text)
            sys.exit(0)
        finish(None)
    try:
        refuse_an_input(out_file, inputs)  # `--force --out ROOT/etc/mail/sendmail.mc`
        # a file replaced with --force keeps its mode (a spec may be kept 0600)
        write_atomic(out_file, text.encode("utf-8"))
    except OSError as exc:
        finish(f"cannot write {out_file}: {exc.strerror}")
    finish(None)


def _finish(
    fmt: str, result: Imported | None, out_file: str | None, failure: str | None
) -> NoReturn:
    """Say how the import ended (a sentence on stderr, or the JSON report) and exit."""
    if fmt == "json":
        sys.stdout.write(json.dumps(report(result, out_file, failure), indent=2) + "\n")
    elif failure is not None:
        click.echo(f"tlsc import: {one_line(failure)}", err=True)
    elif out_file is not None:
        click.echo(f"tlsc import: wrote {one_line(out_file)}", err=True)
    sys.exit(1 if failure is not None else 0)


def report(result: Imported | None, out_file: str | None, failure: str | None) -> dict[str, Any]:
    """The JSON report: what was imported, kept, dropped, checked and lost; the spec."""
    out: dict[str, Any] = {
        "version": 1,
        "result": "failed" if failure is not None else "written",
        "message": failure,
        "out": out_file,
        "spec": None,
        "host": None,
        "fqdn": None,
        "imported": None,
        "kept": [],
        "dropped": {},
        "notes": [],
        "round_trip": [],
        "problems": [],
    }
    if result is None:
        return out
    notes = result.notes
    out["problems"] = [p.as_dict() for p in [*notes.errors, *sorted(notes.warnings)]]
    out["problems"] += [p.as_dict() for p in sorted(notes.losses)]
    out["kept"] = [{"path": at.path, "line": at.line, "into": into} for at, into in notes.verbatim]
    out["dropped"] = dict(sorted(notes.dropped.items()))
    out["notes"] = [{"path": at.path, "line": at.line, "message": m} for at, m in notes.info]
    out["round_trip"] = list(result.summary)
    if failure is None and out_file is None:
        out["spec"] = result.text
    parts = result.parts
    if parts is not None:
        out["host"], out["fqdn"] = parts.host, parts.fqdn
        mc = parts.mc
        out["imported"] = {
            "defines": len(mc.get("defines", ())),
            "features": len(mc.get("features", ())),
            "daemon_options": len(mc.get("daemon_options", ())),
            "mailers": list(mc.get("mailers", ())),
            "tls": parts.tls != {"enabled": False},
            "domains": len(parts.domains),
            "recipients": len(parts.recipients),
            "issuers": sum(map(len, parts.issuer_tags.values())),
            "access": len(parts.access),
            "ownership": parts.ownership,
        }
    return out


def summary(result: Imported) -> str:
    """What was imported, kept verbatim, dropped and checked, a few lines for a person."""
    parts = result.parts
    notes: Notes = result.notes
    assert parts is not None
    mc = parts.mc
    mc_line = (
        "  mc: the host's own (ownership: tls); tlsc owns only its STARTTLS include"
        if parts.ownership == "tls"
        else f"  mc: {len(mc['defines'])} define(s), {len(mc['features'])} feature(s),"
        f" {len(mc['daemon_options'])} daemon option(s), mailers {', '.join(mc['mailers'])}"
    )
    lines = [
        f"imported host {parts.host} ({parts.fqdn}):",
        mc_line,
        "  tls: "
        + (
            f"disabled ({parts.tls_off})"
            if parts.tls == {"enabled": False}
            else f"{sum(1 for v in parts.tls.values() if v not in (None, []))} setting(s)"
        ),
        f"  access: {len(parts.domains)} domain rule(s), {len(parts.recipients)} recipient"
        f" rule(s), {sum(map(len, parts.issuer_tags.values()))} issuer(s),"
        f" {len(parts.access)} other entr{'y' if len(parts.access) == 1 else 'ies'}"
        + (f" (ownership: {parts.ownership})" if parts.ownership != "file" else ""),
    ]
    kept: dict[str, list[Where]] = {}
    for at, where in notes.verbatim:
        kept.setdefault(where, []).append(at)
    for where, places in sorted(kept.items()):
        lines.append(f"  kept verbatim in {where}: {len(places)} line(s) ({_places(places)})")
    if notes.dropped:
        lines.append(
            "  dropped: " + ", ".join(f"{n} {what}" for what, n in sorted(notes.dropped.items()))
        )
    for at, message in notes.info:
        lines.append(f"  note: {at}: {message}")
    lines += [f"  round trip: {s}" for s in result.summary]
    lines.append(
        f"  lost: {len(notes.losses)} difference(s)" if notes.losses else "  lost: nothing"
    )
    # the host's names, mailers and lines come from its files: each shown escaped
    return "".join(one_line(line) + "\n" for line in lines)


def _places(places: list[Where]) -> str:
    """`sendmail.mc:6, 11, 27` -- file names once, lines in order."""
    by_file: dict[str, list[int]] = {}
    for at in places:
        by_file.setdefault(os.path.basename(at.path), []).append(at.line)
    return "; ".join(
        f"{name}:" + ", ".join(map(str, sorted(lines))) for name, lines in by_file.items()
    )


def _ownership(choice: str) -> str | None:
    """--ownership as import_host takes it (None: decide from the files)."""
    return None if choice == "auto" else choice


def _import_several(
    args: tuple[str, ...],
    fqdn: str | None,
    cluster: str | None,
    out_file: str | None,
    force: bool,
    allow_loss: bool,
    fmt: str,
    ownership: str | None,
) -> NoReturn:
    """`tlsc import NAME=ROOT...`: one spec for every host; exits."""

    def finish(result: ClusterImport | None, failure: str | None) -> NoReturn:
        if fmt == "json":
            text = json.dumps(cluster_report(result, out_file, failure), indent=2)
            sys.stdout.write(text + "\n")
        elif failure is not None:
            click.echo(f"tlsc import: {one_line(failure)}", err=True)
        elif out_file is not None:
            click.echo(f"tlsc import: wrote {one_line(out_file)}", err=True)
        sys.exit(1 if failure is not None else 0)

    if fqdn is not None:
        finish(
            None,
            "--fqdn goes with --host; with NAME=ROOT each fqdn is the host's"
            " confDOMAIN_NAME, else its NAME",
        )
    try:
        hosts = parse_host_args(list(args))
    except HostArgumentError as exc:
        finish(None, f"{exc}; nothing written")
    if out_file and os.path.exists(out_file) and not force:
        finish(None, f"{out_file} exists; use --force to overwrite it")
    result = import_cluster(hosts, cluster, ownership=ownership)
    losses = sum(len(r.notes.losses) for r in result.hosts.values())
    if fmt == "text":
        color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        for r in result.hosts.values():
            notes = r.notes
            sys.stderr.write(format_text(notes.errors, color=color))
            sys.stderr.write(format_text(sorted(notes.warnings), color=color))
            sys.stderr.write(format_text(sorted(notes.losses), color=color))
        for name, r in result.hosts.items():
            if r.ok and r.text is not None:
                sys.stderr.write(summary(r))
                if name in result.checked:
                    sys.stderr.write(f"  merged: {one_line(result.checked[name])}\n")
        for error in result.errors:
            click.echo(f"tlsc import: {one_line(error)}", err=True)
    failed = [n for n, r in result.hosts.items() if not r.ok or r.text is None]
    if failed:
        finish(result, f"{', '.join(failed)} could not be imported; nothing written")
    if result.errors or result.text is None:
        finish(result, "the merged spec failed its check; nothing written")
    inputs = [pair for name, r in result.hosts.items() for pair in _inputs(name, r)]
    _deliver(
        result.text,
        losses,
        allow_loss,
        out_file,
        fmt,
        lambda failure: finish(result, failure),
        inputs,
    )


def cluster_report(
    result: ClusterImport | None, out_file: str | None, failure: str | None
) -> dict[str, Any]:
    """The JSON report of a several-host import: one single-host report per host."""
    out: dict[str, Any] = {
        "version": 1,
        "result": "failed" if failure is not None else "written",
        "message": failure,
        "out": out_file,
        "spec": None,
        "cluster": None,
        "hosts": {},
        "problems": [],
    }
    if result is None:
        return out
    out["cluster"] = result.cluster
    if failure is None and out_file is None:
        out["spec"] = result.text
    out["problems"] = list(result.errors)
    for name, r in result.hosts.items():
        one = report(r, None, None if r.ok else "not imported")
        for key in ("version", "out", "spec"):
            del one[key]
        one["result"] = "imported" if r.ok else "failed"
        one["merged"] = result.checked.get(name)
        out["hosts"][name] = one
    return out
