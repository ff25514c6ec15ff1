"""Step 6: is sendmail answering, and offering STARTTLS, after the change?

The verify probe (compiler.probe) against the host's address (else its
fqdn) and smtp_port. A probe that did not get as far as the greeting
(connection refused, reset, no greeting yet) or was greeted with a 4xx
("421 ... try again later") is retried until `wait` seconds have passed,
since a restarted daemon takes a moment to listen again and to accept
mail; once sendmail has greeted with 220 or a 5xx, its answer is final.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from compiler.probe import ProbeOptions, ProbeResult, Target, Timeouts, probe
from compiler.resolve import HostConfig

RETRY_SECONDS = 0.2
TIMEOUTS = Timeouts(connect=3.0, greeting=15.0, command=10.0, handshake=10.0)


@dataclass(frozen=True)
class Expectation:
    """What a probe must show: a greeting, and (tls) STARTTLS with a good handshake."""

    tls: bool

    def failure(self, result: ProbeResult) -> str | None:
        """None when `result` meets this; else one phrase why not."""
        if result.greeting is None or not result.greeting.startswith("220"):
            return result.error or f"{result.host} port {result.port} did not greet"
        if not self.tls:
            return None
        if not result.handshake_ok:
            return result.error or f"{result.host} port {result.port} does not offer STARTTLS"
        return None


def target_for(host: HostConfig, root: Path) -> Target:
    """The host's probe target; its CA files are read below `root` when they are there."""
    tls = host.settings.tls
    ca_file = str(root / tls.ca_cert.lstrip("/")) if tls.ca_cert else None
    ca_path = str(root / tls.ca_cert_path.lstrip("/")) if tls.ca_cert_path else None
    return Target(
        label=host.name,
        host=host.address or host.fqdn,
        port=host.settings.smtp_port,
        server_name=host.fqdn,
        ca_file=ca_file if ca_file and Path(ca_file).is_file() else None,
        ca_path=ca_path if ca_path and Path(ca_path).is_dir() else None,
    )


def probe_until(target: Target, expect: Expectation, wait: float) -> tuple[ProbeResult, str | None]:
    """Probe, retrying while the server is not answering yet; (last result, failure or None)."""
    deadline = time.monotonic() + wait
    options = ProbeOptions(timeouts=TIMEOUTS)
    while True:
        result = probe(target, options)
        failure = expect.failure(result)
        if failure is None or _final(result) or time.monotonic() >= deadline:
            return result, failure
        time.sleep(RETRY_SECONDS)


def _final(result: ProbeResult) -> bool:
    """Whether a failed probe's answer stands: a greeting other than a 4xx (220 and then
    a failure, a 5xx refusal). A 421 greeting is sendmail saying "not now" (RefuseLA, a
    connection rate, MaxDaemonChildren just after its restart): asked again until `wait`."""
    return result.greeting is not None and not result.greeting.startswith("4")


def describe(result: ProbeResult) -> str:
    """A short phrase for the report: 'STARTTLS TLSv1.3 on 127.0.0.1:25'."""
    where = f"{result.host}:{result.port}"
    if result.handshake_ok:
        return f"STARTTLS {result.version} on {where}"
    if result.greeting is not None and result.greeting.startswith("220"):
        what = "TLS failed" if result.starttls else "no STARTTLS"
        return f"sendmail answers on {where} ({what})"
    return f"nothing answers on {where}"
