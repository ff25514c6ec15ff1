"""`tlsc logs` text output: a summary of rich tables for people (JSON Lines: parse.json_line)."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from compiler import console as safe_console
from compiler.console import SafeTable, shown_text
from compiler.logs.summary import (
    ERROR_RESULT,
    MIN_BITS,
    OLD_OPENSSL_VERSION,
    VERIFY_MEANING,
    WEAK_VERSIONS,
    PeerStats,
    Summary,
    rank,
)
from compiler.sendmail.names import parse_peer

DIRECTIONS = ("server", "client")
_DIRECTION_NAME = {"server": "server (in)", "client": "client (out)"}


def _style(result: str | None) -> str:
    level = rank(result)
    return "green" if level == 0 else "" if level <= 2 else "yellow" if level == 3 else "red"


def _result(result: str | None) -> Text:
    return shown_text(result or "-", _style(result))


def spec_key(direction: str, peer: PeerStats) -> str | None:
    """The spec's `domains:` key for a peer (host name, or address without brackets).

    The first of the label's name and address the spec takes as a key naming that one
    peer, None when neither is: both come from the log (relay=), where a forged line
    or a resolver can put anything, and the hint must not propose a `*` (every peer)
    or a key with an ESC in it.
    """
    if direction != "client" or peer.label == "(unknown)":
        return None
    for name in peer.label.split(" "):
        key = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        try:
            if parse_peer(key):
                return key
        except ValueError:
            pass
    return None


class _Report:
    def __init__(self, summary: Summary, console: Console, top: int) -> None:
        self.s = summary
        self.console = console
        self.top = top
        self._ranked: list[tuple[str, PeerStats]] | None = None

    def ranked(self) -> list[tuple[str, PeerStats]]:
        """Summary.worst_peers, sorted once for the peers and the failed tables."""
        if self._ranked is None:
            self._ranked = self.s.worst_peers()
        return self._ranked

    def table(self, title: str, *columns: str) -> Table:
        table = SafeTable(title=title, title_justify="left", title_style="bold")
        for column in columns:
            numeric = column in ("Count", "Handshakes", "Refused", "Errors", "Min bits")
            table.add_column(column, justify="right" if numeric else "left", overflow="fold")
        return table

    def results(self) -> None:
        s = self.s
        table = self.table(
            "Results by direction (server: we accepted STARTTLS; client: we sent it)",
            "Direction",
            "verify",
            "Handshakes",
            "Refused",
            "Meaning",
        )
        keys = set(s.handshakes) | set(s.refusals)
        for direction, verify in sorted(keys, key=lambda k: (DIRECTIONS.index(k[0]), rank(k[1]))):
            table.add_row(
                _DIRECTION_NAME[direction],
                _result(verify),
                str(s.handshakes.get((direction, verify), "")),
                str(s.refusals.get((direction, verify), "")),
                VERIFY_MEANING.get(verify, "not a sendmail verify value"),
            )
        for direction in DIRECTIONS:
            count = sum(n for (d, _), n in s.errors.items() if d == direction)
            if count:
                table.add_row(
                    _DIRECTION_NAME[direction],
                    _result(ERROR_RESULT),
                    str(count),
                    "",
                    "a STARTTLS error line (see Errors)",
                )
        self.console.print(table)
        self.console.print(
            "Refused: the TLS_Srv/TLS_Clt requirement (or sendmail's default rule) refused "
            "the session with this verify value (`ruleset=tls_server|tls_client` lines)."
        )
        if s.fail_reasons:
            reasons = ", ".join(f"{why} ({n})" for why, n in s.fail_reasons.most_common(5))
            self.console.print(f"Why certificates failed to verify: {reasons}")

    def rules(self) -> None:
        """Every refusal by the rule that refused, the ruleset that logged it and the reason."""
        s = self.s
        if not s.rule_refusals:
            return
        table = self.table("Refusals by rule", "Rule", "Ruleset", "Reason", "Count")
        for (rule, ruleset, reason), count in sorted(
            s.rule_refusals.items(), key=lambda kv: (-kv[1], kv[0])
        ):
            table.add_row(rule, ruleset, reason, str(count))
        self.console.print(table)
        if any(ruleset.startswith("check_") for _, ruleset, _ in s.rule_refusals):
            self.console.print(
                "A check_mail/check_rcpt line with a TLS reason is TLS_Clt's refusal at MAIL "
                "(check_rcpt with FEATURE(delay_checks))."
            )

    def versions(self) -> None:
        s = self.s
        table = self.table("Protocol versions", "Version", "server (in)", "client (out)", "Note")
        for version in sorted({v for v, _ in s.versions}):
            if version in WEAK_VERSIONS:
                note = Text("weak: deprecated by RFC 8996", style="red")
            elif version == OLD_OPENSSL_VERSION:
                note = Text("old OpenSSL's name: TLS 1.0 to 1.2, protocol not known", "yellow")
            else:
                note = Text("")
            table.add_row(
                shown_text(version, "red" if version in WEAK_VERSIONS else ""),
                str(s.versions.get((version, "server"), "")),
                str(s.versions.get((version, "client"), "")),
                note,
            )
        self.console.print(table)

    def weak_ciphers(self) -> None:
        if not self.s.weak_ciphers:
            self.console.print(f"No cipher under {MIN_BITS} bits.")
            return
        table = self.table(f"Ciphers under {MIN_BITS} bits", "Cipher", "bits", "Count", "Peers")
        ranked = sorted(self.s.weak_ciphers.items(), key=lambda kv: -kv[1].count)
        for (cipher, bits), entry in ranked:
            peers = ", ".join(entry.peers) + (", ..." if entry.count > len(entry.peers) else "")
            table.add_row(shown_text(cipher, "red"), bits, str(entry.count), peers)
        self.console.print(table)

    def peers(self) -> None:
        ranked = self.ranked()
        shown = ranked[: self.top]
        more = f", {len(shown)} of {len(ranked)}" if len(ranked) > len(shown) else ""
        table = self.table(
            f"Peers, worst result first{more}",
            "Peer",
            "Direction",
            "Handshakes",
            "Errors",
            "Refused",
            "Worst",
            "Versions",
            "Min bits",
            "Last problem",
        )
        for direction, p in shown:
            table.add_row(
                p.label,
                _DIRECTION_NAME[direction],
                str(p.handshakes),
                str(p.errors or ""),
                str(p.refused or ""),
                _result(p.worst),
                ", ".join(sorted(p.versions)),
                "" if p.min_bits is None else str(p.min_bits),
                p.last_problem or "",
            )
        self.console.print(table)

    def errors(self) -> None:
        if not self.s.errors:
            return
        table = self.table("Errors", "Count", "Direction", "Error")
        for (direction, message), count in self.s.errors.most_common():
            table.add_row(str(count), _DIRECTION_NAME[direction], message)
        self.console.print(table)

    def failed(self) -> None:
        failed = [(d, p) for d, p in self.ranked() if p.failed]
        if not failed:
            return
        more = f", {self.top} of {len(failed)}" if len(failed) > self.top else ""
        table = self.table(
            f"STARTTLS failed with these peers{more}", "Peer", "Direction", "Problem"
        )
        keys: list[str] = []
        for direction, p in failed[: self.top]:
            table.add_row(p.label, _DIRECTION_NAME[direction], p.last_problem or "")
            key = spec_key(direction, p)
            if key is not None and p.worst not in ("NONE",) and key not in keys:
                keys.append(key)
        self.console.print(table)
        if keys:
            self.console.print(
                "Hint: if a peer cannot do TLS, stop trying STARTTLS with it (an access line "
                "Try_TLS:<peer> NO); in the spec:"
            )
            self.console.print("domains:")
            for key in keys[: self.top]:
                self.console.print(f'  "{key}": {{outbound: {{starttls: false}}}}')
        if any(p.worst == "NONE" for _, p in failed):
            self.console.print(
                "verify=NONE refusals: the peer does not offer STARTTLS and a TLS_Srv rule "
                "requires it; mail to it stays queued."
            )
        if any(d == "server" for d, _ in failed):
            self.console.print(
                "Inbound errors: the client broke off the handshake (often a scanner or an old "
                "client); nothing in the spec forces TLS on it."
            )

    def notes(self) -> None:
        s = self.s
        for text, count in s.notices.most_common():
            self.console.print(
                shown_text(f"{text} ({count}x): STARTTLS is not offered while it is missing", "red")
            )
        if s.try_tls_skipped:
            skipped = ", ".join(f"{p} ({n})" for p, n in s.try_tls_skipped.most_common(self.top))
            self.console.print(f"TLS not tried (Try_TLS NO): {skipped}")
        if s.rcpt_refusals:
            self.console.print(f"Refused by TLS_Rcpt requirements: {s.rcpt_refusals} recipient(s)")


def make_console(out: IO[str], color: bool) -> Console:
    """The console the logs reports print on: plain text unless `color`, no markup, what
    the logs hold escaped (compiler.console)."""
    return safe_console.make_console(out, color, width=160)


def print_summary(
    summary: Summary,
    out: IO[str],
    color: bool,
    *,
    files: int,
    lines: int,
    top: int = 20,
    unreadable: int = 0,
) -> None:
    """The text summary: what happened, per direction, per peer, and what to do about it."""
    console = make_console(out, color)
    s = summary
    span = f", {s.first} .. {s.last}" if s.first else ""
    hosts = ", ".join(h for h, _ in s.hosts.most_common(5))
    console.print(
        f"{s.records} STARTTLS record(s) in {lines} line(s) of {files} file(s){span}"
        + (f"; host(s): {hosts}" if hosts else "")
    )
    if unreadable:
        console.print(
            f"{unreadable} line(s) skipped as unreadable (too long, cut off, binary, "
            "or a continuation line starting with blanks)"
        )
    report = _Report(s, console, top)
    if not s.records and not s.rule_refusals and not s.notices:
        console.print(
            "No STARTTLS lines. sendmail logs them at LogLevel 9 or more "
            "(confLOG_LEVEL; 9 is the default)."
        )
        report.notes()
        return
    report.results()
    report.rules()
    report.versions()
    report.weak_ciphers()
    report.peers()
    report.errors()
    report.failed()
    report.notes()
