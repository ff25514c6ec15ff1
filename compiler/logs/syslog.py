"""The syslog prefix of a line: time, host, program, pid and the message.

Forms understood (each with or without a leading `<PRI>`):

* classic RFC 3164, as rsyslog's default file format and journald's `short`:
  `Nov 28 10:00:01 mta1 sm-mta[123]: msg` (host optional, as a raw socket
  message has none);
* ISO 8601, as rsyslog's high-precision format and journald's `short-iso` /
  `short-iso-precise`: `2026-11-28T10:00:01.123456+00:00 mta1 sendmail[123]: msg`;
* RFC 5424 on the wire: `<22>1 2026-11-28T10:00:01Z mta1 sm-mta 123 - - msg` (`-` for
  a time: none), the message
  maybe after its UTF-8 BOM (RFC 5424 6.4) or after two blanks, as rsyslog's
  RSYSLOG_SyslogProtocol23Format writes a local program's message (it keeps the blank
  after the `tag[pid]:`);
* FreeBSD's `syslogd -v` (`-vv`: names), the facility and level between the time
  and the host: `Nov 28 10:00:01 <2.6> mta1 sm-mta[123]: msg` (`<mail.info>`);
* BusyBox's syslogd, the facility and level after the host:
  `Nov 28 10:00:01 mta1 mail.info sm-mta[123]: msg` (`<22>` for a level it has no
  name for; with `-S`, no host and no level);
* Solaris and illumos, whose syslogd puts a message id and the facility after
  the tag: `Nov 28 10:00:01 mta1 sendmail[123]: [ID 702911 mail.notice] msg`;
* journalctl's other one-line outputs: `-o short-full` (and `with-unit`),
  `Mon 2026-11-30 10:00:00 CET mta1 sm-mta[123]: msg`, local time as logged (the
  zone's abbreviation is dropped: it names no offset); `-o short-unix`,
  `1796029200.000000 mta1 sm-mta[123]: msg`, seconds since the epoch, in UTC;
  `-o short-monotonic`, `[   98.765432] mta1 sm-mta[123]: msg`, seconds since boot,
  no time of day (time None); `-o json` (and `json-seq`), one entry's fields a line:
  MESSAGE, _HOSTNAME, SYSLOG_IDENTIFIER, SYSLOG_PID (or _PID) and
  __REALTIME_TIMESTAMP (microseconds since the epoch: UTC); a message journald keeps
  as bytes (not UTF-8: a list of numbers) holds no `STARTTLS` to find and is not read;
* macOS's repeat line, `Nov 28 10:00:01: --- last message repeated 1 time ---` (older
  releases put a colon after the time).

`time` is ISO 8601. ISO stamps are kept as logged (a `+0000` offset becomes
`+00:00`); a classic stamp has no year and no zone, so it becomes local
`YYYY-MM-DDTHH:MM:SS` with the year of a reference date (the file's
modification time): a day more than one day after the reference date belongs
to the year before (a December line in a log rotated in January; a `Dec 20`
line in a file last written on December 3). The one day of grace is for a host
that stamps in another time zone than the reader's. `--year` is the year of each
file's first classic stamp, and a day more than one day before that one's is in
the year after (a log from Dec 28 to Jan 3): see YearGuess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTH_NUMBER = {name: n for n, name in enumerate(_MONTHS, 1)}

_CLASSIC = re.compile(
    r"(?:<\d{1,3}>)?(?P<mon>" + "|".join(_MONTHS) + r") (?P<day>[ \d]?\d) "
    r"(?P<hms>\d\d:\d\d:\d\d)(?:\.\d+)?(?::(?= --- last message repeated ))? +"
    r"(?:<\w+\.\w+> +)?"
)
_ISO = re.compile(
    r"(?:<\d{1,3}>)?(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?)"
    r"(?P<zone>Z|[+-]\d\d:?\d\d)? +"
)
_RFC5424 = re.compile(
    r"<\d{1,3}>1 (?:(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(?P<zone>Z|[+-]\d\d:\d\d)?|-) "
    r"(?P<host>\S+) (?P<tag>\S+) (?P<pid>\S+) \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+)"
    r" *\ufeff?(?P<msg>.*)",
    re.DOTALL,
)
#: journalctl -o short-full / with-unit: weekday, date, time, the zone's abbreviation
_FULL = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<date>\d{4}-\d\d-\d\d) (?P<hms>\d\d:\d\d:\d\d)"
    r"(?:\.\d+)? [^\s\[\]:]+ +"
)
#: journalctl -o short-unix (epoch seconds) and short-monotonic (seconds since boot)
_UNIX = re.compile(r"(?P<epoch>\d{1,11})\.(?P<usec>\d{6}) +")
_MONOTONIC = re.compile(r"\[ *\d+\.\d+\] +")
#: the facility.priority BusyBox's syslogd writes after the host (`mail.info`, or `<PRI>`
#: for one it has no names for): syslogd.c `"%s %.64s %s %s\n", timestamp, hostname, res, msg`
_BUSYBOX_PRI = (
    r"(?:(?:auth|authpriv|cron|daemon|ftp|kern|lpr|mail|mark|news|security|syslog|user|uucp"
    r"|local[0-7])\.(?:alert|crit|debug|emerg|err|error|info|none|notice|panic|warn|warning)"
    r"|<\d{1,3}>) +"
)
#: after the time: an optional host (no brackets, not ending in ':'), then TAG[PID]: or TAG:
_REST = re.compile(
    r"(?:(?P<host>[^\s\[\]]*[^\s\[\]:]) +(?:" + _BUSYBOX_PRI + r")?)?"
    r"(?P<tag>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)",
    re.DOTALL,
)
#: Solaris and illumos syslogd: `[ID 702911 mail.notice] ` after the tag
_SOLARIS_ID = re.compile(r"\[ID \d+ [^\s\]]+\] ?")
#: the start of a line _CLASSIC may date (its month is ASCII; its digits may be any)
_MAYBE_CLASSIC = re.compile(rb"(?:<[^>\n]{1,12}>)?(?:" + "|".join(_MONTHS).encode() + rb") ")
#: the same after a newline (a literal first: searched at C speed)
_MAYBE_CLASSIC_LINE = re.compile(b"\n" + _MAYBE_CLASSIC.pattern)


@dataclass(frozen=True, slots=True)
class SyslogLine:
    """A split syslog line; `time`, `host`, `tag` and `pid` are None when the line has none."""

    time: str | None
    host: str | None
    tag: str | None
    pid: str | None
    message: str


class YearGuess:
    """The year of classic (year-less) stamps, relative to a reference date.

    A log is written before it is read: a month and day more than GRACE
    after the reference date were logged the year before (the latest year in
    which the day exists and is not after the reference date plus GRACE: a
    `Feb 29` goes back to a leap year).

    A `fixed` year (`--year`) is the year of the file's first classic stamp
    (`start`, the readers set it): a log is written in order, so a day more than
    GRACE before that one's, in the calendar, is in the year after (a log from
    Dec 28 to Jan 3 goes on into the new year). Each file has its own (files may
    come in any order: `mail.log*` is the newest first). Without a start, every
    stamp is in the fixed year.
    """

    #: a stamp up to this far after the reference is this year (another time zone's clock)
    GRACE = timedelta(days=1)

    def __init__(self, reference: date, fixed: int | None = None) -> None:
        self.reference = reference
        self.fixed = fixed
        #: (month, day) of the first classic stamp, for a fixed year
        self.start: tuple[str, int] | None = None
        self._by_day: dict[tuple[str, int], int] = {}

    def year(self, month: str, day: int) -> int:
        """The year of a line logged on `day` (1..31) of `month` (Jan..Dec)."""
        year = self._by_day.get((month, day))
        if year is None:
            year = self._guess(month, day) if self.fixed is None else self._after_start(month, day)
            self._by_day[(month, day)] = year
        return year

    def note_start(self, line: bytes) -> None:
        """With a fixed year and no start yet: `line`'s classic stamp, if it has one, is it."""
        if self.fixed is not None and self.start is None and _MAYBE_CLASSIC.match(line):
            self.start = _classic_day(line)

    def _after_start(self, month: str, day: int) -> int:
        assert self.fixed is not None
        if self.start is None:
            return self.fixed
        try:  # in a leap year, where every day there is exists
            when = date(2000, _MONTH_NUMBER[month], day)
            start = date(2000, _MONTH_NUMBER[self.start[0]], self.start[1])
        except ValueError:  # no such day (Feb 30): as logged, the fixed year
            return self.fixed
        return self.fixed + 1 if when < start - self.GRACE else self.fixed

    def _guess(self, month: str, day: int) -> int:
        latest = min(self.reference, date.max - self.GRACE) + self.GRACE
        number = _MONTH_NUMBER[month]
        for year in range(latest.year, latest.year - 9, -1):
            try:
                when = date(year, number, day)
            except ValueError:  # Feb 29 of a common year, or a day the month lacks
                continue
            if when <= latest:
                return year
        return self.reference.year  # no such day in any year (Feb 30): as logged, this year


