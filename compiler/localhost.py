"""Which spec host is this machine? (`plan --root` and `apply` without --host.)

The machine's names are `socket.gethostname()` and `socket.getfqdn()`, each
also without its domain; a host matches when its spec name or its fqdn is one
of them (case does not matter, nor a trailing dot). Exactly one host must
match: none or several is an error, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class HostMatchError(ValueError):
    """No host, or more than one, matches this machine; the message says which."""


def machine_names() -> list[str]:
    """This machine's host name and fully qualified name, as the system reports them."""
    import socket  # only when the names are asked for: plan --state never needs them

    return [socket.gethostname(), socket.getfqdn()]


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def match_host(hosts: Mapping[str, str], names: Iterable[str] | None = None) -> str:
    """The one host (name -> fqdn) that `names` (default: this machine's) identify."""
    given = [n for n in (machine_names() if names is None else names) if n]
    wanted = {_norm(n) for n in given}
    wanted |= {n.split(".", 1)[0] for n in wanted}
    wanted.discard("")
    found = sorted(
        name for name, fqdn in hosts.items() if _norm(name) in wanted or _norm(fqdn) in wanted
    )
    shown = ", ".join(dict.fromkeys(given)) or "unknown"
    if not found:
        raise HostMatchError(
            f"this machine ({shown}) matches no host in the spec; name one with --host"
        )
    if len(found) > 1:
        raise HostMatchError(
            f"this machine ({shown}) matches several hosts in the spec ({', '.join(found)});"
            " name one with --host"
        )
    return found[0]
