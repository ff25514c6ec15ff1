"""sendmail 8.18.1 (Debian 13's release), fetched by scripts/fetch-sendmail-818, next to 8.17.

The 8.18.1 packages of bookworm-backports are unpacked in a cache directory,
never installed (realtools.sendmail_818()); these tests prove that the
unpacked binary is the release it claims, that what tlsc compiles builds with
the 8.18 cf tree, and that the 8.18 daemon runs it and offers STARTTLS.
"""

from __future__ import annotations

import re
import socket
import string
from pathlib import Path
from typing import Any

import pytest
from realtools import (
    EXAMPLES,
    SYSTEM_SENDMAIL,
    SendmailRelease,
    m4_build,
    scratch_dir,
    sendmail_818,
    sendmail_bt,
)
from releases import RELEASE_IDS as RELEASES
from releases import release_of
from sendmail_fixture import DaemonFactory, sendmail_daemon, throwaway_ca

from compiler.compile import compile_text
from compiler.probe import ProbePolicy, Target, probe

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

pytestmark = pytest.mark.realtools
EXAMPLE = next(p for p in EXAMPLES if p.name == "canit-cluster.yaml")


def compiled_with(output: str) -> set[str]:
    """The words of the `Compiled with:` block of `sendmail -d0.1` output."""
    words: list[str] = []
    inside = False
    for line in output.splitlines():
        if "Compiled with:" in line:
            inside = True
            line = line.split("Compiled with:", 1)[1]
        elif not line.startswith("\t"):
            inside = False
        if inside:
            words += line.split()
    return {w.split("=")[0] for w in words}


@pytest.mark.parametrize("which", RELEASES)
def test_version_and_build_flags(tmp_path: Path, which: str) -> None:
    release = release_of(which)
    cf = tmp_path / "empty.cf"
    cf.touch()
    done = sendmail_bt(release, cf)  # exits 70 (no local mailer in an empty .cf)
    version = re.search(r"^Version (\S+)$", done.stdout, re.MULTILINE)
    assert version is not None and version.group(1) == release.version, done.stdout
    flags = compiled_with(done.stdout)
    assert {"STARTTLS", "SOCKETMAP", "MAP_REGEX", "NEWDB"} <= flags, flags
    # Debian built 8.18.1 with -DDANE=1; bookworm's 8.17.1.9 without
    assert ("DANE" in flags) is (release.version == "8.18.1"), flags


def test_818_is_not_the_system_sendmail() -> None:
    """The unpacked tree is used as it is: nothing of it lands in /usr."""
    release = sendmail_818()
    if release.sendmail == SYSTEM_SENDMAIL.sendmail:  # Debian 13: the system's is 8.18.1
        return
    assert release.sendmail.resolve() != Path("/usr/sbin/sendmail").resolve()
    assert not str(release.cf_dir).startswith("/usr/")


def cf_version(cf: str) -> str | None:
    """The release of the cf tree that built `cf` (its `DZ` line: 8.18.1[/Debian-6~bpo12+1])."""
    m = re.search(r"^DZ([0-9.]+)(?:/|$)", cf, re.MULTILINE)
    return m.group(1) if m else None


def build_all_hosts(release: SendmailRelease) -> dict[str, str]:
    """The example's .cf of every host, built with m4 and `release`'s cf tree."""
    compiled = compile_text(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))
    assert compiled.ok, [p.message for p in compiled.problems]
    out = {}
    for host, files in compiled.hosts.items():
        mc = next(t for p, t in files.items() if p.endswith("sendmail.mc"))
        starttls = next((t for p, t in files.items() if p.endswith("starttls.m4")), None)
        with scratch_dir("m4-818") as tmp:
            rc, cf, err = m4_build(mc, starttls, tmp, release)
        assert rc == 0 and err == "", (host, rc, err)
        out[host] = cf
    return out


