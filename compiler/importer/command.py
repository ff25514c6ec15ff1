"""`tlsc import ROOT --host NAME [--fqdn F] [--cluster C] [--out FILE] [--force] [--allow-loss]`

Thin: import the host (`host.import_host`), print problems and a summary on
stderr, write the spec to --out (atomically) or stdout. Exit 0 when the spec
was written, 1 otherwise. Nothing is written when the import fails, or when
the round trip lost something and --allow-loss was not given.
"""

from __future__ import annotations

import os
import sys

import click

from compiler.importer.host import Imported, import_host
from compiler.importer.notes import Notes, Where
from compiler.problems import format_text


@click.command(name="import")
@click.argument("root", type=click.Path())
@click.option("--host", "host", required=True, help="the host's name in the spec")
@click.option("--fqdn", default=None, help="the host's fqdn (default: confDOMAIN_NAME, else NAME)")
@click.option("--cluster", default=None, help="the cluster name (default: the host name)")
@click.option("--out", "out_file", default=None, type=click.Path(dir_okay=False), help="spec file")
@click.option("--force", is_flag=True, help="overwrite --out if it exists")
@click.option(
    "--allow-loss", is_flag=True, help="write the spec even if the round trip is not exact"
)
def import_cmd(
    root: str,
    host: str,
    fqdn: str | None,
    cluster: str | None,
    out_file: str | None,
    force: bool,
    allow_loss: bool,
) -> None:
    """Read an existing /etc/mail under ROOT into a tlsc spec for host NAME.

    The spec is compiled again and compared with the original files (access
    map entry by entry, sendmail.cf built with real m4); every difference is
    reported with the original file and line.
    """
    if out_file and os.path.exists(out_file) and not force:
        click.echo(f"tlsc import: {out_file} exists; use --force to overwrite it", err=True)
        sys.exit(1)
    result = import_host(root, host, fqdn, cluster)
    color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    notes = result.notes
    sys.stderr.write(format_text(notes.errors, color=color))
    sys.stderr.write(format_text(sorted(notes.warnings), color=color))
    sys.stderr.write(format_text(sorted(notes.losses), color=color))
    if not result.ok or result.text is None:
        click.echo("tlsc import: nothing written", err=True)
        sys.exit(1)
    sys.stderr.write(summary(result))
    if notes.losses and not allow_loss:
        click.echo(
            f"tlsc import: {len(notes.losses)} difference(s) could not be carried over;"
            " nothing written (--allow-loss writes the spec anyway)",
            err=True,
        )
        sys.exit(1)
    if out_file is None:
        sys.stdout.write(result.text)
        return
    try:
        tmp = out_file + ".tlsc-tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(result.text)
        os.replace(tmp, out_file)
    except OSError as exc:
        click.echo(f"tlsc import: cannot write {out_file}: {exc.strerror}", err=True)
        sys.exit(1)
    click.echo(f"tlsc import: wrote {out_file}", err=True)


def summary(result: Imported) -> str:
    """What was imported, kept verbatim, dropped and checked, a few lines for a person."""
    parts = result.parts
    notes: Notes = result.notes
    assert parts is not None
    mc = parts.mc
    lines = [
        f"imported host {parts.host} ({parts.fqdn}):",
        f"  mc: {len(mc['defines'])} define(s), {len(mc['features'])} feature(s),"
        f" {len(mc['daemon_options'])} daemon option(s), mailers {', '.join(mc['mailers'])}",
        "  tls: "
        + (
            "disabled (no starttls include)"
            if parts.tls == {"enabled": False}
            else f"{sum(1 for v in parts.tls.values() if v not in (None, []))} setting(s)"
        ),
        f"  access: {len(parts.domains)} domain rule(s), {len(parts.recipients)} recipient"
        f" rule(s), {sum(map(len, parts.issuer_tags.values()))} issuer(s),"
        f" {len(parts.access)} other entr{'y' if len(parts.access) == 1 else 'ies'}"
        + (" (ownership: block)" if parts.ownership == "block" else ""),
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
    return "".join(line + "\n" for line in lines)


def _places(places: list[Where]) -> str:
    """`sendmail.mc:6, 11, 27` -- file names once, lines in order."""
    by_file: dict[str, list[int]] = {}
    for at in places:
        by_file.setdefault(os.path.basename(at.path), []).append(at.line)
    return "; ".join(
        f"{name}:" + ", ".join(map(str, sorted(lines))) for name, lines in by_file.items()
    )
