"""A source dated in the future (a clock stepped back, files copied from a host whose
clock ran ahead) is not a build owed for ever: apply rebuilds once, dating the built
file no older than its sources, and the next apply and plan have nothing to do. And
a temp file an interrupted apply left that is in the way is named as it is."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from realtools import scratch_dir

pytestmark = pytest.mark.realtools

SPEC = ROOT / "examples" / "canit-cluster.yaml"
FLAGS = ("--host", "colo10", "--yes", "--no-restart", "--no-verify", "--skip-preflight")


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_dir("future") as path:
        shutil.copytree(ROOT / "examples" / "sandbox" / "colo10", path, dirs_exist_ok=True)
        yield path


def test_a_source_from_the_future_is_built_once(root: Path) -> None:
    rc, out, err = run_cli("apply", SPEC, "--root", root, *FLAGS)
    assert rc == 0, out + err
    mail = root / "etc" / "mail"
    future = time.time() + 3 * 365 * 86400
    for name in ("sendmail.mc", "access"):
        os.utime(mail / name, (future, future))
    rc, out, err = run_cli("apply", SPEC, "--root", root, *FLAGS)
    assert rc == 0 and "rebuilt sendmail.cf and access.db" in out, out + err
    for built, source in (("sendmail.cf", "sendmail.mc"), ("access.db", "access")):
        assert (mail / built).stat().st_mtime >= (mail / source).stat().st_mtime
    rc, out, err = run_cli("apply", SPEC, "--root", root, *FLAGS)
    assert rc == 0 and "already matches" in out, out + err
    rc, out, err = run_cli("plan", SPEC, "--root", root, "--host", "colo10", "--detailed-exitcode")
    assert rc == 0, out + err


@pytest.mark.parametrize("name", [".access.tlsc-new", ".access.db.tlsc-new.db"])
def test_a_leftover_temp_in_the_way_is_named_as_it_is(root: Path, name: str) -> None:
    """A temp name an interrupted apply (or its makemap, whose name ends in .db) left,
    that cannot be removed (a directory there): the sentence names that very path."""
    blocker = root / "etc" / "mail" / name
    blocker.mkdir()
    (blocker / "x").write_bytes(b"")
    rc, out, err = run_cli("apply", SPEC, "--root", root, *FLAGS)
    assert rc == 1, out + err
    assert f"cannot remove the temp file {blocker} an interrupted apply left" in err, err


def test_an_old_empty_m4_scratch_directory_is_cleared(root: Path, tmp_path: Path) -> None:
    """m4's private TMPDIR of a build whose apply was killed (-9) while m4 ran: the
    next build clears it when it is an hour old and empty; a fresh one, or one that
    holds something, stays."""
    import tempfile

    base = tmp_path / "tmp"
    base.mkdir()
    old, fresh, full = base / "tlsc-m4-old", base / "tlsc-m4-fresh", base / "tlsc-m4-full"
    for d in (old, fresh, full):
        d.mkdir()
    (full / "x").write_bytes(b"")
    hour_ago = time.time() - 7200
    for d in (old, full):
        os.utime(d, (hour_ago, hour_ago))
    env_tmp = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(base)
    tempfile.tempdir = None
    try:
        rc, out, err = run_cli("apply", SPEC, "--root", root, *FLAGS)
    finally:
        if env_tmp is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = env_tmp
        tempfile.tempdir = None
    assert rc == 0, out + err
    assert sorted(p.name for p in base.iterdir()) == ["tlsc-m4-fresh", "tlsc-m4-full"]
