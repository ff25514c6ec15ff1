"""A test hook that stops apply at a named point, so a test can kill it there.

    TLSC_APPLY_PAUSE_AT=write,build-cf   the points to stop at (step names, or
                                         `write.partial`, `build-access.built`)
    TLSC_APPLY_PAUSE_FILE=/path          written ("PID POINT") when stopped; apply
                                         goes on when the test deletes it
    TLSC_APPLY_PAUSE_SECONDS=60          and at the latest after this long

Without TLSC_APPLY_PAUSE_AT this does nothing (one dictionary lookup).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV_AT = "TLSC_APPLY_PAUSE_AT"
ENV_FILE = "TLSC_APPLY_PAUSE_FILE"
ENV_SECONDS = "TLSC_APPLY_PAUSE_SECONDS"


def pause_at(point: str) -> None:
    """Stop here if the environment asks to (see the module docstring)."""
    wanted = os.environ.get(ENV_AT)
    if not wanted or point not in wanted.split(","):
        return
    marker = os.environ.get(ENV_FILE)
    seconds = float(os.environ.get(ENV_SECONDS, "60"))
    deadline = time.monotonic() + seconds
    if marker:
        path = Path(marker)
        temp = path.with_name(path.name + ".part")
        temp.write_text(f"{os.getpid()} {point}\n", encoding="utf-8")
        os.replace(temp, path)
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    else:
        time.sleep(seconds)
