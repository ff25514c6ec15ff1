"""`tlsc verify SPEC | HOST[:PORT]...`: the live STARTTLS probe as a command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from compiler.probe import (
    ProbeOptions,
    ProbePolicy,
    ProbeResult,
    Target,
    TargetError,
    Timeouts,
    adhoc_target,
    host_target,
    probe_all,
)
from compiler.probe.report import format_json, print_table
from compiler.probe.smtp import valid_ehlo_name


def _is_spec(arg: str) -> bool:
    return arg.endswith((".yaml", ".yml")) or Path(arg).is_file()


def _spec_targets(spec: str, hosts: tuple[str, ...], ca: str | None, fmt: str) -> list[Target]:
    from compiler.cli import load_cluster_or_exit
    from compiler.resolve import resolve

    cluster = load_cluster_or_exit(spec)
    unknown = [h for h in hosts if h not in cluster.hosts]
    if unknown:
        _fail(f"no host named {unknown[0]} in {spec}; hosts are {', '.join(cluster.hosts)}")
    targets = []
    for name in hosts or tuple(cluster.hosts):
        host = resolve(cluster, name)
        target = host_target(host, ca)
        tls = host.settings.tls
        if not ca and tls.ca_cert and target.ca_file is None:
            click.echo(
                f"tlsc verify: {name}: tls.ca_cert {tls.ca_cert} is not on this machine;"
                f" verifying against {target.trust} (give the CA with --ca FILE)",
                err=True,
            )
        targets.append(target)
    return targets


def _fail(message: str) -> None:
    click.echo(f"tlsc verify: {message}", err=True)
    sys.exit(1)


def _check_ehlo(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not valid_ehlo_name(value):
        raise click.BadParameter(f"'{value}' is not a host name or address literal")
    return value


def _run(targets: list[Target], options: ProbeOptions) -> list[ProbeResult]:
    if len(targets) < 2 or not sys.stderr.isatty():
        return probe_all(targets, options)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("probing", total=len(targets))
        return probe_all(targets, options, lambda _r: progress.advance(task))


@click.command(name="verify")
@click.argument("args", nargs=-1, metavar="SPEC | HOST[:PORT]...")
@click.option("--host", "hosts", multiple=True, help="Only this host of the spec (repeatable).")
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False),
    help="Verify certificates against this CA file (default: the spec's tls.ca_cert).",
)
@click.option("--strict", is_flag=True, help="Also require a verified, matching, lasting cert.")
@click.option(
    "--min-days",
    type=click.IntRange(min=0),
    default=14,
    show_default=True,
    help="Days of validity a certificate must have left (enforced with --strict).",
)
@click.option("--expect-client-cert", is_flag=True, help="Require a client certificate request.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--connect-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option(
    "--greeting-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the 220 greeting (greet_pause delays it).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds for each reply and for the TLS handshake.",
)
@click.option(
    "--ehlo",
    "ehlo_name",
    default=None,
    callback=_check_ehlo,
    help="EHLO argument (default: this host's name, else its address).",
)
def verify(
    args: tuple[str, ...],
    hosts: tuple[str, ...],
    ca: str | None,
    strict: bool,
    min_days: int,
    expect_client_cert: bool,
    fmt: str,
    connect_timeout: float,
    greeting_timeout: float,
    timeout: float,
    ehlo_name: str | None,
) -> None:
    """Probe each host of SPEC, or each HOST[:PORT], for STARTTLS and its certificate.

    Waits for the greeting, sends EHLO and STARTTLS, and reports the TLS
    version, cipher, and the certificate's names, issuer, expiry and
    verification. Exit 0 when every target offers STARTTLS and completes the
    handshake (with --strict: and its certificate verifies, names the host
    and has more than --min-days left), 1 otherwise.
    """
    args = args or ("cluster.yaml",)
    specs = [a for a in args if _is_spec(a)]
    if specs and len(args) > 1:
        _fail("give one SPEC or any number of HOST[:PORT] targets, not both")
    if specs:
        if not Path(specs[0]).is_file():
            _fail(f"cannot read {specs[0]}: no such file")
        targets = _spec_targets(specs[0], hosts, ca, fmt)
    else:
        if hosts:
            _fail("--host selects hosts of a SPEC; give HOST[:PORT] targets without it")
        try:
            targets = [adhoc_target(a, ca) for a in args]
        except TargetError as exc:
            _fail(str(exc))
    options = ProbeOptions(
        timeouts=Timeouts(connect_timeout, greeting_timeout, timeout, timeout),
        ehlo_name=ehlo_name,
    )
    policy = ProbePolicy(strict=strict, min_days=min_days, expect_client_cert=expect_client_cert)
    results = _run(targets, options)
    if fmt == "json":
        sys.stdout.write(format_json(results, policy))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print_table(results, policy, sys.stdout, color)
        failed = sum(not r.passed(policy) for r in results)
        summary = f"{len(results) - failed} of {len(results)} target(s) passed"
        click.echo(f"tlsc verify: {summary}" + (" (strict)" if strict else ""), err=True)
    sys.exit(0 if all(r.passed(policy) for r in results) else 1)
