"""Inputs and outputs that are not regular files (issue 11, items 5 and 6).

A FIFO, a device or a directory where tlsc reads or writes a file is refused
in one sentence, exit 1, nothing changed: a read never blocks on a FIFO or
runs on forever through /dev/zero, and a write never renames a new file over
a device. Every command here runs in a subprocess with a timeout, so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_helpers import scratch_root
from conftest import cli_command, cli_env, run_cli
from import_helpers import tree

from compiler.fileio import (
    MAX_INPUT_BYTES,
    NotRegularFile,
    TooLarge,
    check_write_target,
    read_regular,
)
from compiler.lint.fix import write_atomic
from compiler.plan.saved import SavedPlanError, load_saved_plan

TIMEOUT = 60

SPEC = """\
version: 1
cluster: special
hosts:
  h1: {fqdn: h1.example.net, address: 127.0.0.1}
domains:
  secure.example.com: {outbound: encrypt}
"""


def tlsc(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
    proc = subprocess.run(
        cli_command(*args),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=TIMEOUT,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def null_device(directory: Path) -> Path:
    """A character device node with /dev/null's numbers, owned by the test."""
    path = directory / "null"
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    return path


def is_char_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")


# -- the helpers ----------------------------------------------------------------


def test_read_regular_refuses_a_fifo_without_blocking(fifo: Path) -> None:
    with pytest.raises(NotRegularFile) as caught:
        read_regular(fifo)
    assert caught.value.strerror == "it is a FIFO, not a regular file"


def test_read_regular_refuses_devices_and_directories(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFile, match="character device"):
        read_regular("/dev/zero")
    with pytest.raises(NotRegularFile, match="it is a directory"):
        read_regular(tmp_path)


def test_read_regular_stops_past_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 101)
    assert read_regular(path, 101) == b"x" * 101
    with pytest.raises(TooLarge) as caught:
        read_regular(path, 100)
    assert "larger than 100 bytes" in str(caught.value.strerror)
    assert "64 MiB" in str(TooLarge(path, MAX_INPUT_BYTES).strerror)


def test_write_target_may_be_absent_or_regular(tmp_path: Path, fifo: Path) -> None:
    check_write_target(tmp_path / "absent")
    (tmp_path / "file").write_text("x")
    check_write_target(tmp_path / "file")
    with pytest.raises(NotRegularFile, match="a FIFO, not a regular file; nothing was written"):
        check_write_target(fifo)


@needs_root
def test_write_atomic_leaves_a_device_a_device(tmp_path: Path) -> None:
    dev = null_device(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(dev)
    for target in (dev, link):
        with pytest.raises(NotRegularFile, match="character device"):
            write_atomic(str(target), b"data\n")
    assert is_char_device(dev) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "null"]  # no temporary left


def test_write_atomic_refuses_a_fifo_and_a_directory(tmp_path: Path, fifo: Path) -> None:
    for target in (fifo, tmp_path):
        with pytest.raises(NotRegularFile):
            write_atomic(str(target), b"data\n")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


# -- import --out ----------------------------------------------------------------


@needs_root
def test_import_out_onto_a_device_is_refused(tmp_path: Path) -> None:
    root = tree(tmp_path / "host")
    dev = null_device(tmp_path)
    rc, out, err = tlsc("import", root, "--host", "h1", "--out", dev, "--force")
    assert rc == 1, err
    assert f"cannot write {dev}: it is a character device, not a regular file" in err
    assert is_char_device(dev) and out == ""


# -- reads that would never end ----------------------------------------------------


@pytest.mark.parametrize("which", ["fifo", "zero"])
def test_lint_of_a_fifo_or_dev_zero_is_one_error(fifo: Path, which: str) -> None:
    target = str(fifo) if which == "fifo" else "/dev/zero"
    rc, _, err = tlsc("lint", target)
    assert rc == 1
    kind = "a FIFO" if which == "fifo" else "a character device"
    assert f"{target}:1:1: error: L000 {target}: it is {kind}, not a regular file" in err


def test_lint_of_a_directory_holding_a_fifo(tmp_path: Path) -> None:
    (tmp_path / "ok.mc").write_text("FEATURE(`access_db')dnl\n")
    os.mkfifo(tmp_path / "sendmail.mc")
    rc, _, err = tlsc("lint", tmp_path)
    assert rc == 1
    assert "sendmail.mc: it is a FIFO, not a regular file; it is not linted" in err


