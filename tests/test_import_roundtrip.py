"""Round trip of `tlsc import`: compile -> import -> compile gives the same files.

For every host of every example spec the second compile is byte-for-byte
the first (same cluster, host, fqdn and spec name, so even the headers
agree). For trees tlsc did not write (the sandbox, Debian's shipped .mc and
access file, the examples/import fixture) the access map is compared with
real makemap, and the command's own check builds both .cf files with real m4.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from debian_host import stock_etc_mail, why_not
from import_helpers import (
    ACCESS,
    MC,
    STARTTLS,
    imported,
    makemap_dump,
    messages,
    recompiled,
    write_tree,
)
from realtools import EXAMPLES, REPO, scratch_dir

from compiler.compile import compile_file
from compiler.importer.host import import_host
from compiler.spec.loader import load_file

DEBIAN_MC = Path("/usr/share/sendmail/cf/debian/sendmail.mc")
DEBIAN_ACCESS = Path("/usr/share/sendmail/examples/db/access")

EXAMPLE_HOSTS = [(spec, host) for spec in EXAMPLES for host in load_file(spec).data["hosts"]]


@pytest.mark.realtools
@pytest.mark.parametrize(("spec", "host"), EXAMPLE_HOSTS, ids=lambda v: getattr(v, "name", v))
def test_every_compiled_example_host_round_trips_byte_for_byte(
    spec: Path, host: str, tmp_path: Path
) -> None:
    compiled = compile_file(spec)
    assert compiled.ok
    files = compiled.hosts[host]
    data = load_file(spec).data
    write_tree(tmp_path, dict(files))
    result = import_host(tmp_path, host, data["hosts"][host]["fqdn"], data["cluster"])
    assert not result.notes.losses and not result.notes.errors, messages(result)
    assert result.summary[-1].endswith("same options, maps, mailers and rulesets")
    again = recompiled(result, spec.name)
    assert again.hosts[host] == files


@pytest.mark.realtools
@pytest.mark.parametrize("host", ["colo10", "colo11"])
def test_sandbox_hosts_round_trip(host: str) -> None:
    root = REPO / "examples" / "sandbox" / host
    result = import_host(root, host, f"{host}.example.net", "colo", ownership="file")
    assert not result.notes.losses, messages(result)
    files = recompiled(result).hosts[host]
    original = (root / "etc/mail/access").read_text()
    assert makemap_dump(files[ACCESS]) == makemap_dump(original)
    assert result.parts is not None
    assert result.parts.domains["laptop.example.com"] == {
        "inbound": {"require": "verify", "min_bits": 112, "on_failure": "permanent"}
    }


@pytest.mark.realtools
def test_import_fixture_round_trips_with_real_tools() -> None:
    root = REPO / "examples" / "import"
    result = import_host(root, "mail", ownership="file")
    assert not result.notes.losses and not result.notes.errors, messages(result)
    assert result.parts is not None and result.parts.fqdn == "mail.example.org"  # confDOMAIN_NAME
    files = recompiled(result).hosts["mail"]
    original = (root / "etc/mail/access").read_text()
    assert makemap_dump(files[ACCESS]) == makemap_dump(original)
    assert result.summary == [
        "access map: 17 entries compared",
        "sendmail.cf: same options, maps, mailers and rulesets",
    ]
    tls = result.parts.tls
    assert tls["ca_cert"] == "/etc/ssl/private/example-ca.pem"  # a TLS define in the .mc
    assert tls["server_ssl_options"] == ["+SSL_OP_NO_SSLv3", "+SSL_OP_NO_TLSv1"]
    assert tls["group_readable_key"] is True and tls["request_client_cert"] is False
    extra = result.parts.mc["extra"]
    assert "HACK(`cssubdomain')dnl" in extra and "LOCAL_CONFIG" in extra
    assert extra.index("LOCAL_RULESETS") < extra.index("SLocal_check_rcpt")


@pytest.mark.realtools
@pytest.mark.skipif(not DEBIAN_MC.exists(), reason="sendmail-cf's Debian sendmail.mc is missing")
@pytest.mark.skipif(why_not() is not None, reason=str(why_not()))
@pytest.mark.parametrize("with_tls", [False, True])
def test_debian_default_round_trips_with_its_dead_lines_corrected(
    tmp_path: Path, with_tls: bool
) -> None:
    with scratch_dir("stock") as stock:
        etc = stock_etc_mail(stock)  # the package's own files, not this machine's
        debian_starttls = (etc / "tls" / "starttls.m4").read_text()
    mc = DEBIAN_MC.read_text()
    files = {MC: mc, ACCESS: DEBIAN_ACCESS.read_text()}
    if with_tls:
        files[MC] = mc.replace(
            "MAILER_DEFINITIONS", "include(`/etc/mail/tls/starttls.m4')dnl\nMAILER_DEFINITIONS"
        )
        files[STARTTLS] = debian_starttls
    write_tree(tmp_path, dict(files))
    result = imported(tmp_path, "deb")
    assert result.notes.errors == []
    # Debian ships `GreetPause: 5000`, a bare default sendmail never consults, and
    # four `IPv6:::1` keys that its IPV6_FULL build never matches (it compares
    # 0:0:0:0:0:0:0:1); the spec writes those in the form that matches: corrections,
    # said as notes, not losses
    assert result.notes.losses == []
    said = sorted(at.line for at, m in result.notes.info if m.startswith("I154 "))
    assert said == [80, 81, 82, 83]
    assert result.summary[-1] == "sendmail.cf: same options, maps, mailers and rulesets"
    parts = result.parts
    assert parts is not None
    assert parts.mc["daemon_options"][0] == "Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1"
    assert parts.mc["defines"]["confPRIVACY_FLAGS"].startswith("needmailhelo,")
    if with_tls:
        assert parts.tls["ca_cert"] == "/etc/mail/tls/sendmail-server.crt"
    else:
        assert parts.tls == {"enabled": False}
    again = recompiled(result).hosts["deb"]
    before = [
        x.replace("ipv6:::1\t", "ipv6:0:0:0:0:0:0:0:1\t")
        for x in makemap_dump(files[ACCESS])
        if not x.startswith("greetpause:\t")
    ]
    assert makemap_dump(again[ACCESS]) == sorted(before)