def test_example_builds_with_the_818_cf_tree(tmp_path: Path) -> None:
    release = sendmail_818()
    cfs = build_all_hosts(release)
    assert cfs
    for host, cf in cfs.items():
        # version.m4 of the tree that built it; proto.m4 of 8.18 knows confDANE
        assert cf_version(cf) == "8.18.1", host
        assert "\nO TLSSrvOptions=V\n" in cf, host
        # the 8.18 binary reads it without a complaint (its /etc/mail: local-host-names only)
        (tmp_path / f"{host}.cf").write_text(cf, encoding="utf-8")
        (tmp_path / "etc-mail").mkdir(exist_ok=True)
        (tmp_path / "etc-mail" / "local-host-names").touch()
        done = sendmail_bt(release, tmp_path / f"{host}.cf", ("-d0.1",), "$=w\n")
        assert done.returncode == 0, done.stderr
        assert "Version 8.18.1" in done.stdout
        problems = [
            line for line in done.stdout.splitlines() if re.search(r"line \d+:|unknown", line)
        ]
        assert problems == [] and done.stderr == "", (problems, done.stderr)
    # the system's tree builds the same spec as 8.17
    assert all(cf_version(cf) == "8.17.1.9" for cf in build_all_hosts(SYSTEM_SENDMAIL).values())


def test_818_daemon_offers_starttls(sendmail_daemon: DaemonFactory) -> None:
    release = sendmail_818()
    daemon = sendmail_daemon(release=release)
    assert cf_version(daemon.cf.read_text(encoding="utf-8")) == "8.18.1"
    r = probe(
        Target(
            label="818",
            host="127.0.0.1",
            port=daemon.port,
            server_name=daemon.fqdn,
            ca_file=str(daemon.ca_cert),
        )
    )
    assert r.error is None and r.handshake_ok, r.error
    assert r.greeting is not None
    assert r.greeting.startswith(f"220 {daemon.fqdn} ESMTP Sendmail 8.18.1/8.18.1;"), r.greeting
    assert r.version == "TLSv1.3"
    assert r.verify == "OK" and r.name_matches is True
    assert r.passed(ProbePolicy(strict=True)), r.problems(ProbePolicy(strict=True))
    daemon.wait_for_log(
        r"STARTTLS=server, relay=localhost \[127\.0\.0\.1\], version=TLSv1\.3, verify=NOT"
    )


def smtp_ehlo(port: int) -> None:
    """One plain session: greeting, EHLO, QUIT (srv_features runs at EHLO)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rwb")
        assert f.readline().startswith(b"220 ")
        f.write(b"EHLO probe.tlsc.test\r\n")
        f.flush()
        while not (line := f.readline()).startswith(b"250 "):
            assert line.startswith(b"250-"), line
        f.write(b"QUIT\r\n")
        f.flush()
        assert f.readline().startswith(b"221 ")


#: every letter either case, the two-character variants of 8.18.1 and two that exist nowhere
CANDIDATES = [*string.ascii_uppercase, *string.ascii_lowercase, "u2", "g2", "u1", "x9"]
#: what both binaries accept (Debian's 8.17.1.9-2+deb12u2 has the SMTP smuggling fixes too)
KNOWN_SRV_FEATURES = {
    *"ABCDEFGHLNOPRSUVX",
    *"abcdefghlnoprsuvx",
    "u2",
    "g2",
}


@pytest.mark.parametrize("which", RELEASES)
def test_srv_features_letters_the_binary_knows(sendmail_daemon: DaemonFactory, which: str) -> None:
    """Each letter not in the binary's table is logged `srv_features: unknown feature X`."""
    release = release_of(which)
    daemon = sendmail_daemon(release=release, start=False)
    access = Path(daemon.spec["defaults"]["paths"]["access"])
    with access.open("a", encoding="utf-8") as f:  # past the spec: tlsc refuses unknown letters
        f.write(f"Srv_Features:127.0.0.1\t{' '.join(CANDIDATES)}\n")
    daemon.build()
    daemon.start()
    smtp_ehlo(daemon.port)
    daemon.wait_for_log(r"srv_features: unknown variant x9")
    unknown = {
        m.group(2)
        for line in daemon.syslog()
        if (m := re.search(r"srv_features: unknown (feature|variant) (\S+)", line))
    }
    assert set(CANDIDATES) - unknown == KNOWN_SRV_FEATURES, sorted(set(CANDIDATES) - unknown)


