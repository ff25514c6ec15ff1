"""`tlsc logs [--format text|json|tlsrpt] [--since T] [--until T] [--year Y] FILE...`

Thin: read each file in the order given (`-` is stdin; gzip is recognised by
its magic bytes, so `.gz` and unsuffixed rotations alike), stream its lines
through the parser, print one JSON object a line or a summary, exit 0 when
every input was read and 1 when one could not be (missing, unreadable,
damaged gzip): the others are still analysed and the output covers what was
read. Lines that are not STARTTLS lines are skipped before they are decoded.
This path imports neither pydantic nor ruamel.yaml nor deepdiff.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime

import click

from compiler.cli import PathName
from compiler.logs.parse import (
    LAST_REPEATED,
    LogParser,
    Notice,
    Ordered,
    RulesetEvent,
    TlsRecord,
    last_repeated,
    split_with_text,
)
from compiler.logs.source import ReadStats, log_lines
from compiler.logs.syslog import YearGuess, split_syslog

_FORMAT = click.Choice(["text", "json", "tlsrpt"])


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    ctx.meta[f"tlsc.logs.{param.name}"] = value  # as given, for _window's sentence
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or time (like 2026-11-28 or 2026-11-28T10:00)",
            param=param,
        ) from None


def _email(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The address as given, when its domain is a domain name: it names the report files.

    The domain becomes the `sender` of every file name (RFC 8460 section
    5.3), so a `/` or a `!` in it would put the file elsewhere or split its
    name wrongly: it must be a DNS name (`parse_domain`), of two labels or more.
    """
    from compiler.sendmail.names import parse_domain

    if value is None:
        return None
    local, at, domain = value.rpartition("@")
    why = ""
    try:
        name = parse_domain(domain.removesuffix("."))
    except ValueError:
        name = ""
        if at and local and domain:
            why = f": {domain!r} is not a domain name"
    if not (at and local and "." in name and not any(c.isspace() for c in value)):
        raise click.BadParameter(
            f"{value!r} is not an email address (like tlsrpt@example.com){why}", param=param
        )
    return value


