"""compiler/resolve.py: a host's settings are the defaults deep-merged with what it wrote.

Mappings merge key by key (`tls`, `paths`, `mc.defines`); lists and scalars
replace (`mc.features` is the host's whole list).
"""

from __future__ import annotations

from conftest import MINIMAL_SPEC

from compiler.compile import compile_text
from compiler.resolve import HostConfig, deep_merge, host_overrides, resolve
from compiler.spec.loader import load_text
from compiler.spec.model import Cluster, HostSettings
from compiler.spec.validate import validate

SPEC = """\
version: 1
cluster: colo
defaults:
  smtp_port: 2525
  tls:
    server_cert: /etc/mail/tls/default.crt
    timeout: 5m
    server_ssl_options: [+SSL_OP_NO_TLSv1]
  mc:
    defines:
      confPRIVACY_FLAGS: goaway
      confREJECT_MSG: 550 Access denied
    features: [use_cw_file, {name: nouucp, args: [reject]}]
    mailers: [local, smtp]
hosts:
  plain:
    fqdn: plain.example.net
  custom:
    fqdn: custom.example.net
    address: 192.0.2.11
    smtp_port: 25
    tls:
      server_cert: /etc/mail/tls/custom.crt
      server_ssl_options: [+SSL_OP_NO_TLSv1_1]
    mc:
      defines:
        confREJECT_MSG: 550 Go away
        confMAX_MESSAGE_SIZE: 1000000
      features: [{name: nouucp, args: [reject]}]
"""


def cluster(text: str = SPEC) -> Cluster:
    result = validate(load_text(text))
    assert result.problems == []
    assert result.cluster is not None
    return result.cluster


def test_host_without_overrides_gets_the_defaults() -> None:
    c = cluster()
    host = resolve(c, "plain")
    assert host == HostConfig(
        name="plain",
        fqdn="plain.example.net",
        address=None,
        cluster="colo",
        settings=c.defaults,
    )


def test_tls_override_deep_merges() -> None:
    tls = resolve(cluster(), "custom").settings.tls
    assert tls.server_cert == "/etc/mail/tls/custom.crt"
    assert tls.timeout == "5m"  # from defaults.tls
    assert tls.server_key == "/etc/mail/tls/sendmail-common.key"  # built-in default


def test_lists_replace() -> None:
    settings = resolve(cluster(), "custom").settings
    assert settings.tls.server_ssl_options == ["+SSL_OP_NO_TLSv1_1"]
    assert [f.name for f in settings.mc.features] == ["nouucp"]
    assert settings.mc.mailers == ["local", "smtp"]


def test_defines_merge_per_key() -> None:
    settings = resolve(cluster(), "custom").settings
    assert settings.mc.defines == {
        "confPRIVACY_FLAGS": "goaway",
        "confREJECT_MSG": "550 Go away",
        "confMAX_MESSAGE_SIZE": "1000000",
    }


def test_scalars_replace() -> None:
    assert resolve(cluster(), "custom").settings.smtp_port == 25
    assert resolve(cluster(), "plain").settings.smtp_port == 2525


def test_host_fields() -> None:
    host = resolve(cluster(), "custom")
    assert (host.name, host.fqdn, host.address, host.cluster) == (
        "custom",
        "custom.example.net",
        "192.0.2.11",
        "colo",
    )


def test_host_overrides_are_only_what_was_written() -> None:
    c = cluster()
    assert host_overrides(c.hosts["plain"]) == {}
    assert host_overrides(c.hosts["custom"]) == {
        "smtp_port": 25,
        "tls": {
            "server_cert": "/etc/mail/tls/custom.crt",
            "server_ssl_options": ["+SSL_OP_NO_TLSv1_1"],
        },
        "mc": {
            "defines": {"confREJECT_MSG": "550 Go away", "confMAX_MESSAGE_SIZE": "1000000"},
            "features": [{"name": "nouucp", "args": ["reject"]}],
        },
    }


def test_explicit_null_overrides_a_default() -> None:
    text = MINIMAL_SPEC + "    tls:\n      client_cert: null\n"
    settings = resolve(cluster(text), "mx1").settings
    assert settings.tls.client_cert is None
    assert settings.tls.client_key == "/etc/mail/tls/sendmail-common.key"


def test_deep_merge() -> None:
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2], "s": "base"}
    over = {"a": {"y": {"q": 3}, "z": 4}, "l": [9], "s": None}
    assert deep_merge(base, over) == {
        "a": {"x": 1, "y": {"p": 1, "q": 3}, "z": 4},
        "l": [9],
        "s": None,
    }
    assert base == {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2], "s": "base"}


def test_deep_merge_mapping_replaces_a_scalar() -> None:
    assert deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}


def test_resolved_settings_are_a_host_settings_model() -> None:
    assert isinstance(resolve(cluster(), "custom").settings, HostSettings)


def test_overrides_reach_the_rendered_files() -> None:
    files = compile_text(SPEC).hosts
    st_custom = files["custom"]["/etc/mail/tls/starttls.m4"]
    st_plain = files["plain"]["/etc/mail/tls/starttls.m4"]
    assert "define(`confSERVER_CERT', ``/etc/mail/tls/custom.crt'')dnl\n" in st_custom
    assert "define(`confSERVER_CERT', ``/etc/mail/tls/default.crt'')dnl\n" in st_plain
    assert "define(`confTO_STARTTLS', ``5m'')dnl\n" in st_custom
    mc = files["custom"]["/etc/mail/sendmail.mc"]
    assert "define(`confREJECT_MSG', ``550 Go away'')dnl\n" in mc
    assert "define(`confPRIVACY_FLAGS', ``goaway'')dnl\n" in mc
    assert "FEATURE(`use_cw_file')dnl" not in mc
    assert "FEATURE(`nouucp', ``reject'')dnl\n" in mc
