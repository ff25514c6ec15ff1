"""scripts/fetch-sendmail-818: once fetched it does nothing; a fetch that fails says what to do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from realtools import FETCH_818, sendmail_818, sendmail_818_dir, system_sendmail_version
from sendmail_fixture import free_port

#: a mirror nobody answers at: any download the script tried would fail
CLOSED = f"http://127.0.0.1:{free_port()}/debian"


def run_fetch(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TLSC_SENDMAIL_818_DIR": str(cache), "TLSC_DEBIAN_MIRROR": CLOSED}
    return subprocess.run(
        ["sh", str(FETCH_818)], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def system_is_818() -> bool:
    return (system_sendmail_version() or "").startswith("8.18.1-")


def test_second_run_does_nothing_and_needs_no_network() -> None:
    release = sendmail_818()  # fetched by make sysdeps
    cache = sendmail_818_dir()
    before = (cache / "stamp").stat().st_mtime_ns if (cache / "stamp").exists() else None
    done = run_fetch(cache)
    assert done.returncode == 0, done.stderr
    if system_is_818():
        assert "this machine's sendmail-bin is 8.18.1" in done.stderr or done.stderr == ""
    else:
        assert done.stderr == "" and done.stdout == ""
        assert (cache / "stamp").stat().st_mtime_ns == before
        assert release.sendmail.is_file()


def test_failed_fetch_says_what_to_do(tmp_path: Path) -> None:
    cache = tmp_path / "c"
    done = run_fetch(cache)
    if system_is_818():
        assert done.returncode == 0 and "the 8.18.1 tests use it" in done.stderr
        return
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == f"fetch-sendmail-818: fetching sendmail 8.18.1-6~bpo12+1 into {cache}"
    assert lines[1] == (f"fetch-sendmail-818: apt-get update failed (see {cache}/apt/update.log)")
    assert "Rerun scripts/fetch-sendmail-818" in done.stderr
    assert "TLSC_SENDMAIL_818_DIR" in done.stderr
    assert "127.0.0.1" in (cache / "apt" / "update.log").read_text(encoding="utf-8")
    assert not (cache / "stamp").exists() and not (cache / "root").exists()
