"""The plan's words beside a TLS access line: whom sendmail matches it against."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from compiler.plan.peers import about

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (
            "TLS_Srv:gmail.com",
            "servers named gmail.com or *.gmail.com; for mail to @gmail.com see recipients:",
        ),
        (
            "Try_TLS:.example.net",
            "servers named *.example.net; for mail to @example.net see recipients:",
        ),
        ("TLS_Srv:192.0.2", "servers at 192.0.2"),
        ("TLS_Srv:IPv6:2001:db8:0:0:0:0:0:1", "servers at IPv6:2001:db8:0:0:0:0:0:1"),
        ("TLS_Srv:", "every server no other line names"),
        ("TLS_Clt:laptop.example.com", "clients named laptop.example.com or *.laptop.example.com"),
        ("TLS_Rcpt:bank.example", "mail to bank.example"),
        ("Connect:127", None),
        ("untagged", None),
    ],
)
def test_about(key: str, words: str | None) -> None:
    assert about(key) == words


def test_plan_text_says_servers_named(tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yaml"
    text = (REPO / "examples/canit-cluster.yaml").read_text(encoding="utf-8")
    spec.write_text(text.replace("domains:\n", "domains:\n  gmail.com: {outbound: verify}\n", 1))
    rc, out, _err = run_cli("plan", spec, "--state", REPO / "examples/sandbox")
    assert rc in (0, 2)
    assert (
        "+ TLS_Srv:gmail.com  VERIFY  (servers named gmail.com or *.gmail.com; for mail to"
        " @gmail.com see recipients:)" in out
    )
    rc, out, _err = run_cli(
        "plan", spec, "--state", REPO / "examples/sandbox", "--format", "markdown"
    )
    assert "(servers named gmail.com or *.gmail.com; for mail to @gmail.com see recipients:)" in out
