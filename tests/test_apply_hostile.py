"""tlsc apply against hostile host states: what sits where a managed or built file
should be, and what the file system keeps about a file beyond its bytes.

Each case is a real tree under a scratch root (real m4 and makemap), applied with
a spec that changes every managed file. Whatever apply meets, it either applies or
says in one sentence, naming the file as the admin knows it (never the
/proc/self/fd path apply writes through), exit 1, no traceback, every file as it
was; and what it replaces keeps what the admin gave it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apply_helpers import apply_json, scratch_root
from conftest import cli_command, cli_env

from compiler.fileio import MAX_INPUT_BYTES

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: hostile
defaults:
  commands: {{restart: "echo restart >> restarts.log"}}
  mc:
    defines: {{confTO_IDENT: "{ident}"}}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
domains:
  secure.example.com: {{outbound: {level}}}
access:
  - Connect:127 RELAY
"""

#: the files apply writes and builds, under the root
MANAGED = ("etc/mail/sendmail.mc", "etc/mail/tls/starttls.m4", "etc/mail/access")
BUILT = ("etc/mail/sendmail.cf", "etc/mail/access.db")


@pytest.fixture
def root() -> Iterator[Path]:
    """A root an apply of the old spec has made (every file there, access.db built)."""
    with scratch_root("apply-hostile") as path:
        rc, report, err = apply_json(spec(path, "old"), path, "--yes", "--no-verify")
        assert rc == 0, (report, err)
        yield path


def spec(root: Path, which: str) -> Path:
    """The old spec, or the new one: it changes all three managed files."""
    path = root.parent / f"{root.name}-{which}.yaml"
    ident, level = ("5s", "encrypt") if which == "old" else ("7s", "verify")
    path.write_text(SPEC.format(ident=ident, level=level), encoding="utf-8")
    return path


def tree(root: Path) -> dict[str, tuple[str, int, bytes | None]]:
    """Every entry under the root but the backups: (kind, mode, bytes of a small file)."""
    out = {}
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "backups"]
        for name in [*dirs, *names]:
            path = Path(directory, name)
            st = path.lstat()
            small = stat.S_ISREG(st.st_mode) and st.st_size < 1 << 20
            data = path.read_bytes() if small else None
            out[str(path.relative_to(root))] = (stat.filemode(st.st_mode), st.st_size, data)
    return out


def apply_new(root: Path) -> tuple[int, dict[str, object], str]:
    """Apply the new spec, in a subprocess with a timeout (a FIFO must not hang it)."""
    proc = subprocess.run(
        [
            *cli_command("apply", spec(root, "new"), "--root", root, "--host", "h1"),
            *("--yes", "--no-verify", "--skip-preflight", "--format", "json"),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout or "{}"), proc.stderr


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero's numbers


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "x").write_bytes(b"x")


def _enormous(path: Path) -> None:
    # sparse: takes no space, and reading it whole would take gigabytes of memory
    with path.open("wb") as f:
        f.truncate(8 << 30)


def _just_too_big(path: Path) -> None:
    with path.open("wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)


#: what is put where a file should be, and the words the sentence must hold
KINDS: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (_fifo, "is not a regular file"),
    "device": (_device, "is not a regular file"),
    "directory": (_directory, ""),
    "enormous": (_enormous, "larger than 64 MiB"),
    "just-too-big": (_just_too_big, "larger than 64 MiB"),
}


#: every kind where a managed file should be; where a built one should be, all but the
#: big ones (a built file is copied to the backup in chunks, never read whole)
CASES = [(where, kind) for where in MANAGED for kind in sorted(KINDS)] + [
    (where, kind) for where in BUILT for kind in ("device", "directory", "fifo")
]


@pytest.mark.parametrize(("where", "kind"), CASES)
def test_what_is_not_a_readable_file_is_one_sentence_naming_it(
    root: Path, where: str, kind: str
) -> None:
    make, words = KINDS[kind]
    target = root / where
    target.unlink()
    make(target)
    before = tree(root)
    rc, report, err = apply_new(root)
    assert "Traceback" not in err, err
    assert rc == 1, (report, err)
    message = str(report["message"])
    assert report["result"] in ("refused", "failed"), message
    assert "\n" not in message
    # the file as the admin knows it, never the descriptor path apply writes through
    assert str(target) in message, message
    assert "/proc/self/fd" not in message, message
    assert "/proc/self/fd" not in json.dumps(report["steps"]), report["steps"]
    assert words in message, message
    assert tree(root) == before


@pytest.mark.parametrize("where", MANAGED)
def test_plan_of_an_enormous_managed_file_is_one_sentence(root: Path, where: str) -> None:
    # `tlsc plan --root` reads the same files as apply's plan step, with the same cap
    target = root / where
    _enormous(target)
    proc = subprocess.run(
        cli_command("plan", spec(root, "new"), "--root", root, "--host", "h1"),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"cannot read {target}: it is larger than 64 MiB" in proc.stderr, proc.stderr
