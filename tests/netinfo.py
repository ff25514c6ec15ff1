"""Listening sockets, read from /proc without connecting (a connection would be a
client sendmail logs and greet_pause delays). No imports of tlsc: the test daemon's
restart script (apply_restart.py) runs it as a plain script.
"""

from __future__ import annotations

import contextlib


def listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port` (from /proc/net/tcp, no connection made)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    return inodes
