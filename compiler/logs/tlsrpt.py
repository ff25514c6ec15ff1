"""RFC 8460 TLS-RPT aggregate reports from the outbound sessions of a sendmail log.

One report per recipient (policy) domain and UTC day, as the RFC asks
(section 4.1: a full UTC day). A session is counted once in the report of
every recipient domain it carried mail for. A session succeeds when TLS was
negotiated with a verify value sendmail accepts without complaint (OK,
TRUSTED, NOT, NO) and no TLS ruleset refused it; every other session is a
failure, with the RFC's result type taken from `verify=` (`RESULT_TYPES`).

The policy is `tlsa` when the session shows DANE (`verify=` TRUSTED or a
`DANE_*` value, sendmail 8.18 built with DANE) and `no-policy-found`
otherwise: whether an MTA-STS policy applied is not visible in the logs of
sendmail 8.17 and 8.18.1, so `sts` is never reported.

Times: an ISO stamp with an offset is converted to UTC; a naive stamp
(classic syslog, which has no zone) is read in `local` (by default the zone
of the machine running tlsc, i.e. its TZ).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import ipaddress
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from compiler.fileio import signals_as_exceptions
from compiler.logs.sessions import Session, same_name
from compiler.sendmail.names import parse_domain

#: verify values of a session that negotiated TLS and is a success (when no ruleset refused it)
SUCCESS = frozenset({"OK", "TRUSTED", "NOT", "NO"})
#: verify values that show the session applied DANE (a TLSA policy)
DANE = frozenset({"TRUSTED", "DANE_FAIL", "DANE_TEMP", "DANE_NOTLS"})
#: sendmail's `verify=` value -> RFC 8460 result type (section 4.3), for failed sessions
RESULT_TYPES = {
    "NONE": "starttls-not-supported",
    "DANE_NOTLS": "starttls-not-supported",
    "FAIL": "certificate-not-trusted",
    "DANE_FAIL": "tlsa-invalid",
    "DANE_TEMP": "dnssec-invalid",
}
#: the result type of any other failed verify (TEMP, SOFTWARE, PROTOCOL, CLEAR, CONFIG, ...)
OTHER = "validation-failure"
#: the words of OpenSSL's verify message (the cert line's `verifymsg=`) that refine FAIL
VERIFYMSG_TYPES = (
    ("has expired", "certificate-expired"),
    ("hostname mismatch", "certificate-host-mismatch"),
)
#: the reason of a session a `Try_TLS:` entry kept from trying STARTTLS (our choice, not theirs)
_TRY_TLS_NO = "STARTTLS not tried (Try_TLS NO in our access map)"

#: the RFC's example covers 00:00:00 to 23:59:59 of a day
_DAY = timedelta(days=1) - timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one session was, for TLS-RPT: a success (`result_type` None) or a failure."""

    policy_type: str
    result_type: str | None
    reason: str | None = None


def classify(session: Session, verifymsg: str | None = None) -> Outcome:
    """The TLS-RPT outcome of an outbound session.

    `verifymsg` is OpenSSL's message from the cert line (LogLevel 12 and
    above); it refines FAIL into certificate-expired or
    certificate-host-mismatch. The `reason` (the report's
    failure-reason-code) is `verify=V`, then what the log says about it:
    the verify message, the handshake's error, or a TLS ruleset's refusal.
    """
    verify = session.verify
    policy = "tlsa" if verify in DANE else "no-policy-found"
    refusal = session.refusals[0] if session.refusals else None
    if session.tls_skipped:
        return Outcome(policy, OTHER, f"verify={verify}: {_TRY_TLS_NO}")
    detail = verifymsg if verifymsg and verifymsg != "ok" else session.error or refusal
    reason = f"verify={verify}: {detail}" if detail else f"verify={verify}"
    if verify in SUCCESS and session.encrypted:
        if refusal is None:
            return Outcome(policy, None)
        return Outcome(policy, OTHER, reason)
    result = RESULT_TYPES.get(verify, OTHER)
    if verify == "DANE_FAIL" and not session.starttls and session.error is None:
        # sendmail 8.17 says DANE_FAIL (8.18: DANE_NOTLS) when the MX host has
        # TLSA records but offered no STARTTLS: no TLSA record was ever checked
        result = RESULT_TYPES["DANE_NOTLS"]
    if verify == "FAIL" and verifymsg:
        lower = verifymsg.lower()
        for words, refined in VERIFYMSG_TYPES:
            if words in lower:
                result = refined
                break
    return Outcome(policy, result, reason)


