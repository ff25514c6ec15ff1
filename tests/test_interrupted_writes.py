"""A write that fails or is stopped half-way changes nothing on disk.

The class: every command that writes files (`compile --out`, `plan --out`,
`logs --format tlsrpt --out-dir`, `import --out`, `lint --fix`) meets a full
disk (a small tmpfs in a mount namespace of its own), SIGTERM or ^C at the
moment it writes. Each must leave the tree as it was, with no temporary file,
no partial output and no directory it made; a failure is one sentence and
exit 1, never a traceback; a signal ends the process as the signal does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, cli_env
from realtools import can_mount_tmpfs

SPEC = ROOT / "examples" / "canit-cluster.yaml"
SANDBOX = ROOT / "examples" / "sandbox"
IMPORT = ROOT / "examples" / "import"
LOG = ROOT / "tests" / "fixtures" / "tlsrpt-mail.log"
BAD_MC = (
    "divert(-1)dnl\ninclude(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
    "define(\u2018confCLIENT_CERT\u2019, `/x')dnl\nOSTYPE(`debian')dnl\n"
)

#: name -> (argv after `tlsc`, with {d} the directory written in; where the signal
#: fires as the command writes: (module[:class], function, at its nth call))
WRITERS = {
    "compile": (["compile", str(SPEC), "--out", "{d}/out/tree"], ("os", "replace", 1)),
    "plan": (["plan", str(SPEC), "--state", str(SANDBOX), "--out", "{d}/plan.json"],
             ("os", "replace", 1)),
    "tlsrpt": (["logs", str(LOG), "--format", "tlsrpt", "--org", "Example",
                "--contact", "tlsrpt@example.net", "--out-dir", "{d}/reports/new"],
               ("compiler.logs.tlsrpt:Report", "gzip_bytes", 2)),
    "import": (["import", str(IMPORT), "--host", "mx1", "--out", "{d}/imported.yaml"],
               ("os", "replace", 1)),
    "lint-fix": (["lint", "--fix", "{d}/bad.mc"], ("os", "replace", 1)),
}  # fmt: skip


def _prepare(directory: Path) -> None:
    (directory / "bad.mc").write_text(BAD_MC, encoding="utf-8")


def _tree(directory: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(directory)): p.read_bytes() if p.is_file() else None
        for p in sorted(directory.rglob("*"))
    }


# the disk is filled up to its last few blocks, then the command runs; find lists the tree
_FULL = r"""
set -e
d=$1; shift
mount -t tmpfs -o size=64k tmpfs "$d"
printf '%s' "$BAD_MC" > "$d/bad.mc"
mkdir "$d/reports"
dd if=/dev/zero of="$d/filler" bs=1k count=1000 2>/dev/null || true
find "$d" -printf '%P %s\n' | sort > "$d.before"
set +e
"$@" 2> "$d.err"
echo $? > "$d.rc"
find "$d" -printf '%P %s\n' | sort > "$d.after"
"""


@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs root and unshare -m to mount a tmpfs")
@pytest.mark.parametrize("writer", WRITERS)
def test_a_full_disk_changes_nothing(writer: str, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    args = [a.format(d=disk) for a in WRITERS[writer][0]]
    env = {**cli_env(), "BAD_MC": BAD_MC}
    subprocess.run(
        ["unshare", "-m", "sh", "-c", _FULL, "sh", str(disk), sys.executable, "-m", "compiler",
         *args],
        env=env, check=True, timeout=120,
    )  # fmt: skip
    err = (tmp_path / "disk.err").read_text()
    assert (tmp_path / "disk.rc").read_text().strip() == "1", err
    assert "Traceback" not in err
    assert "No space left on device" in err, err
    before = (tmp_path / "disk.before").read_text()
    assert (tmp_path / "disk.after").read_text() == before


_SIGNAL_AT = """
import importlib, os, runpy, sys
sig, module, attr, nth = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
del sys.argv[1:5]
name, _, cls = module.partition(":")
owner = importlib.import_module(name)
owner = getattr(owner, cls) if cls else owner
real = getattr(owner, attr)
calls = []
def hook(*args, **kwargs):
    calls.append(1)
    if len(calls) == nth:
        os.kill(os.getpid(), sig)
    return real(*args, **kwargs)
setattr(owner, attr, hook)
sys.argv[0] = "tlsc"
runpy.run_module("compiler", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("writer", WRITERS)
def test_a_signal_while_writing_changes_nothing(
    writer: str, sig: signal.Signals, tmp_path: Path
) -> None:
    _prepare(tmp_path)
    (tmp_path / "reports").mkdir()
    argv, (module, attr, nth) = WRITERS[writer]
    before = _tree(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", _SIGNAL_AT, str(int(sig)), module, attr, str(nth),
         *(a.format(d=tmp_path) for a in argv)],
        capture_output=True, text=True, env=cli_env(), timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    if sig == signal.SIGTERM:
        assert proc.returncode == -signal.SIGTERM, proc.stderr
    else:
        assert proc.returncode == 1 and proc.stderr.splitlines()[-1] == "Aborted!", proc.stderr
    assert _tree(tmp_path) == before
