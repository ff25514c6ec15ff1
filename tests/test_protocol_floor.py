"""tls.min_protocol with the real daemons of both releases: a handshake below the floor fails.

`openssl s_client -starttls smtp -tls1_N` asks for exactly one version. The
host and the client both run at OpenSSL security level 0 (`cipher_list:
DEFAULT@SECLEVEL=0`, `-cipher DEFAULT@SECLEVEL=0`), since Debian's OpenSSL
refuses TLS 1.0 and 1.1 at its default level: without the floor TLSv1.1 then
gets through (the control), so a refusal with the floor is the floor's doing.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from realtools import (
    EXAMPLES,
    SendmailRelease,
    m4_build,
    scratch_base,
    scratch_dir,
    sendmail_818,
)
from releases import RELEASE_IDS as RELEASES
from releases import release_of
from sendmail_fixture import DaemonFactory, SendmailDaemon, sendmail_daemon, throwaway_ca

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

from compiler.compile import compile_text

pytestmark = pytest.mark.realtools
EXAMPLE = next(p for p in EXAMPLES if p.name == "canit-cluster.yaml")


def handshake(daemon: SendmailDaemon, version: str) -> str | None:
    """The protocol `openssl s_client -VERSION` negotiated with the daemon, or None."""
    openssl = shutil.which("openssl")
    assert openssl is not None
    done = subprocess.run(
        [
            openssl,
            "s_client",
            "-connect",
            f"127.0.0.1:{daemon.port}",
            "-starttls",
            "smtp",
            f"-{version}",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-brief",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("Protocol version:"):
            return line.split(":", 1)[1].strip()
    return None


def floor(release: SendmailRelease, min_protocol: str | None) -> Any:
    def edit(spec: dict[str, Any]) -> None:
        spec["defaults"]["sendmail"] = "8.18" if release.version.startswith("8.18") else "8.17"
        tls = spec["defaults"]["tls"]
        tls["cipher_list"] = "DEFAULT@SECLEVEL=0"
        if min_protocol is not None:
            tls["min_protocol"] = min_protocol

    return edit


@pytest.mark.parametrize("which", RELEASES)
def test_without_a_floor_tls11_gets_through(sendmail_daemon: DaemonFactory, which: str) -> None:
    release = release_of(which)
    daemon = sendmail_daemon(edit=floor(release, None), release=release)
    assert handshake(daemon, "tls1_1") == "TLSv1.1"


@pytest.mark.parametrize("which", RELEASES)
def test_floor_tls12(sendmail_daemon: DaemonFactory, which: str) -> None:
    release = release_of(which)
    daemon = sendmail_daemon(edit=floor(release, "TLSv1.2"), release=release)
    starttls = Path(daemon.spec["defaults"]["paths"]["starttls_m4"]).read_text(encoding="utf-8")
    assert "+SSL_OP_NO_TLSv1 +SSL_OP_NO_TLSv1_1'')dnl" in starttls
    assert handshake(daemon, "tls1_1") is None
    assert handshake(daemon, "tls1_2") == "TLSv1.2"


@pytest.mark.parametrize("which", RELEASES)
def test_floor_tls13(sendmail_daemon: DaemonFactory, which: str) -> None:
    release = release_of(which)
    daemon = sendmail_daemon(edit=floor(release, "TLSv1.3"), release=release)
    assert handshake(daemon, "tls1_2") is None
    assert handshake(daemon, "tls1_3") == "TLSv1.3"


OSSL = """\
openssl_conf = tlsc_conf
[tlsc_conf]
ssl_conf = tlsc_ssl
[tlsc_ssl]
system_default = tlsc_tls
[tlsc_tls]
MinProtocol = TLSv1.3
"""


@pytest.mark.parametrize("setgid", [True, False], ids=["as-packaged", "setgid-bit-off"])
def test_sendmail_ossl_needs_a_binary_that_is_not_setgid(
    sendmail_daemon: DaemonFactory, setgid: bool
) -> None:
    """Why tls.min_protocol uses SSL_OP_NO_* on 8.18 too, not sendmail.ossl: 8.18 passes
    confOPENSSL_CNF to OpenSSL as OPENSSL_CONF (the .cf's E line), but Debian ships the
    binary setgid smmsp, and OpenSSL reads no OPENSSL_CONF in a setgid process
    (secure_getenv), so the file's MinProtocol does nothing. A copy without the bit
    honours it: the file is right, the binary's mode is what ignores it."""
    release = sendmail_818()
    work = scratch_base() / f"ossl-{os.getpid()}-{setgid}"
    work.mkdir(parents=True, exist_ok=True)
    ossl = work / "sendmail.ossl"
    ossl.write_text(OSSL, encoding="utf-8")
    assert release.sendmail.stat().st_mode & stat.S_ISGID  # as Debian packages it
    if not setgid:
        copy = work / "sendmail"
        shutil.copy(release.sendmail, copy)
        copy.chmod(0o755)
        release = dataclasses.replace(release, sendmail=copy)

    def edit(spec: dict[str, Any]) -> None:
        spec["defaults"]["sendmail"] = "8.18"
        spec["defaults"]["mc"]["defines"]["confOPENSSL_CNF"] = str(ossl)

    try:
        daemon = sendmail_daemon(edit=edit, release=release)
        assert f"\nEOPENSSL_CONF={ossl}\n" in daemon.cf.read_text(encoding="utf-8")
        assert handshake(daemon, "tls1_3") == "TLSv1.3"
        assert handshake(daemon, "tls1_2") == ("TLSv1.2" if setgid else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def negotiated(daemon: SendmailDaemon, *suites: str) -> tuple[str | None, str | None]:
    """(protocol, TLSv1.3 suite) of one `openssl s_client` handshake offering `suites`."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{daemon.port}", "-starttls", "smtp"]
    argv += ["-brief"] + (["-ciphersuites", ":".join(suites)] if suites else [])
    done = subprocess.run(argv, input="", capture_output=True, text=True, timeout=20, check=False)
    found = dict(line.split(": ", 1) for line in done.stderr.splitlines() if ": " in line)
    return found.get("Protocol version"), found.get("Ciphersuite")


@pytest.mark.parametrize("which", RELEASES)
def test_ciphersuites(sendmail_daemon: DaemonFactory, which: str) -> None:
    """tls.ciphersuites reaches OpenSSL on both releases (the CipherSuites option line):
    a client offering every suite gets the host's; one offering only others gets none."""
    release = release_of(which)
    wanted = "TLS_CHACHA20_POLY1305_SHA256"

    def edit(spec: dict[str, Any]) -> None:
        floor(release, None)(spec)
        spec["defaults"]["tls"]["ciphersuites"] = wanted

    daemon = sendmail_daemon(edit=edit, release=release)
    assert f"\nO CipherSuites={wanted}\n" in daemon.cf.read_text(encoding="utf-8")
    assert negotiated(daemon) == ("TLSv1.3", wanted)  # OpenSSL's own first choice is AES-256
    assert negotiated(daemon, "TLS_AES_256_GCM_SHA384")[1] is None


@pytest.mark.parametrize("which", RELEASES)
def test_ciphersuites_change_only_their_line(which: str) -> None:
    """The .cf built with tls.ciphersuites is the one without, plus the option line."""
    release = release_of(which)
    text = EXAMPLE.read_text(encoding="utf-8")
    built = []
    for suites in (None, "TLS_AES_128_GCM_SHA256"):
        spec = (
            text
            if suites is None
            else text.replace("  tls:\n", f"  tls:\n    ciphersuites: {suites}\n", 1)
        )
        spec = spec.replace("defaults:\n", f"defaults:\n  sendmail: '{release.version[:4]}'\n", 1)
        files = next(iter(compile_text(spec, "s.yaml").hosts.values()))
        mc = next(t for p, t in files.items() if p.endswith("sendmail.mc"))
        starttls = next(t for p, t in files.items() if p.endswith("starttls.m4"))
        with scratch_dir("suites") as tmp:
            rc, cf, err = m4_build(mc, starttls, tmp, release)
        assert (rc, err) == (0, "")
        built.append(cf.splitlines())
    added = [line for line in built[1] if line not in built[0]]
    assert added == ["O CipherSuites=TLS_AES_128_GCM_SHA256"]
    assert [line for line in built[0] if line not in built[1]] == []
