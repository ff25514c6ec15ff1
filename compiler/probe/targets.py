"""Probe targets: a spec's hosts, or HOST[:PORT] given on the command line."""

from __future__ import annotations

import ipaddress
import os
import re

from compiler.probe.smtp import Target
from compiler.problems import shown
from compiler.resolve import HostConfig
from compiler.sendmail.names import port_digits

_HOST = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$")


class TargetError(ValueError):
    """A HOST[:PORT] argument that cannot be a target; the message says why."""


def parse_target(text: str, default_port: int = 25) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port`, `v6` -> (host, port)."""
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise TargetError(f"'{text}' has an unclosed '['")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise TargetError(f"'{text}' is not HOST[:PORT]")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise TargetError(f"'{text}' names no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        if not _HOST.match(host) or len(host) > 254 or not all(0 < len(x) <= 63 for x in labels):
            raise TargetError(f"'{shown(host)}' is not a host name or IP address") from None
    if port_text == "" and text.endswith(":"):
        raise TargetError(f"'{text}' has an empty port")
    port = default_port
    if port_text:
        if not port_digits(port_text) or not 1 <= int(port_text) <= 65535:
            raise TargetError(f"'{port_text}' is not a port number (1-65535)")
        port = int(port_text)
    return host, port


def adhoc_target(text: str, ca_file: str | None = None) -> Target:
    """A target from HOST[:PORT]; its certificate must name HOST."""
    host, port = parse_target(text)
    return Target(
        label=host,
        host=host,
        port=port,
        server_name=host,
        ca_file=ca_file,
    )


def host_target(host: HostConfig, ca_file: str | None = None) -> Target:
    """The target for a spec host: its address (else fqdn) at smtp_port.

    The certificate must name the host's fqdn and verify against `ca_file`
    when given, else against the spec's tls.ca_cert and tls.ca_cert_path
    (those present on this machine), else the system's trusted CAs.
    """
    tls = host.settings.tls
    ca_path: str | None = None
    if not ca_file:
        ca_file = tls.ca_cert if tls.ca_cert and os.path.isfile(tls.ca_cert) else None
        ca_path = tls.ca_cert_path if tls.ca_cert_path and os.path.isdir(tls.ca_cert_path) else None
    return Target(
        label=host.name,
        host=host.address or host.fqdn,
        port=host.settings.smtp_port,
        server_name=host.fqdn,
        ca_file=ca_file,
        ca_path=ca_path,
    )
