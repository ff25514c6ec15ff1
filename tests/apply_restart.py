"""The test daemon's `commands.restart`: SIGHUP it and wait until it listens again.

    python3 apply_restart.py WORK PORT

Like an init script's restart it returns only once sendmail is back (a new
listening socket on PORT), or exits 1. Each run appends a line to
WORK/restarts.log, so a test can count restarts. If WORK/fail-next-restart
exists, it is removed and the restart fails without touching the daemon (a
test's failure injection: the rollback's restart then works).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from netinfo import listening_inodes


def main() -> int:
    work, port = Path(sys.argv[1]), int(sys.argv[2])
    with (work / "restarts.log").open("a", encoding="utf-8") as log:
        log.write(f"{time.time():.6f} cwd={os.getcwd()}\n")
    flag = work / "fail-next-restart"
    if flag.exists():
        flag.unlink()
        print("restart refused by the test's fail-next-restart flag", file=sys.stderr)
        return 1
    pid = int((work / "sendmail.pid").read_text(encoding="ascii").split()[0])
    old = listening_inodes(port)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if listening_inodes(port) - old:
            return 0
        time.sleep(0.01)
    print(f"sendmail did not listen on {port} again within 10 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