def utc_day(when: str | None, local: tzinfo | None = None) -> date | None:
    """The UTC day of a logged time; None when it is missing or unreadable.

    A time without an offset is taken as `local` time (None: this machine's zone).
    A time whose UTC day is outside what a date holds (`9999-12-31T23:00:00-05:00`,
    `0001-01-01` east of UTC) is unreadable too: no report can name its day.
    """
    if not when:
        return None
    try:
        moment = datetime.fromisoformat(when)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=local) if local is not None else moment.astimezone()
        return moment.astimezone(UTC).date()
    except (ValueError, OverflowError):
        return None


def _domain(address: str) -> str | None:
    """The policy domain of `user@domain`: None for a local, literal or malformed address.

    RFC 8460 section 4.4 asks for A-labels as IDNA 2008 (RFC 5891) makes
    them: Python's `idna` codec is IDNA 2003, which turns 'straße.de' into
    'strasse.de', another domain, so `parse_domain` (UTS #46, non-transitional)
    does it, lower case and without the trailing dot as everywhere in tlsc.
    """
    _user, at, domain = address.strip().strip("<>").rpartition("@")
    domain = domain.rstrip(".")
    if not at or not domain or domain.startswith("["):
        return None
    try:
        return parse_domain(domain)
    except ValueError:
        return None


def policy_domains(session: Session) -> set[str]:
    """The recipient domains of the mail a session carried, or, for an MX host the
    process tried before the one that took the delivery, of the mail it tried to."""
    domains: set[str] = set()
    recipients = [r for m in session.messages for r in m.recipients] or session.attempt_for
    for recipient in recipients:
        domain = _domain(recipient)
        if domain is not None:
            domains.add(domain)
    return domains


FailureKey = tuple[str, str | None, str | None, str | None]  # result type, mx host, ip, reason
PolicyKey = tuple[str, str | None]  # policy type, mx host (tlsa only)


@dataclass(slots=True)
class _PolicyCounts:
    success: int = 0
    failure: int = 0
    failures: Counter[FailureKey] = field(default_factory=Counter)


@dataclass(slots=True)
class Skipped:
    """Outbound sessions left out of every report, by why."""

    no_domain: int = 0
    no_time: int = 0
    no_mx_name: int = 0

    def sentences(self) -> list[str]:
        """One sentence per reason that left sessions out."""
        out = []
        if self.no_domain:
            out.append(f"{self.no_domain} outbound session(s) carried no mail to a domain")
        if self.no_time:
            out.append(f"{self.no_time} outbound session(s) have no readable time")
        if self.no_mx_name:
            out.append(
                f"{self.no_mx_name} outbound session(s) went to an address literal "
                "(a [host] relay or smart host), not to an MX host name"
            )
        return out


@dataclass(frozen=True, slots=True)
class Report:
    """One aggregate report: its day, policy domain, JSON object and file name."""

    day: date
    policy_domain: str
    body: dict[str, object]
    filename: str

    def json_bytes(self) -> bytes:
        """The report as UTF-8 JSON, newline-terminated."""
        return (json.dumps(self.body, indent=2) + "\n").encode("utf-8")

    def gzip_bytes(self) -> bytes:
        """The `.json.gz` content (no name, mtime 0: the same report gives the same bytes)."""
        return gzip.compress(self.json_bytes(), mtime=0)


