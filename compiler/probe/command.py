"""`tlsc verify SPEC | HOST[:PORT]...`: the live STARTTLS probe as a command."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from compiler.cli import Seconds
from compiler.fileio import unreadable_reason
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
    # a FIFO or a device is a spec that cannot be read, not a host name; so is a directory
    # named as a path (`./mail`, `conf/`), which no host name is, but not a bare `mail`
    if arg.endswith((".yaml", ".yml")):
        return True
    return os.path.exists(arg) and (not os.path.isdir(arg) or "/" in arg)


def _spec_targets(spec: str, hosts: tuple[str, ...], ca: str | None, fmt: str) -> list[Target]:
    from compiler.cliutil import load_validated_or_exit, unknown_hosts_or_exit
    from compiler.resolve import resolve

    # in text the problems say it; in JSON they are on stdout, and this on stderr
    failed = f"{spec} is not valid; nothing was probed" if fmt == "json" else None
    loaded, checked = load_validated_or_exit(spec, fmt, failed, "tlsc verify")
    cluster = checked.cluster
    assert cluster is not None  # load_validated_or_exit exits otherwise
    unknown_hosts_or_exit(loaded, checked, hosts, fmt, "tlsc verify")
    targets = []
    for name in hosts or tuple(cluster.hosts):
        host = resolve(cluster, name)
        if not host.settings.tls.enabled and not hosts:
            # off by design: no STARTTLS to find; named with --host, it is probed
            click.echo(
                f"tlsc verify: {name}: STARTTLS is off in the spec (tls.enabled: false);"
                " not probed (name it with --host to probe it anyway)",
                err=True,
            )
            continue
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


def _fail(message: str) -> NoReturn:
    from compiler.problems import one_line

    click.echo(f"tlsc verify: {one_line(message)}", err=True)
    sys.exit(1)


def _no_empty(param: click.Parameter, value: str | None) -> str | None:
    """An empty value (`--mx "$DOMAIN"` with DOMAIN unset) is refused before any work,
    as an empty path is: it would ask DNS for the root."""
    if value is not None and not value.strip(". "):
        raise click.BadParameter(f"'{value}' names no domain (an unset variable?)", param=param)
    return value


def _check_ehlo(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not valid_ehlo_name(value):
        from compiler.problems import one_line

        raise click.BadParameter(f"'{one_line(value)}' is not a host name or address literal")
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
    "--ca-file",
    "ca",
    type=click.Path(exists=True, dir_okay=False),
    help="Verify certificates against this CA file (default: the spec's tls.ca_cert,"
    " with --mx the system's trusted CAs).",
)
@click.option(
    "--mx",
    "mx_domain",
    metavar="DOMAIN",
    callback=lambda _ctx, param, value: _no_empty(param, value),
    help="Check DOMAIN's mail servers: its MX hosts from DNS, each probed, with the"
    " TLS_Srv keys that match them, MTA-STS and TLSA records.",
)
@click.option(
    "--dns-server",
    metavar="ADDRESS[:PORT]",
    envvar="TLSC_DNS_SERVER",
    help="With --mx: ask this DNS server (default: the system's resolvers; env TLSC_DNS_SERVER).",
)
@click.option(
    "--port",
    "smtp_port",
    type=click.IntRange(1, 65535),
    default=25,
    show_default=True,
    help="With --mx: the SMTP port to probe on each MX host.",
)
@click.option(
    "--https-port",
    type=click.IntRange(1, 65535),
    default=443,
    show_default=True,
    help="With --mx: the port of the MTA-STS policy host (mta-sts.DOMAIN).",
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
@click.option("--connect-timeout", type=Seconds(min=0.1), default=10.0, show_default=True)
@click.option(
    "--greeting-timeout",
    type=Seconds(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the 220 greeting (greet_pause delays it).",
)
@click.option(
    "--timeout",
    type=Seconds(min=0.1),
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
    mx_domain: str | None,
    dns_server: str | None,
    smtp_port: int,
    https_port: int,
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

    With --mx DOMAIN: DOMAIN's MX hosts instead, each address probed on --port.
    """
    options = ProbeOptions(
        timeouts=Timeouts(connect_timeout, greeting_timeout, timeout, timeout),
        ehlo_name=ehlo_name,
    )
    policy = ProbePolicy(strict=strict, min_days=min_days, expect_client_cert=expect_client_cert)
    if mx_domain is not None:
        if args or hosts:
            _fail("--mx DOMAIN checks DOMAIN's mail servers; give no SPEC, HOST or --host with it")
        _verify_mx(mx_domain, dns_server, (smtp_port, https_port), ca, fmt, options, policy)
    source = click.get_current_context().get_parameter_source("dns_server")
    if source is click.core.ParameterSource.COMMANDLINE:
        _fail("--dns-server is for --mx DOMAIN")
    args = args or ("cluster.yaml",)
    specs = [a for a in args if _is_spec(a)]
    if specs and len(args) > 1:
        _fail("give one SPEC or any number of HOST[:PORT] targets, not both")
    if specs:
        reason = unreadable_reason(specs[0])
        if reason is not None:
            from compiler.cliutil import unreadable_spec

            unreadable_spec(specs[0], fmt, f"tlsc verify: cannot read {specs[0]}: {reason}")
        targets = _spec_targets(specs[0], hosts, ca, fmt)
    else:
        if hosts:
            _fail("--host selects hosts of a SPEC; give HOST[:PORT] targets without it")
        try:
            targets = [adhoc_target(a, ca) for a in args]
        except TargetError as exc:
            _fail(str(exc))
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


def _verify_mx(
    domain: str,
    dns_server: str | None,
    ports: tuple[int, int],
    ca: str | None,
    fmt: str,
    options: ProbeOptions,
    policy: ProbePolicy,
) -> None:
    """`tlsc verify --mx DOMAIN`: report and exit (0 when every MX address passes)."""
    import json

    from compiler.probe import mx

    try:
        resolver = mx.make_resolver(dns_server, options.timeouts.connect)
    except ValueError as exc:
        _fail(f"--dns-server: {exc}")
    server = dns_server or ", ".join(map(str, resolver.nameservers)) or "the system's resolvers"
    try:
        report = mx.lookup(domain, resolver, server)
    except mx.MxError as exc:
        _fail(str(exc))
    if report.mta_sts.policy_id is not None:
        report.mta_sts.policy = mx.fetch_policy(
            report.domain, resolver, ports[1], ca, options.timeouts.connect
        )
    pairs = mx.targets(report, ports[0], ca)
    for (host, _), result in zip(pairs, _run([t for _, t in pairs], options), strict=True):
        host.probes.append(result)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.as_dict(policy), indent=2) + "\n")
    else:
        click.echo("\n".join(mx.text_report(report, policy)))
        results = report.results
        failed = sum(not r.passed(policy) for r in results)
        summary = f"{len(results) - failed} of {len(results)} MX address(es) passed"
        click.echo(f"tlsc verify: {summary}" + (" (strict)" if policy.strict else ""), err=True)
    sys.exit(0 if report.passed(policy) else 1)
