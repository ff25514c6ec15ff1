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
from realtools import scratch_dir

from compiler.apply.atomic import write_atomic
from compiler.fileio import MAX_INPUT_BYTES

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: hostile
defaults:
  commands: {{restart: "echo restart >> restarts.log", after: "{after}"}}
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


def spec(root: Path, which: str, after: str = "true") -> Path:
    """The old spec, or the new one: it changes all three managed files (`after`: its
    commands.after)."""
    path = root.parent / f"{root.name}-{which}.yaml"
    ident, level = ("5s", "encrypt") if which == "old" else ("7s", "verify")
    path.write_text(SPEC.format(ident=ident, level=level, after=after), encoding="utf-8")
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


def apply_new(root: Path, after: str = "true") -> tuple[int, dict[str, object], str]:
    """Apply the new spec, in a subprocess with a timeout (a FIFO must not hang it)."""
    proc = subprocess.run(
        [
            *cli_command("apply", spec(root, "new", after), "--root", root, "--host", "h1"),
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


# -- what a file keeps beyond its bytes ------------------------------------------------

ACL = "system.posix_acl_access"


def acl(owner: int, group: int, other: int, users: dict[int, int], mask: int) -> bytes:
    """A POSIX ACL as the kernel stores it (acl_ea.h: version 2, then (tag, perm, id)
    entries, sorted by tag and id), so the test needs no setfacl."""
    undefined = 0xFFFFFFFF
    entries = [(0x01, owner, undefined)]
    entries += [(0x02, perm, uid) for uid, perm in sorted(users.items())]
    entries += [(0x04, group, undefined), (0x10, mask, undefined), (0x20, other, undefined)]
    return (2).to_bytes(4, "little") + b"".join(
        t.to_bytes(2, "little") + p.to_bytes(2, "little") + i.to_bytes(4, "little")
        for t, p, i in entries
    )


#: an ACL giving uid 4242 read access to a file whose owning group has none: `stat` shows
#: the mask (r) as the group bits, so a copy of the mode alone makes the file group-readable
SECRET_ACL = acl(6, 0, 0, {4242: 4}, 4)


def metadata(path: Path) -> tuple[int, dict[str, bytes]]:
    """The mode and the extended attributes (the security namespace aside) of `path`."""
    names = [n for n in os.listxattr(path) if not n.startswith("security.")]
    return stat.S_IMODE(path.stat().st_mode), {n: os.getxattr(path, n) for n in names}


def mark(path: Path) -> None:
    """What an admin may give a file: an ACL for one more reader, a tag of their own."""
    path.chmod(0o600)
    try:
        os.setxattr(path, ACL, SECRET_ACL)
        os.setxattr(path, "user.admin-note", b"reviewed")
    except OSError as exc:  # pragma: no cover - CI's and this machine's file systems have them
        pytest.fail(f"the scratch file system keeps no ACL or user attribute: {exc}")
    assert metadata(path) == (0o640, {ACL: SECRET_ACL, "user.admin-note": b"reviewed"})


@pytest.mark.parametrize("where", [*MANAGED, *BUILT])
def test_a_replaced_file_keeps_its_acl_and_attributes(root: Path, where: str) -> None:
    target = root / where
    mark(target)
    before = metadata(target)
    data = target.read_bytes()
    rc, report, err = apply_new(root)
    assert rc == 0 and report["result"] == "applied", (report, err)
    assert target.read_bytes() != data or where == "etc/mail/sendmail.cf"
    # the ACL's mask stays a mask: the owning group gets no read access it did not have
    assert metadata(target) == before


@pytest.mark.parametrize("where", [*MANAGED, *BUILT])
def test_a_rollback_gives_a_file_back_its_acl_and_attributes(root: Path, where: str) -> None:
    target = root / where
    mark(target)
    before = (target.read_bytes(), metadata(target))
    rc, report, err = apply_new(root, after="exit 3")  # a failing commands.after
    assert rc == 1 and report["result"] == "rolled-back", (report, err)
    assert (target.read_bytes(), metadata(target)) == before


DEFAULT_ACL = "system.posix_acl_default"


@pytest.mark.parametrize("had_acl", [False, True], ids=["without", "with"])
def test_a_directorys_default_acl_never_replaces_the_files_own(had_acl: bool) -> None:
    # a new file in a directory with a default ACL gets that ACL; the temp file that
    # replaces an existing one is a new file too, yet must end as the old one was
    inherited = acl(7, 5, 0, {4343: 7}, 7)
    with scratch_dir("apply-acl") as directory:
        target = directory / "access"
        target.write_bytes(b"old\n")
        target.chmod(0o640)
        os.setxattr(directory, DEFAULT_ACL, inherited)
        if had_acl:
            mark(target)
        before = metadata(target)
        write_atomic(target, b"new\n", 0o640)
        assert metadata(target) == before
        fresh = directory / "fresh"
        write_atomic(fresh, b"new\n", 0o640)  # a file apply creates: the directory's say
        assert ACL in metadata(fresh)[1]


@pytest.mark.parametrize("where", ["etc/mail/tls", "var/backups/tlsc", "run"])
def test_a_file_where_a_directory_should_be_is_named_as_such(root: Path, where: str) -> None:
    # there before apply started: the sentence says what it is, not that it changed
    target = root / where
    subprocess.run(["rm", "-rf", str(target)], check=True)
    target.write_bytes(b"not a directory\n")
    before = tree(root)
    rc, report, err = apply_new(root)
    assert "Traceback" not in err, err
    assert rc == 1 and report["result"] == "refused", (report, err)
    assert report["message"] == (
        f"{target} is a file where a directory should be; nothing is written through it"
    )
    assert tree(root) == before
