"""Helpers for the tlsc plan tests: specs, and state trees compiled from them."""

from __future__ import annotations

from pathlib import Path

from compiler.compile import compile_text, output_path
from compiler.plan.make import PlanRequest, make_plan
from compiler.plan.model import HostPlan, Plan

#: Three hosts; mx1 and mx2 are alike, relay1 sets its own restart command.
SPEC = """\
version: 1
cluster: test
hosts:
  mx1: {fqdn: mx1.example.net}
  mx2: {fqdn: mx2.example.net}
  relay1:
    fqdn: relay1.example.net
    commands: {after: make -C /etc/mail}
domains:
  secure.example.com:
    outbound: {require: verify, min_bits: 128, cn: true, issuer_tag: MyCA}
  other.example.org: {outbound: encrypt}
  laptop.example.com:
    inbound: {require: verify, on_failure: permanent}
issuer_tags:
  MyCA: [/C=US/O=Example/CN=Example CA/]
access:
  - Connect:127 RELAY
"""


def write(path: Path, text: str) -> Path:
    """Write text with LF line ends, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


def compile_to(spec_text: str, out: Path, source: str = "cluster.yaml") -> Path:
    """Compile spec text into a state tree OUT/HOST/<path> (as tlsc compile does)."""
    result = compile_text(spec_text, source)
    assert result.ok, result.problems
    for host, files in result.hosts.items():
        for path, text in files.items():
            write(output_path(out, host, path), text)
    return out


def plan_state(tmp_path: Path, old: str, new: str, **kw: object) -> Plan:
    """Plan spec `new` against a state tree compiled from spec `old`."""
    spec = write(tmp_path / "cluster.yaml", new)
    state = compile_to(old, tmp_path / "state")
    return make_plan(PlanRequest(str(spec), state=str(state), **kw))  # type: ignore[arg-type]


def host(plan: Plan, name: str) -> HostPlan:
    """One host's plan."""
    return next(h for h in plan.hosts if h.host == name)


def actions(plan: HostPlan) -> dict[str, str]:
    """path -> action for a host's files."""
    return {f.path: f.action for f in plan.files}
