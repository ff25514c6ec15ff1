"""compiler/plan/localhost.py: which spec host this machine is."""

from __future__ import annotations

import pytest

from compiler.localhost import HostMatchError, machine_names, match_host

HOSTS = {"mx1": "mx1.example.net", "mx2": "mx2.example.net", "relay": "out.example.net"}


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["mx1"], "mx1"),
        (["MX1.example.net."], "mx1"),
        (["localhost", "out.example.net"], "relay"),
        (["relay.elsewhere.example"], "relay"),  # the short name is the spec's name
    ],
)
def test_matches_by_name_or_fqdn(names: list[str], expected: str) -> None:
    assert match_host(HOSTS, names) == expected


def test_none_or_several_is_refused() -> None:
    with pytest.raises(HostMatchError, match=r"this machine \(db1\) matches no host"):
        match_host(HOSTS, ["db1"])
    with pytest.raises(HostMatchError, match=r"several hosts in the spec \(mx1, mx2\)"):
        match_host(HOSTS, ["mx1", "mx2.example.net"])


def test_machine_names_come_from_the_system() -> None:
    assert all(isinstance(n, str) for n in machine_names())
