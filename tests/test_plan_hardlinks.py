"""A file apply writes that has other hard links: apply's atomic replace leaves them.

apply writes each file as a new one renamed into place (and m4 and makemap
build into new files too), so a second name hard-linked to the old file keeps
the old bytes: an admin's copy, a chroot's `/etc/mail`. `plan --root` (and so
apply's own plan) says so for each file it writes (P116). Real m4 and makemap,
under a scratch root.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_helpers import apply_json, scratch_root
from conftest import cli_command, cli_env

pytestmark = pytest.mark.realtools

SPEC = """\
version: 1
cluster: hardlinks
defaults:
  commands: {{restart: "true"}}
  mc:
    defines: {{confTO_IDENT: "{ident}"}}
hosts:
  h1: {{fqdn: h1.example.net, address: 127.0.0.1}}
domains:
  secure.example.com: {{outbound: {level}}}
"""

#: the spec as first applied, and two changes: one of the access file, one of the .mc
SPECS = {
    "applied": {"ident": "5s", "level": "encrypt"},
    "rule": {"ident": "5s", "level": "verify"},
    "define": {"ident": "7s", "level": "encrypt"},
}
#: the files each change writes (sendmail.cf and access.db rebuilt)
WRITES = {"rule": {"access", "access.db"}, "define": {"sendmail.mc", "sendmail.cf"}}


@pytest.fixture
def root() -> Iterator[Path]:
    with scratch_root("plan-hardlinks") as path:
        rc, report, err = apply_json(spec(path, "applied"), path, "--yes", "--no-verify")
        assert rc == 0, (report, err)
        yield path


def spec(root: Path, which: str) -> Path:
    """The spec (one file name: tlsc writes it into every file's header)."""
    path = root.parent / f"{root.name}.yaml"
    path.write_text(SPEC.format(**SPECS[which]), encoding="utf-8")
    return path


def p116(root: Path, level: str) -> dict[str, str]:
    proc = subprocess.run(
        cli_command("plan", spec(root, level), "--root", root, "--host", "h1", "--format", "json"),
        capture_output=True, text=True, env=cli_env(), timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (host,) = json.loads(proc.stdout)["hosts"]
    return {w["path"]: w["message"] for w in host["warnings"] if w["code"] == "P116"}


@pytest.mark.parametrize("change", sorted(WRITES))
@pytest.mark.parametrize("name", ["access", "access.db", "sendmail.cf", "sendmail.mc"])
def test_a_hard_link_to_a_file_apply_writes_is_named_and_keeps_the_old_bytes(
    root: Path, name: str, change: str
) -> None:
    mail = root / "etc/mail"
    other = root / f"{name}.copy"
    os.link(mail / name, other)
    old = other.read_bytes()
    assert p116(root, "applied") == {}  # the spec as applied: apply writes nothing
    notes = p116(root, change)
    written = name in WRITES[change]
    if not written:
        assert notes == {}
    else:
        assert notes == {
            f"/etc/mail/{name}": f"/etc/mail/{name} has 1 other hard link: apply puts a new"
            " file in its place, so that name keeps the old content; make the other names"
            " symbolic links to it"
        }
    rc, report, err = apply_json(spec(root, change), root, "--yes", "--no-verify")
    assert rc == 0, (report, err)
    # what the plan said: the other name still holds the old bytes, this one new ones
    assert other.read_bytes() == old
    assert ((mail / name).stat().st_ino != other.stat().st_ino) is written
    if written:
        assert (mail / name).read_bytes() != old