def _classic_day(line: bytes) -> tuple[str, int] | None:
    """(month, day) of `line`'s classic stamp, as split_syslog reads it, or None."""
    m = _CLASSIC.match(line.decode("utf-8", "replace"))
    return None if m is None else (m["mon"], int(m["day"]))


def first_classic(block: bytes, limit: int) -> tuple[str, int] | None:
    """(month, day) of the first line of `block` (whole lines) of at most `limit` bytes
    with a classic stamp: what YearGuess.note_start takes from the lines one by one."""
    pos = 0
    while True:
        if pos == 0 and _MAYBE_CLASSIC.match(block):
            start = 0
        else:
            m = _MAYBE_CLASSIC_LINE.search(block, max(pos - 1, 0))
            if m is None:
                return None
            start = m.start() + 1
        end = block.find(b"\n", start)
        end = len(block) if end < 0 else end
        line = block[start : end - 1 if block[end - 1 : end] == b"\r" else end]
        if end - start <= limit and (day := _classic_day(line)) is not None:
            return day
        pos = end + 1


def _zone(zone: str | None) -> str:
    if not zone or zone == "Z" or ":" in zone:
        return zone or ""
    return f"{zone[:3]}:{zone[3:]}"


def _journal_json(line: str) -> SyslogLine | None:
    """An entry of `journalctl -o json`, or None when `line` is not one."""
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return None
    if not isinstance(entry, dict):
        return None
    message = entry.get("MESSAGE")
    if not isinstance(message, str):  # a message not UTF-8 is a list of its bytes: not read
        return None
    fields = {k: v for k, v in entry.items() if isinstance(v, str)}
    when = None
    usec = fields.get("__REALTIME_TIMESTAMP", "")
    if usec.isascii() and usec.isdigit() and len(usec) <= 17:
        seconds, micro = divmod(int(usec), 1_000_000)
        when = f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{micro:06d}+00:00"
    pid = fields.get("SYSLOG_PID") or fields.get("_PID")
    return SyslogLine(when, fields.get("_HOSTNAME"), fields.get("SYSLOG_IDENTIFIER"), pid, message)


