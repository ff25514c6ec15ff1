"""`tlsc doctor SPEC [--root DIR] [--host NAME]`: this host's STARTTLS setup, offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from compiler.cli import PathName
from compiler.fileio import unreadable_reason
from compiler.localhost import HostMatchError, match_host


def _fail(message: str) -> None:
    from compiler.problems import one_line

    click.echo(f"tlsc doctor: {one_line(message)}", err=True)
    sys.exit(1)


@click.command(name="doctor")
@click.argument("spec", default="cluster.yaml", type=click.Path())
@click.option(
    "--root",
    type=PathName(file_okay=False, exists=True),
    default="/",
    show_default=True,
    help="The host's files live under this directory (as DESTDIR).",
)
@click.option("--host", "host_name", default=None, help="The spec host (default: this machine).")
@click.option(
    "--min-days",
    type=click.IntRange(min=0),
    default=14,
    show_default=True,
    help="Warn about certificates with this many days or fewer left.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--dns-server",
    metavar="ADDRESS[:PORT]",
    envvar="TLSC_DNS_SERVER",
    help="With tls.dane: the resolver to check (default: the first nameserver of"
    " ROOT/etc/resolv.conf; env TLSC_DNS_SERVER).",
)
@click.option(
    "--preflight",
    is_flag=True,
    help="Only the checks tlsc apply runs before it writes: the TLS files the spec names"
    " (judged by the sendmail.cf the spec makes) and the binary; not sendmail.cf or"
    " access.db, which apply builds.",
)
def doctor(
    spec: str,
    root: str,
    host_name: str | None,
    min_days: int,
    fmt: str,
    dns_server: str | None,
    preflight: bool,
) -> None:
    """Check this host's STARTTLS setup offline: files, permissions, certificates, builds.

    Exit 0 when nothing is wrong (warnings allowed), 1 when anything would keep
    sendmail from offering STARTTLS as the spec says (with --preflight: anything
    that makes tlsc apply refuse to write).
    """
    from compiler.cliutil import load_validated_or_exit, unknown_hosts_or_exit, unreadable_spec
    from compiler.doctor import diagnose
    from compiler.doctor import preflight as apply_preflight
    from compiler.doctor.finding import format_json, format_text
    from compiler.resolve import resolve

    reason = unreadable_reason(spec)
    if reason is not None:
        unreadable_spec(spec, fmt, f"tlsc doctor: cannot read {spec}: {reason}")
    # in text the problems say it; in JSON they are on stdout, and this on stderr
    failed = f"{spec} is not valid; nothing was checked" if fmt == "json" else None
    loaded, checked = load_validated_or_exit(spec, fmt, failed, "tlsc doctor")
    cluster = checked.cluster
    assert cluster is not None  # load_validated_or_exit exits otherwise
    if host_name is None:
        try:
            host_name = match_host({n: h.fqdn for n, h in cluster.hosts.items()})
        except HostMatchError as exc:
            _fail(str(exc))
    else:
        unknown_hosts_or_exit(loaded, checked, [host_name], fmt, "tlsc doctor")
    assert host_name is not None
    config = resolve(cluster, host_name)
    if preflight:
        findings = apply_preflight(config, spec, Path(os.path.abspath(root)), min_days=min_days)
    else:
        findings = diagnose(config, spec, Path(root), min_days=min_days, dns_server=dns_server)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if fmt == "json":
        sys.stdout.write(format_json(host_name, findings))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(format_text(findings, color=color))
        verdict = f"{errors} error(s), {warnings} warning(s)" if findings else "no problems found"
        click.echo(f"tlsc doctor: {host_name}: {verdict}", err=True)
    sys.exit(1 if errors else 0)
