"""What sendmail itself logged about STARTTLS since a point in the mail log.

When verify fails right after a restart, the new daemon has usually said why
in its own words (`STARTTLS=server, error: ...`, `SSL_CTX_check_private_key
failed`, `TLS: file ... unsafe`). apply remembers where the mail log ended
before the restart and, on failure, quotes the TLS lines sendmail wrote after
that point. The log is `--mail-log FILE`, else the first of Debian's and Red
Hat's usual files that exists; with none, nothing is quoted.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

#: where syslog puts sendmail's lines on Debian (rsyslog) and Red Hat
DEFAULT_LOGS = (Path("/var/log/mail.log"), Path("/var/log/maillog"))
#: read at most this much of what was appended since the mark
MAX_READ = 1 << 20
MAX_QUOTED = 5
MAX_LINE = 300
#: a syslog line of a process (`ident[pid]: `) about TLS, in sendmail's own words
_TLS_LINE = re.compile(r"\[\d+\]: .*\b(STARTTLS|TLS|SSL\w*|X509|DontBlameSendmail)\b")


def find_log(named: str | None) -> Path | None:
    """The mail log to read: the one named, else the first usual one that exists."""
    if named is not None:
        return Path(named)
    return next((p for p in DEFAULT_LOGS if p.is_file()), None)


def mark(log: Path | None) -> int | None:
    """Where the log ends now (None: no log to read)."""
    if log is None:
        return None
    try:
        return log.stat().st_size
    except OSError:
        return 0  # not there yet: whatever appears is new


def tls_lines_since(log: Path | None, offset: int | None) -> list[str]:
    """sendmail's TLS lines written to `log` after `offset` (the last few, cut to a line)."""
    if log is None or offset is None:
        return []
    try:
        fd = os.open(log, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        if not _regular(fd):
            return []
        size = os.fstat(fd).st_size
        start = offset if offset <= size else 0  # rotated meanwhile: read the new file
        os.lseek(fd, max(start, size - MAX_READ), os.SEEK_SET)
        data = os.read(fd, MAX_READ)
    finally:
        os.close(fd)
    lines = data.decode("utf-8", "replace").splitlines()
    found = [line.strip() for line in lines if _TLS_LINE.search(line)]
    return [_cut(line) for line in found[-MAX_QUOTED:]]


def _regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
