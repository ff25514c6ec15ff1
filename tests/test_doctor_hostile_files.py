"""`tlsc doctor --root` on a host whose files are devices or FIFOs.

Every file doctor reads under the root (the certificates and key, the CA
directory's hashed entries, sendmail.cf, openssl.cnf, resolv.conf) may be a
link to /dev/zero or a FIFO on a broken or hostile host. Doctor must finish,
with findings and exit 1 or 0, never a traceback: reading /dev/zero to its
end ate memory until the process died, and opening a FIFO waited for ever.
Each run is a subprocess with a memory cap and a time limit, so a regression
fails here instead of taking the machine with it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from throwaway_ca import ThrowawayCA

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "examples" / "canit-cluster.yaml"
HOST_FILES = REPO / "examples" / "sandbox" / "colo10"
TLS = "etc/mail/tls"
TLSC = [sys.executable, "-m", "compiler"]
#: what doctor reads under the root, beyond what `tlsc compile` writes
READ = [
    f"{TLS}/sendmail-server.crt",
    f"{TLS}/sendmail-common.key",
    f"{TLS}/ca.crt",
    "etc/ssl/certs/12345678.0",
    "etc/mail/sendmail.cf",
    "etc/ssl/openssl.cnf",
    "etc/resolv.conf",
]


def _capped() -> None:
    limit = 2 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _host_root(base: Path) -> Path:
    """colo10's compiled files, with a certificate and key of its name and a CA file."""
    root = base / "root"
    shutil.copytree(HOST_FILES, root)
    ca = ThrowawayCA()
    tls = root / TLS
    ca.issue("colo10.example.net").write(tls / "sendmail-server.crt", tls / "sendmail-common.key")
    (tls / "ca.crt").write_bytes(ca.cert_pem)
    return root


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
@pytest.mark.parametrize("name", READ)
def test_doctor_finishes_when_a_file_is_a_device_or_a_fifo(
    tmp_path: Path, name: str, kind: str
) -> None:
    root = _host_root(tmp_path)
    target = root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    try:
        run = subprocess.run(
            [
                *TLSC,
                "doctor",
                str(SPEC),
                "--host",
                "colo10",
                "--root",
                str(root),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_capped,
            env={**os.environ, "TLSC_DNS_SERVER": "127.0.0.1:9"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"doctor waited on {name} ({kind})")
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 1), run.stderr
    found = json.loads(run.stdout)
    assert all(set(f) >= {"code", "path", "message"} for f in found)
    if name == "etc/mail/sendmail.cf":
        what = "a FIFO" if kind == "fifo" else "a character device"
        assert {
            (f["code"], f["path"], f["message"].split(",")[0]) for f in found if f["code"] == "D020"
        } == {("D020", str(target), f"sendmail.cf is {what}")}


def test_a_tls_file_swapped_for_a_fifo_after_its_check_is_no_permission_problem(
    tmp_path: Path,
) -> None:
    """A file that became a FIFO (or grew past 64 MiB) between its check and its read is
    not unreadable for want of root: the fix names the setting, not `run as root`."""
    from compiler.doctor import pki
    from compiler.tlsfiles import SERVER_CERT

    fifo = tmp_path / "server.crt"
    os.mkfifo(fifo)
    found = pki._read(fifo, SERVER_CERT, "D012")
    assert not isinstance(found, bytes)
    assert "it is a FIFO, not a regular file" in found.message
    assert found.fix == f"check that {SERVER_CERT.setting} names the right file"
    denied = pki._read(tmp_path / "missing.crt", SERVER_CERT, "D012")
    assert not isinstance(denied, bytes) and denied.fix == "run tlsc doctor as root"