def _real(when: str) -> str | None:
    """`when` when a calendar and a clock have it, else None: `Nov 31`, `Feb 29` of a
    year that has none (a wrong --year), `25:61:61` are no time (the record says so)."""
    try:
        datetime.fromisoformat(when)
    except ValueError:
        return None
    return when


def split_syslog(line: str, years: YearGuess) -> SyslogLine | None:
    """Split `line` (no newline) into its syslog parts; None when no known prefix starts it."""
    if line[:1] in ("{", "\x1e"):
        return _journal_json(line.lstrip("\x1e"))
    if line.startswith("<") and (m5 := _RFC5424.match(line)):
        pid = m5["pid"]
        return SyslogLine(
            m5["iso"] + _zone(m5["zone"]) if m5["iso"] else None,
            None if m5["host"] == "-" else m5["host"],
            None if m5["tag"] == "-" else m5["tag"],
            None if pid == "-" else pid,
            m5["msg"],
        )
    when: str | None
    m = _CLASSIC.match(line)
    if m is not None:
        mon, day = m["mon"], int(m["day"])
        when = f"{years.year(mon, day):04d}-{_MONTH_NUMBER[mon]:02d}-{day:02d}T{m['hms']}"
        when = _real(when)
    elif (m := _ISO.match(line)) is not None:
        when = _real(m["iso"].replace(" ", "T", 1).replace(",", ".") + _zone(m["zone"]))
    elif (m := _FULL.match(line)) is not None:
        when = _real(f"{m['date']}T{m['hms']}")
    elif (m := _UNIX.match(line)) is not None:
        stamp = datetime.fromtimestamp(int(m["epoch"]), UTC)
        when = f"{stamp:%Y-%m-%dT%H:%M:%S}.{m['usec']}+00:00"
    elif (m := _MONOTONIC.match(line)) is not None:
        when = None
    else:
        return None
    rest = _REST.match(line, m.end())
    if rest is None:
        return SyslogLine(when, None, None, None, line[m.end() :])
    msg = rest["msg"]
    if msg.startswith("[ID ") and (solaris := _SOLARIS_ID.match(msg)):
        msg = msg[solaris.end() :]
    return SyslogLine(when, rest["host"], rest["tag"], rest["pid"], msg)
