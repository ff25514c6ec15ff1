"""tlsc apply on a full disk: a small tmpfs, in a mount namespace of its own, holds the
root, filled up to a few pages before the apply that changes every file.

Wherever the disk runs out (the backup, a file's temp copy, m4's sendmail.cf,
makemap's access.db, the journal), apply fails with one sentence, and every file,
sendmail.cf and access.db included, is byte for byte what it was, with its mode;
no temp file is left and the lock is free. Once space is freed the same apply
succeeds and `tlsc plan` has nothing left to do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from apply_helpers import scratch_root
from conftest import cli_env
from realtools import can_mount_tmpfs

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: full
defaults:
  commands: {{restart: "echo restart >> restarts.log"}}
  mc:
    defines: {{confTO_IDENT: "{ident}"}}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
domains:
{domains}
access:
  - Connect:127 RELAY
"""

#: runs inside `unshare -m`: mounts the tmpfs, applies the old spec, fills the disk to
#: its last FREE pages, applies the new one, frees the disk, applies again, plans
DRIVER = r"""
import fcntl, json, os, subprocess, sys
root, old, new, out, free = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", root], check=True)
tlsc = [sys.executable, "-m", "compiler"]
def apply(spec):
    p = subprocess.run([*tlsc, "apply", spec, "--root", root, "--host", "h1", "--yes",
                        "--no-verify", "--skip-preflight", "--format", "json"],
                       capture_output=True, text=True)
    return {"rc": p.returncode, "err": p.stderr, **json.loads(p.stdout or "{}")}
def tree():
    got = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if rel.startswith("var/backups/") or rel in ("filler", "restarts.log"):
                continue
            st = os.lstat(p)
            with open(p, "rb") as f:
                got[rel] = [f.read().hex(), st.st_mode, st.st_uid, st.st_gid]
    return got
def lock_free():
    with open(os.path.join(root, "run/tlsc-apply.lock"), "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    return True
res = {"first": apply(old)}
res["before"] = tree()
filler = os.path.join(root, "filler")
fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
try:
    while True:
        os.write(fd, b"\0" * 4096)
except OSError:
    pass
os.close(fd)
os.truncate(filler, os.path.getsize(filler) - free * 4096)
res["full"] = apply(new)
res["after"] = tree()
res["lock_free"] = lock_free()
os.unlink(filler)
res["again"] = apply(new)
res["final"] = tree()
p = subprocess.run([*tlsc, "plan", new, "--root", root, "--host", "h1", "--detailed-exitcode"],
                   capture_output=True, text=True)
res["plan"] = [p.returncode, p.stdout[-2000:], p.stderr]
with open(out, "w") as f:
    json.dump(res, f)
"""


def _spec(path: Path, n: int) -> Path:
    domains = "".join(f"  full{i}.example.org: {{outbound: encrypt}}\n" for i in range(n))
    path.write_text(SPEC.format(ident=f"{n}s", domains=domains), encoding="utf-8")
    return path


def _run(free: int) -> dict[str, object]:
    with scratch_root("apply-full") as root:
        old = _spec(root.parent / f"{root.name}-old.yaml", 1)
        # many more rules: the new access file and access.db are bigger than the old
        new = _spec(root.parent / f"{root.name}-new.yaml", 400)
        out = root.parent / f"{root.name}-result.json"
        subprocess.run(
            ["unshare", "-m", sys.executable, "-c", DRIVER, str(root), str(old), str(new),
             str(out), str(free)],
            env=cli_env(), check=True, timeout=300, cwd=root.parent,
        )  # fmt: skip
        return json.loads(out.read_text())  # type: ignore[no-any-return]


#: pages left free: from none (the backup fails) to enough for the sources but not
#: for both builds
FREE = [0, 2, 20, 24, 32]


@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs root and unshare -m to mount a tmpfs")
@pytest.mark.parametrize("free", FREE)
def test_a_full_disk_puts_every_file_back(free: int) -> None:
    res = _run(free)
    first, full, again = res["first"], res["full"], res["again"]
    assert first["rc"] == 0, first  # type: ignore[index]
    assert "Traceback" not in full["err"], full["err"]  # type: ignore[index]
    assert full["rc"] == 1, full  # type: ignore[index]
    message = full["message"]  # type: ignore[index]
    assert "No space left on device" in message, message
    assert full["result"] in ("rolled-back", "failed"), message  # type: ignore[index]
    if full["result"] == "failed":  # type: ignore[index]
        assert message.endswith("nothing was changed"), message
        assert "/proc/self/fd" not in message, message
    # every file, sendmail.cf and access.db too, byte for byte as it was; no temp file
    assert res["after"] == res["before"], message
    assert res["lock_free"]
    assert again["rc"] == 0 and again["result"] == "applied", again  # type: ignore[index]
    assert res["plan"][0] == 0, res["plan"]  # type: ignore[index]