def test_lint_of_a_file_past_the_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.mc"
    with open(big, "wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk used
    rc, _, err = tlsc("lint", big)
    assert rc == 1
    assert "it is larger than 64 MiB, the most tlsc reads from such a file" in err


def test_lint_does_not_wait_on_a_fifo_sibling_access_file(tmp_path: Path) -> None:
    mc = tmp_path / "sendmail.mc"
    mc.write_text("FEATURE(`access_db')dnl\n")
    os.mkfifo(tmp_path / "access")
    rc, _, err = tlsc("lint", mc)
    assert rc in (0, 1), err  # it ends


@pytest.mark.parametrize(
    "which", ["/etc/mail/sendmail.mc", "/etc/mail/tls/starttls.m4", "/etc/mail/access"]
)
def test_import_with_a_fifo_in_the_tree_ends_with_one_sentence(tmp_path: Path, which: str) -> None:
    root = tree(tmp_path / "host", access="Connect:127\tRELAY\n")
    target = root / which.lstrip("/")
    target.unlink()
    os.mkfifo(target)
    rc, out, err = tlsc("import", root, "--host", "h1")
    assert rc == 1 and out == ""
    assert f"cannot read {target}: it is a FIFO, not a regular file" in err


@pytest.mark.parametrize("command", ["doctor", "verify"])
@pytest.mark.parametrize("kind", ["fifo", "fifo-yaml", "dev-zero", "link-loop"])
def test_doctor_and_verify_name_why_a_spec_cannot_be_read(
    tmp_path: Path, command: str, kind: str
) -> None:
    """Not `no such file` for a spec that is there but is no regular file."""
    reasons = {
        "fifo": "it is a FIFO, not a regular file",
        "fifo-yaml": "it is a FIFO, not a regular file",
        "dev-zero": "it is a character device, not a regular file",
        "link-loop": "too many levels of symbolic links",
    }
    spec = tmp_path / ("cluster.yaml" if kind != "fifo" else "cluster")
    if kind.startswith("fifo"):
        os.mkfifo(spec)
    elif kind == "dev-zero":
        spec.symlink_to("/dev/zero")
    else:
        spec.symlink_to("loop.yaml")
        (tmp_path / "loop.yaml").symlink_to("cluster.yaml")
    rc, out, err = tlsc(command, spec, "--host", "mx1")
    assert rc == 1 and out == ""
    assert err == f"tlsc {command}: cannot read {spec}: {reasons[kind]}\n"


def test_spec_that_is_a_fifo_is_refused(fifo: Path) -> None:
    rc, _, err = tlsc("validate", fifo)
    assert rc == 1
    assert "cannot read the spec: it is a FIFO, not a regular file" in err


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_root("special-root") as path:
        yield path


@pytest.mark.parametrize("which", ["fifo", "zero"])
def test_apply_plan_that_never_ends_is_refused(root: Path, which: str) -> None:
    spec = root.parent / f"{root.name}-spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    plan = root.parent / f"{root.name}-plan"
    if which == "fifo":
        os.mkfifo(plan)
    target = str(plan) if which == "fifo" else "/dev/zero"
    rc, _, err = tlsc(
        "apply", spec, "--root", root, "--host", "h1", "--plan", target, "--yes", "--no-verify"
    )
    assert rc == 1
    kind = "a FIFO" if which == "fifo" else "a character device"
    assert f"cannot read the plan {target}: it is {kind}, not a regular file" in err
    assert list(root.rglob("*.mc")) == []


def test_saved_plan_past_its_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import compiler.plan.saved as saved

    path = tmp_path / "plan.json"
    path.write_text("{}" + " " * 2000)
    monkeypatch.setattr(saved, "MAX_PLAN_BYTES", 1024)
    with pytest.raises(SavedPlanError, match="larger than 1,024 bytes"):
        load_saved_plan(path)


# -- compile --out and plan --out -------------------------------------------------


@needs_root
def test_compile_out_never_replaces_a_device_in_the_tree(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "build"
    (out / "h1/etc/mail").mkdir(parents=True)
    dev = null_device(out / "h1/etc/mail")
    dev.rename(out / "h1/etc/mail/access")
    rc, _, err = tlsc("compile", spec, "--out", out)
    assert rc == 1
    assert "cannot write" in err and "it is a character device, not a regular file" in err
    assert is_char_device(out / "h1/etc/mail/access")


def test_compile_out_never_writes_through_a_fifo(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "build"
    (out / "h1/etc/mail").mkdir(parents=True)
    os.mkfifo(out / "h1/etc/mail/access.tlsc-tmp")  # a planted temporary name
    rc, _, err = tlsc("compile", spec, "--out", out)
    assert rc == 0, err
    assert (out / "h1/etc/mail/access").is_file()


@pytest.mark.parametrize("link", ["h1", "h1/etc/mail", "h1/etc/mail/tls"])
def test_compile_out_writes_nothing_through_a_linked_directory(tmp_path: Path, link: str) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out, elsewhere = tmp_path / "build", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / link).parent.mkdir(parents=True)
    (out / link).symlink_to(elsewhere)
    rc, _, err = tlsc("compile", spec, "--out", out)
    assert rc == 1
    assert f"cannot write {out / link}: it is a symbolic link" in err, err
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(
        {link, *(str(Path(link).parents[i]) for i in range(len(Path(link).parents) - 1))}
    )
    # --out itself may be a link (the user's choice): written into its target
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    rc, _, err = tlsc("compile", spec, "--out", tmp_path / "via")
    assert rc == 0, err
    assert (real / "h1/etc/mail/sendmail.mc").is_file()


@needs_root
def test_plan_out_onto_a_device_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    state = tmp_path / "state"
    state.mkdir()
    dev = null_device(tmp_path)
    rc, _, err = tlsc("plan", spec, "--state", state, "--out", dev)
    assert rc == 1
    assert f"cannot write the plan to {dev}: it is a character device" in err
    assert is_char_device(dev)


def test_apply_refuses_a_fifo_spec_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "cluster.yaml"
    os.mkfifo(fifo)
    rc, _, err = run_cli("apply", fifo, "--root", tmp_path, "--host", "h1", "--yes")
    assert rc == 1 and "it is a FIFO, not a regular file" in err


# -- a directory as SPEC ----------------------------------------------------------

#: every command that reads a spec, with what else it needs; {spec} is the spec's path
SPEC_COMMANDS = {
    "validate": ["validate", "{spec}"],
    "compile": ["compile", "{spec}", "--out", "{tmp}/out"],
    "plan": ["plan", "{spec}", "--state", "{tmp}"],
    "apply": ["apply", "{spec}", "--root", "{tmp}/root", "--host", "h1", "--yes"],
    "doctor": ["doctor", "{spec}", "--host", "h1"],
    "verify": ["verify", "{spec}"],
    "logs-spec": ["logs", "{log}", "--spec", "{spec}"],
}
LOG = Path(__file__).resolve().parent.parent / "examples" / "logs" / "mail.log"


def _numbers_out(text: str) -> str:
    import re

    return re.sub(r"[0-9][0-9.e-]*", "N", text)  # apply's timings


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("name", ["cluster.yaml", "conf"])
@pytest.mark.parametrize("command", SPEC_COMMANDS)
def test_a_directory_as_spec_is_refused_as_a_fifo_is(
    tmp_path: Path, command: str, name: str, fmt: str
) -> None:
    """Not click's usage error: the command's own sentence for a spec it cannot read
    (Y000 at 1:1 where it reports problems), in the format asked for, exit 1."""
    spec = tmp_path / name
    args = [
        a.format(spec=spec, tmp=tmp_path, log=LOG) for a in SPEC_COMMANDS[command] + ["--format"]
    ] + [fmt]
    os.mkfifo(spec)
    as_fifo = tlsc(*args)
    spec.unlink()
    spec.mkdir()
    rc, out, err = tlsc(*args)
    assert rc == 1 and as_fifo[0] == 1
    assert "Usage:" not in err and "Traceback" not in err, err
    assert "it is a directory, not a regular file" in out + err
    fifo_out, fifo_err = (s.replace("a FIFO", "a directory") for s in as_fifo[1:])
    assert _numbers_out(out) == _numbers_out(fifo_out)
    assert _numbers_out(err) == _numbers_out(fifo_err)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing made


@pytest.mark.parametrize("command", ["validate", "compile"])
def test_a_directory_as_spec_is_y000_at_1_1_in_json(tmp_path: Path, command: str) -> None:
    import json

    args = [a.format(spec=tmp_path, tmp=tmp_path, log=LOG) for a in SPEC_COMMANDS[command]]
    rc, out, err = tlsc(*args, "--format", "json")
    assert rc == 1 and err == ""
    assert json.loads(out) == [
        {
            "path": str(tmp_path),
            "line": 1,
            "col": 1,
            "code": "Y000",
            "severity": "error",
            "message": "cannot read the spec: it is a directory, not a regular file",
        }
    ]


# -- tlsc logs: pipes are read, devices and directories are refused ----

SPEC_FILE = Path(__file__).resolve().parent.parent / "examples" / "canit-cluster.yaml"
LOG_FORMATS = {
    "text": ["--format", "text"],
    "json": ["--format", "json"],
    "whatif": ["--spec", str(SPEC_FILE), "--format", "json"],
}


def _not_logs(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A path `tlsc logs` cannot read, and why in words."""
    path = tmp_path / "mail.log"
    if kind == "directory":
        path.mkdir()
        return path, "it is a directory, not a file or a pipe"
    target = {"dev-zero": "/dev/zero", "dev-null": "/dev/null", "dev-urandom": "/dev/urandom"}[kind]
    path.symlink_to(target)  # judged by what it leads to
    return path, "it is a character device, not a file or a pipe"


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("kind", ["directory", "dev-zero", "dev-null", "dev-urandom"])
def test_logs_refuses_what_is_no_log_in_one_sentence(tmp_path: Path, kind: str, fmt: str) -> None:
    """Never a read for ever (/dev/zero): one sentence, exit 1, and the other files are
    still read."""
    path, reason = _not_logs(tmp_path, kind)
    rc, out, err = tlsc("logs", path, LOG, *LOG_FORMATS[fmt])
    assert rc == 1
    assert "Traceback" not in err
    sentences = [line for line in err.splitlines() if str(path) in line]
    assert len(sentences) == 1 and sentences[0].startswith(
        f"tlsc: {path}: cannot be read: {reason}"
    )
    assert out.strip()  # the example log was still read


def _log_records(out: str) -> int:
    return sum(1 for line in out.splitlines() if line.startswith('{"kind"'))


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("writer", ["first", "open-then-slow", "late", "anonymous", "empty"])
def test_logs_reads_a_pipe_as_it_comes(tmp_path: Path, writer: str, gz: bool) -> None:
    """A FIFO a program writes to (before tlsc opens it, or while it waits) and a pipe
    made by the shell (`<(zcat mail.log.gz)`, /dev/fd/N) are read to their end."""
    import gzip
    import threading
    import time

    data = LOG.read_bytes() if writer != "empty" else b""
    data = gzip.compress(data) if gz and data else data
    # the year of classic stamps comes from a file's date: a pipe's is now
    expected = tlsc("logs", LOG, "--format", "json", "--year", "2026")[1] if data else ""
    fds: tuple[int, ...] = ()
    if writer in ("anonymous", "empty"):
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        fds, path = (r,), Path(f"/dev/fd/{r}")
    else:
        path = tmp_path / "pipe"
        os.mkfifo(path)

    def write() -> None:
        if writer == "late":
            time.sleep(1.0)  # tlsc waits in the FIFO's open, as any reader of one does
        with open(path, "wb") as out:  # blocks until tlsc opens the FIFO
            if writer == "open-then-slow":
                out.flush()
                time.sleep(0.5)
            out.write(data)

    thread = threading.Thread(target=write) if not fds else None
    if thread is not None:
        thread.start()
        if writer == "first":
            time.sleep(0.2)  # the writer is waiting in open
    try:
        proc = subprocess.run(
            cli_command("logs", path, "--format", "json", "--year", "2026"),
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=TIMEOUT,
            check=False,
            pass_fds=fds,
        )
    finally:
        for fd in fds:
            os.close(fd)
        if thread is not None:
            thread.join(TIMEOUT)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.replace(str(path), "X") == expected.replace(str(LOG), "X")
    assert _log_records(proc.stdout) == (0 if writer == "empty" else 15)