class ReportBuilder:
    """Counts outbound sessions per (UTC day, policy domain, policy) and makes the reports."""

    def __init__(self, local: tzinfo | None = None) -> None:
        self.local = local
        self.skipped = Skipped()
        self.sessions = 0
        self._counts: dict[tuple[date, str], dict[PolicyKey, _PolicyCounts]] = {}
        #: per report, a digest of where its sessions come from (`_source`)
        self._sources: dict[tuple[date, str], int] = {}
        #: the MX host names the log shows whole, and those it cut short (`_mx_name`)
        self._names: set[str] = set()
        self._cut: set[str] = set()
        #: a line of the logs shows that sendmail logs its handshakes (`seen`)
        self.handshakes_logged = False

    def seen(self, session: Session) -> None:
        """Note what a session of the logs read (counted or not) says of sendmail's LogLevel.

        sendmail logs a handshake line at LogLevel 9 and above, a delivery at
        8 and above, a deferral at 9 and above (tls.c, deliver.c). At
        LogLevel 8 every outbound session looks like one without STARTTLS;
        a handshake line, a handshake's error line or a deferral shows that
        the lines would be there.
        """
        if self.handshakes_logged:
            return
        handshake = session.starttls and session.verify != "UNKNOWN"
        if handshake or any(m.status == "Deferred" for m in session.messages):
            self.handshakes_logged = True

    def refusal(self) -> str | None:
        """One sentence when the logs cannot tell a session without STARTTLS (else None)."""
        if not self.sessions or self.handshakes_logged:
            return None
        return (
            f"the logs read show {self.sessions} outbound session(s) but no STARTTLS line and"
            " no deferral: sendmail logs its handshakes at LogLevel 9 and above, so each"
            " session would be reported as starttls-not-supported; no report written (set"
            " confLOG_LEVEL to 9 or more)"
        )

    def add(self, session: Session) -> None:
        """Count one session; inbound sessions are ignored (but `seen`)."""
        self.seen(session)
        if session.direction != "client":
            return
        relay = session.relay.lower() if session.relay else None
        if relay:
            (self._cut if session.name_cut else self._names).add(relay)
        domains = policy_domains(session)
        if not domains:
            self.skipped.no_domain += 1
            return
        day = utc_day(session.time or session.end, self.local)
        if day is None:
            self.skipped.no_time += 1
            return
        if not relay:
            self.skipped.no_mx_name += 1
            return
        self.sessions += 1
        outcome = classify(session, session.verifymsg)
        key: PolicyKey = (
            outcome.policy_type,
            relay if outcome.policy_type == "tlsa" else None,
        )
        address = address_text(session.ip)
        source = _source(session)
        for domain in domains:
            at = (day, domain)
            self._sources[at] = (self._sources.get(at, 0) + source) % _SOURCES
            counts = self._counts.setdefault((day, domain), {}).setdefault(key, _PolicyCounts())
            if outcome.result_type is None:
                counts.success += 1
            else:
                counts.failure += 1
                counts.failures[(outcome.result_type, relay, address, outcome.reason)] += 1

    def reports(
        self, organization: str, contact: str, sending_ip: str | None = None
    ) -> list[Report]:
        """Every report, ordered by day then policy domain."""
        sender = sender_domain(contact)
        out = []
        for (day, domain), counted in sorted(self._counts.items()):
            policies = self._resolved(counted)
            body = report_body(organization, contact, day, domain, policies, sending_ip)
            unique = unique_id(body, self._sources[day, domain].to_bytes(32))
            body["report-id"] = f"{day.isoformat()}T00:00:00Z_{domain}_{unique}"
            out.append(Report(day, domain, body, file_name(sender, domain, day, unique)))
        return out

    def _mx_name(self, name: str | None) -> str | None:
        """The whole name of an MX host whose name the log cut short; None when unknown.

        A `to=` line shortens a relay name of 40 bytes or more to its first
        and last 18 (`contoso-com.mail.p...n.outlook.example`), and a session
        without a handshake line (verify NONE, the failures most worth
        reporting) has no other: such a name is no MX host name a receiver
        could match. Another session of the log (a handshake line gives up to
        100 bytes) may show the whole name: when exactly one whole name fits,
        it is the name; otherwise the report leaves the name out.
        """
        if name is None or name not in self._cut:
            return name
        whole = [full for full in self._names if same_name(name, full) or full.startswith(name)]
        return whole[0] if len(whole) == 1 else None

    def _resolved(self, counted: dict[PolicyKey, _PolicyCounts]) -> dict[PolicyKey, _PolicyCounts]:
        """`counted` with each MX host's name as `_mx_name` gives it (counts of one host merged)."""
        out: dict[PolicyKey, _PolicyCounts] = {}
        for (policy_type, mx), counts in counted.items():
            into = out.setdefault((policy_type, self._mx_name(mx)), _PolicyCounts())
            into.success += counts.success
            into.failure += counts.failure
            for (result, host, ip, reason), n in counts.failures.items():
                into.failures[(result, self._mx_name(host), ip, reason)] += n
        return out