def _ip(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The address in RFC 5952 text, as `sending-mta-ip` wants it; a zone (`%eth0`) is refused."""
    from compiler.logs.tlsrpt import address_text

    if value is None:
        return None
    text = address_text(value) if "%" not in value else None
    if text is None:
        raise click.BadParameter(f"{value!r} is not an IPv4 or IPv6 address", param=param)
    return text


def _comparable(a: datetime, b: datetime) -> tuple[datetime, datetime]:
    """Both aware, or both naive (then compared as wall-clock times)."""
    if (a.tzinfo is None) != (b.tzinfo is None):
        return a.replace(tzinfo=None), b.replace(tzinfo=None)
    return a, b


def _window(since: datetime | None, until: datetime | None) -> None:
    """A usage error when --since is not before --until: no line could be in the window."""
    if since is None or until is None:
        return
    a, b = _comparable(since, until)
    if a < b:
        return
    meta = click.get_current_context().meta
    raise click.UsageError(
        f"--since '{meta['tlsc.logs.since']}' is not before --until '{meta['tlsc.logs.until']}',"
        " so no line could be in both (since is inclusive, until exclusive); give the earlier"
        " time to --since"
    )


def time_filter(
    since: datetime | None, until: datetime | None
) -> Callable[[str | None], bool] | None:
    """A test of a record's time: since <= time < until; None when neither is given.

    A line without a readable time is left out once a bound is given.
    """
    if since is None and until is None:
        return None

    def within(when: str | None) -> bool:
        if when is None:
            return False
        try:
            t = datetime.fromisoformat(when)
        except ValueError:
            return False
        if since is not None:
            a, b = _comparable(t, since)
            if a < b:
                return False
        if until is not None:
            a, b = _comparable(t, until)
            if a >= b:
                return False
        return True

    return within


def stream_records(
    files: tuple[str, ...],
    on_record: Callable[[TlsRecord], None],
    on_event: Callable[[RulesetEvent | Notice], None] | None,
    year: int | None = None,
) -> tuple[ReadStats, list[str]]:
    """Feed every line of `files` to one parser; (what was read, one sentence per bad input).

    Records go to `on_record` in input order, refusals and notices to `on_event` as read.
    """

    def on_entry(entry: Ordered) -> None:
        if isinstance(entry, TlsRecord):
            on_record(entry)
        elif on_event is not None:
            on_event(entry)

    return stream_entries(files, on_entry, year)


def stream_entries(
    files: tuple[str, ...],
    on_entry: Callable[[Ordered], None],
    year: int | None = None,
    window: int = LogParser.WINDOW,
) -> tuple[ReadStats, list[str]]:
    """Records, refusals and notices of `files` in input order, line by line (the reference).

    compiler/logs/scan.py reads the same faster; the tests hold the two to the same output.
    """
    parser = LogParser(None, window)
    stats = ReadStats()
    problems: list[str] = []
    feed = parser.feed_entries
    lineno = 0
    too_long = 0
    #: the last line that is not a repeat line (what a `last message repeated` line repeats,
    #: if within the window), and its number
    before: tuple[bytes, YearGuess] | None = None
    before_at = 0
    for raw, years in log_lines(files, year, stats, problems):
        lineno += 1
        if too_long != stats.too_long:  # a line too long to read came between
            too_long, before = stats.too_long, None
        if b"STARTTLS" not in raw and b"ruleset=" not in raw:
            if _REPEAT_WORDS in raw:
                text = raw.decode("utf-8", "replace")
                line = split_syslog(text, years)
                if last_repeated(line) is not None:
                    near = before if lineno - before_at <= window else None
                    for entry in feed(line, text, lineno + too_long, split_with_text(near)):
                        on_entry(entry)
                    continue
            before, before_at = (raw, years), lineno
            continue
        before, before_at = (raw, years), lineno
        text = raw.decode("utf-8", "replace")
        for entry in feed(split_syslog(text, years), text, lineno + stats.too_long):
            on_entry(entry)
    for entry in parser.flush_entries():
        on_entry(entry)
    stats.lines = lineno + stats.too_long
    stats.unreadable = stats.too_long + parser.unreadable
    return stats, problems


_REPEAT_WORDS = LAST_REPEATED.encode()


@click.command(name="logs")
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True)
@click.option(
    "--since",
    callback=_when,
    metavar="TIME",
    help="Only lines at or after TIME (ISO 8601, e.g. 2026-11-28 or 2026-11-28T10:00).",
)
@click.option("--until", callback=_when, metavar="TIME", help="Only lines before TIME.")
@click.option(
    "--year",
    type=click.IntRange(1970, 9999),
    help="Year of each file's first classic syslog stamp (they have none; a later day"
    " before its is in the year after) [default: from each file's date].",
)
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="Peers to list.")
@click.option(
    "--spec",
    type=click.Path(),
    default=None,
    help="What if: replay the mail in the logs against every TLS rule of SPEC.",
)
@click.option(
    "--propose",
    "proposals",
    multiple=True,
    metavar="RULE",
    help="With --spec, also a rule not yet in it, in YAML flow syntax:"
    " 'bank.example: {outbound: {require: verify}}' (a domains: item) or"
    " 'recipients: {alice@bank.example: verify}' (repeatable).",
)
@click.option("--org", metavar="NAME", help="tlsrpt: organization-name of the reports.")
@click.option("--contact", callback=_email, metavar="EMAIL", help="tlsrpt: contact-info address.")
@click.option(
    "--out-dir",
    type=PathName(file_okay=False),
    default=".",
    show_default=True,
    metavar="DIR",
    help="tlsrpt: where reports go.",
)
@click.option("--sending-ip", callback=_ip, metavar="IP", help="tlsrpt: this host's address.")
def logs(
    files: tuple[str, ...],
    fmt: str,
    since: datetime | None,
    until: datetime | None,
    year: int | None,
    top: int,
    spec: str | None,
    proposals: tuple[str, ...],
    org: str | None,
    contact: str | None,
    out_dir: str,
    sending_ip: str | None,
) -> None:
    """Analyse sendmail STARTTLS log lines in FILE... (- is stdin; gzip is unpacked).

    --format tlsrpt writes RFC 8460 reports of the outbound sessions into
    --out-dir instead, one per recipient domain and UTC day.

    With --spec, the what-if: the mail each TLS rule (and each --propose'd
    one) would have deferred or refused.

    Exit 0 when every file was read, 1 when one could not be (or the spec or
    a proposal is not valid).
    """
    _window(since, until)  # before anything is read: the what-if and tlsrpt take them too
    within = time_filter(since, until)
    if fmt == "tlsrpt" and not (org and contact):
        raise click.UsageError("--format tlsrpt needs --org NAME and --contact EMAIL")
    if proposals and spec is None:
        click.echo("tlsc: --propose needs --spec, the spec the rule would be added to", err=True)
        sys.exit(1)
    if spec is not None and fmt == "tlsrpt":
        raise click.UsageError("--spec (the what-if) prints text or json, not tlsrpt")
    # `tlsc logs ... | head`: a closed reader ends it as every command (compiler/cli.py)
    if spec is not None:
        from compiler.logs.whatif_command import run_whatif

        problems = run_whatif(files, spec, proposals, fmt, within, year, top)
    elif fmt == "tlsrpt":
        problems = _tlsrpt(files, within, year, org or "", contact or "", out_dir, sending_ip)
    elif fmt == "json":
        problems = _json(files, within, year)
    else:
        problems = _text(files, within, year, top)
    sys.stdout.flush()
    if problems:
        from compiler.problems import one_line

    for problem in problems:
        click.echo(f"tlsc: {one_line(problem)}", err=True)
    sys.exit(1 if problems else 0)


def _json(
    files: tuple[str, ...], within: Callable[[str | None], bool] | None, year: int | None
) -> list[str]:
    from compiler.logs.workers import scan_files

    sys.stdout.flush()
    return scan_files(files, "json", sys.stdout.buffer, within, year).problems


def _text(
    files: tuple[str, ...],
    within: Callable[[str | None], bool] | None,
    year: int | None,
    top: int,
) -> list[str]:
    import importlib

    from compiler.gcpause import gc_paused
    from compiler.logs.workers import scan_files

    def imports() -> None:  # what prints the summary, imported while the workers read
        importlib.import_module("compiler.logs.report")

    from compiler.logs.source import chronological

    result = scan_files(chronological(files), "text", None, within, year, meanwhile=imports)
    from compiler.logs.report import print_summary
    from compiler.logs.scan import summary_of

    stats, problems = result.stats, result.problems
    with gc_paused():  # tens of thousands of peers and records, no cycles: 30 % faster
        summary = summary_of(result.tally)
        if len(problems) < len(files):
            color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
            print_summary(
                summary,
                sys.stdout,
                color,
                files=len(files) - len(problems),
                lines=stats.lines,
                top=top,
                unreadable=stats.unreadable,
            )
    return problems


def _tlsrpt(
    files: tuple[str, ...],
    within: Callable[[str | None], bool] | None,
    year: int | None,
    org: str,
    contact: str,
    out_dir: str,
    sending_ip: str | None,
) -> list[str]:
    """Write the RFC 8460 reports of the outbound sessions; print each path written."""
    from compiler.logs.sessions import Session, read_sessions
    from compiler.logs.tlsrpt import ReportBuilder, write_reports

    builder = ReportBuilder()

    def on_session(session: Session) -> None:
        if within is None or within(session.time):
            builder.add(session)
        else:
            builder.seen(session)

    _stats, problems = read_sessions(files, on_session, year)
    for sentence in builder.skipped.sentences():
        click.echo(f"tlsc: note: {sentence}; left out", err=True)
    refusal = builder.refusal()
    if refusal is not None:
        return [*problems, refusal]
    reports = builder.reports(org, contact, sending_ip)
    if not reports and len(problems) < len(files):
        click.echo(
            "tlsc: note: no outbound session to a recipient domain: no report written", err=True
        )
    written, refusal = write_reports(reports, out_dir)
    for path in written:
        click.echo(path)
    return problems + ([refusal] if refusal else [])