def with_dane(mc: str) -> str:
    """The .mc with `define(`confDANE', `true')` before its first MAILER (tlsc refuses it)."""
    at = mc.index("MAILER(")
    return mc[:at] + "define(`confDANE', `true')dnl\n" + mc[at:]


@pytest.mark.parametrize("which", RELEASES)
def test_confdane_renders_and_only_818_knows_it(tmp_path: Path, which: str) -> None:
    release = release_of(which)
    compiled = compile_text(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))
    files = next(iter(compiled.hosts.values()))
    mc = next(t for p, t in files.items() if p.endswith("sendmail.mc"))
    starttls = next(t for p, t in files.items() if p.endswith("starttls.m4"))
    with scratch_dir("dane") as tmp:
        rc, cf, err = m4_build(with_dane(mc), starttls, tmp, release)
    assert (rc, err) == (0, "")
    assert "\nO DANE=true\n" in cf  # proto.m4 of both releases has _OPTION(DANE, `confDANE')
    (tmp_path / "etc-mail").mkdir()
    (tmp_path / "etc-mail" / "local-host-names").touch()
    (tmp_path / "dane.cf").write_text(cf, encoding="utf-8")
    done = sendmail_bt(release, tmp_path / "dane.cf")
    complaint = f"{tmp_path / 'dane.cf'}: line {cf[: cf.index('O DANE=true')].count(chr(10)) + 1}"
    if release.version == "8.18.1":
        assert done.returncode == 0 and "unknown option" not in done.stdout, done.stdout
    else:  # 8.17.1.9 is built without DANE: the line is an error (and ignored)
        assert f"{complaint}: readcf: unknown option name DANE" in done.stdout, done.stdout


def test_818_daemon_with_dane_offers_starttls(sendmail_daemon: DaemonFactory) -> None:
    """tls.dane on a host that runs 8.18: confDANE in starttls.m4, O DANE=true in the .cf,
    and the daemon starts and offers STARTTLS (no DNSSEC here, so DANE itself, a
    client-side check against TLSA records, is not exercised)."""

    def dane(spec: dict[str, Any]) -> None:
        spec["defaults"]["sendmail"] = "8.18"
        spec["defaults"]["tls"]["dane"] = True

    daemon = sendmail_daemon(edit=dane, release=sendmail_818(), start=False)
    starttls = Path(daemon.spec["defaults"]["paths"]["starttls_m4"]).read_text(encoding="utf-8")
    assert "define(`confDANE', ``true'')dnl\n" in starttls
    assert "\nO DANE=true\n" in daemon.cf.read_text(encoding="utf-8")
    daemon.start()
    r = probe(Target(label="dane", host="127.0.0.1", port=daemon.port, ca_file=str(daemon.ca_cert)))
    assert r.error is None and r.handshake_ok and r.verify == "OK", r.error
    assert r.greeting is not None and " ESMTP Sendmail 8.18.1/" in r.greeting
    assert not [line for line in daemon.syslog() if "DANE" in line or "unknown option" in line]


def test_spec_refuses_dane_for_817() -> None:
    """The same spec with the 8.17 target: refused before anything is written (S220)."""
    spec = EXAMPLE.read_text(encoding="utf-8").replace("  tls:\n", "  tls:\n    dane: true\n", 1)
    assert [p.code for p in compile_text(spec, "s.yaml").problems if p.severity == "error"] == [
        "S220"
    ]