def address_text(ip: str | None) -> str | None:
    """A logged address in RFC 5952 text (lower case, zeros compressed); None when it is none.

    An IPv4-mapped address keeps its dotted tail (`::ffff:192.0.2.9`, RFC 5952
    section 5), which Python before 3.13 writes as `::ffff:c000:209`.
    """
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def sender_domain(contact: str) -> str:
    """The domain of the contact address: the report's sender domain (RFC 8460 section 5.3).

    In A-labels, lower case (as the policy domain beside it in the file
    name); ValueError when it is no domain name, which would make no file name.
    """
    return parse_domain(contact.rpartition("@")[2].strip().removesuffix("."))


def day_range(day: date) -> tuple[datetime, datetime]:
    """The first and the last second of a UTC day."""
    start = datetime.combine(day, time(0), UTC)
    return start, start + _DAY


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def report_body(
    organization: str,
    contact: str,
    day: date,
    domain: str,
    policies: dict[PolicyKey, _PolicyCounts],
    sending_ip: str | None,
) -> dict[str, object]:
    """The RFC 8460 section 4.4 JSON object, report-id left empty."""
    start, end = day_range(day)
    return {
        "organization-name": organization,
        "date-range": {"start-datetime": _stamp(start), "end-datetime": _stamp(end)},
        "contact-info": contact,
        "report-id": "",
        "policies": [
            _policy(domain, key, counts, sending_ip)
            for key, counts in sorted(policies.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ],
    }


def _policy(
    domain: str, key: PolicyKey, counts: _PolicyCounts, sending_ip: str | None
) -> dict[str, object]:
    policy_type, mx = key
    policy: dict[str, object] = {"policy-type": policy_type, "policy-domain": domain}
    if mx is not None:
        policy["mx-host"] = [mx]
    out: dict[str, object] = {
        "policy": policy,
        "summary": {
            "total-successful-session-count": counts.success,
            "total-failure-session-count": counts.failure,
        },
    }
    if counts.failures:
        out["failure-details"] = [
            _detail(fkey, n, sending_ip) for fkey, n in sorted(counts.failures.items(), key=_order)
        ]
    return out


def _order(item: tuple[FailureKey, int]) -> tuple[str, str, str, str]:
    (result, mx, ip, reason), _n = item
    return result, mx or "", ip or "", reason or ""


def _detail(key: FailureKey, count: int, sending_ip: str | None) -> dict[str, object]:
    result, mx, ip, reason = key
    out: dict[str, object] = {"result-type": result}
    if sending_ip is not None:
        out["sending-mta-ip"] = sending_ip
    if mx is not None:
        out["receiving-mx-hostname"] = mx
    if ip is not None:
        out["receiving-ip"] = ip
    out["failed-session-count"] = count
    if reason is not None:
        out["failure-reason-code"] = reason
    return out


#: the sources of a report are summed modulo this: one SHA-256 per session
_SOURCES = 2**256


def _source(session: Session) -> int:
    """Where a session was logged (the host that logged it, when it began and ended), hashed.

    Summed over a report's sessions, so the logs read in another order give
    the same id (`tlsc logs b a` as `tlsc logs a b`), while another session
    changes the sum.
    """
    where = f"{session.host or ''}\t{session.time or ''}\t{session.end or ''}"
    return int.from_bytes(hashlib.sha256(where.encode("utf-8", "surrogatepass")).digest())


def unique_id(body: dict[str, object], sources: bytes = b"") -> str:
    """16 hex digits of the SHA-256 of the report without its id and of its sessions' `sources`.

    The same log gives the same id (a report sent twice is seen as one), but
    two hosts of a cluster, or two runs over different parts of a day's
    log, often count the same numbers: by the counts alone their reports
    would share one id, and a receiver keeps one of them as a duplicate
    (RFC 8460 section 4.4: a unique identifier; section 5.3: the unique-id
    tells apart reports of different sources). The digest of the logging
    host and the time of every session counted tells them apart.
    """
    canonical = json.dumps({k: v for k, v in body.items() if k != "report-id"}, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8") + sources).hexdigest()[:16]


#: the longest file name (in bytes) file systems take (NAME_MAX of Linux, the BSDs, macOS)
NAME_MAX = 255


def file_name(sender: str, domain: str, day: date, unique: str) -> str:
    """`sender!policy-domain!begin!end!unique-id.json.gz` (RFC 8460 section 5.3), UNIX seconds.

    Two long names (a domain may have 253 bytes) would make a file name over
    NAME_MAX bytes, which no file system takes: then the longer of the two
    keeps only its rightmost labels that fit (both, when each is over half
    the room). The report inside names the whole domain, and its unique id,
    a digest of that report, keeps the names of two domains so cut apart.
    """
    start, end = day_range(day)
    tail = f"!{int(start.timestamp())}!{int(end.timestamp())}!{unique}.json.gz"
    room = NAME_MAX - len(tail.encode()) - 1  # the `!` between sender and domain
    s, d = len(sender.encode()), len(domain.encode())
    if s + d > room:
        half = room // 2
        if s <= half:
            domain = _rightmost(domain, room - s)
        elif d <= half:
            sender = _rightmost(sender, room - d)
        else:
            sender, domain = _rightmost(sender, half), _rightmost(domain, room - half)
    return f"{sender}!{domain}{tail}"


def _rightmost(name: str, size: int) -> str:
    """The rightmost whole labels of `name` within `size` bytes (its last bytes, when
    even its last label is longer)."""
    raw = name.encode()
    if len(raw) <= size:
        return name
    cut = raw[-size:]
    dot = cut.find(b".")
    if 0 <= dot < len(cut) - 1:
        cut = cut[dot + 1 :]
    return cut.decode("utf-8", "ignore")


def build_reports(
    sessions: Iterable[Session],
    organization: str,
    contact: str,
    sending_ip: str | None = None,
    local: tzinfo | None = None,
) -> list[Report]:
    """The reports of `sessions` (a convenience over `ReportBuilder`)."""
    builder = ReportBuilder(local)
    for session in sessions:
        builder.add(session)
    return builder.reports(organization, contact, sending_ip)


def write_reports(reports: Sequence[Report], out_dir: str) -> tuple[list[str], str | None]:
    """Write each report as `out_dir/<file name>`: (paths written, or one sentence why none).

    An existing file is never overwritten: when any report's file exists,
    nothing is written. The directory is made when missing. All or nothing: a
    report that cannot be written (a full disk, ^C, SIGTERM) takes the reports
    written before it, and the directories made, away again.
    """
    if not reports:
        return [], None
    paths = [os.path.join(out_dir, report.filename) for report in reports]
    for path in paths:
        if os.path.lexists(path):
            return [], f"{path} exists; tlsc never overwrites a report (move it away first)"
    made: list[str] = []
    at = os.path.normpath(out_dir)
    while not os.path.isdir(at):
        if os.path.lexists(at):
            where = "it" if at == os.path.normpath(out_dir) else at
            return [], f"cannot write to {out_dir}: {where} is not a directory"
        made.append(at)
        at = os.path.dirname(at) or "."
    written: list[str] = []
    with signals_as_exceptions():
        try:
            for directory in reversed(made):
                os.mkdir(directory)
            for report, path in zip(reports, paths, strict=True):
                with open(path, "xb") as stream:
                    written.append(path)  # made by this open: ours to take away
                    stream.write(report.gzip_bytes())
        except BaseException as exc:
            for path in written:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            for directory in made:
                with contextlib.suppress(OSError):
                    os.rmdir(directory)
            if isinstance(exc, FileExistsError):
                return [], f"{exc.filename} exists; tlsc never overwrites a report"
            if isinstance(exc, OSError):
                return [], f"cannot write to {out_dir}: {exc.strerror or exc}; nothing was written"
            raise
    return written, None
