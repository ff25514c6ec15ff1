"""The relay as sendmail logs it, and the name the what-if matches rules against.

From sendmail 8.17's source: an inbound relay is `$_` (daemon.c getauthinfo):
`user@host [addr]` when the client's identd answered (`IDENT:user@host` for an
identd of OS type OTHER), `host [addr]`, `[addr]`, with ` (may be forged)`
after it; the STARTTLS lines log it as `relay=%.100s` (tls.c, srvrsmtp.c), so
a long one is cut at 100 bytes; a `to=` line logs the server as
shortenstring(mci_host, 40) (deliver.c): a name of 40 bytes or more becomes
its first 18 bytes, `...` and its last 18. The JSON keeps the relay as logged;
the sessions match the host part, join a `head...tail` to its whole name, and
a name that may be cut is matched by address only.
"""

from __future__ import annotations

from datetime import date

import pytest

from compiler.logs.matching import AccessTable
from compiler.logs.parse import read_message
from compiler.logs.sessions import RELAY_WIDTH, Session, SessionBuilder, peer_of, same_name
from compiler.logs.syslog import YearGuess, split_syslog

YEARS = YearGuess(date(2026, 11, 29))
LONG = "mail-eopbgr140053.outbound.protection.outlook.com"  # 49 bytes


def shortened(name: str) -> str:
    """libsmutil's shortenstring(name, 40)."""
    if len(name) < 40:
        return name
    return name[:18] + "..." + name[-18:]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("mx.example.net [192.0.2.1]", ("mx.example.net", "[192.0.2.1]", False)),
        ("alice@c.example [192.0.2.1]", ("c.example", "[192.0.2.1]", False)),
        ("IDENT:alice@c.example [192.0.2.1]", ("c.example", "[192.0.2.1]", False)),
        ("a@b@c.example [192.0.2.1] (may be forged)", ("c.example", "[192.0.2.1]", False)),
        ("root@localhost", ("localhost", None, False)),
        ("alice@[192.0.2.1]", (None, "[192.0.2.1]", False)),
        ("[192.0.2.1]", (None, "[192.0.2.1]", False)),
        ("mx.example.net.", ("mx.example.net", None, False)),
        (shortened(LONG + ".") + " [192.0.2.7]", (shortened(LONG + ".")[:-1], "[192.0.2.7]", True)),
        ("x" * 92 + ".example", ("x" * 92 + ".example", None, True)),  # 100 bytes: maybe cut
        ("x" * 91 + ".example", ("x" * 91 + ".example", None, False)),  # 99: whole
        ("u@" + "x" * 90 + ".example", ("x" * 90 + ".example", None, True)),
        ("x" * 60 + ".example [IPv6:2001:db8:0:0:0:0:0", ("x" * 60 + ".example", None, False)),
    ],
)
def test_the_name_the_rules_see(text: str, want: tuple[str | None, str | None, bool]) -> None:
    name, addr, cut = peer_of(text)
    assert (name, addr) == want[:2]
    assert cut is want[2]


@pytest.mark.parametrize("ident", ["", "alice@", "IDENT:alice@"])
def test_an_ident_relay_is_matched_by_its_host_and_kept_in_json(ident: str) -> None:
    relay = f"{ident}c.example [192.0.2.1]"
    record = read_message(
        f"STARTTLS=server, relay={relay}, version=TLSv1.3, verify=NO, cipher=X, bits=256/256"
    )
    assert record is not None and record.as_json()["relay"] == f"{ident}c.example"  # type: ignore[union-attr]
    lines = [
        f"Nov 28 10:00:00 mx1 sm-mta[7]: STARTTLS=server, relay={relay}, version=TLSv1.3, "
        "verify=NO, cipher=X, bits=256/256",
        f"Nov 28 10:00:01 mx1 sm-mta[7]: 6ASDppfv011274: from=<a@c.example>, size=1, "
        f"nrcpts=1, proto=ESMTPS, daemon=MTA, relay={relay}",
    ]
    (session,) = sessions(lines)
    assert (session.relay, session.addr, session.verify) == ("c.example", "[192.0.2.1]", "NO")
    assert len(session.messages) == 1
    table = AccessTable([("TLS_Clt:c.example", "VERIFY")])
    assert table.peer("TLS_Clt", session.relay, session.addr, not session.name_cut) == (
        "TLS_Clt:c.example",
        "VERIFY",
    )


def sessions(lines: list[str]) -> list[Session]:
    builder = SessionBuilder()
    out: list[Session] = []
    for text in lines:
        out += builder.feed(split_syslog(text, YEARS))
    return out + builder.flush()


@pytest.mark.parametrize("name", [LONG, "a" * 22 + ".example.com", "mx.example.com"])
def test_a_to_line_of_a_long_server_name_is_the_handshakes_session(name: str) -> None:
    """sendmail shortens a to= line's relay: the session is still the handshake's."""
    lines = [
        f"Nov 28 10:00:00 mx1 sm-mta[9]: STARTTLS=client, relay={name}., version=TLSv1.3, "
        "verify=OK, cipher=X, bits=256/256",
        f"Nov 28 10:00:01 mx1 sm-mta[9]: 6ASDppfv011274: to=<b@x.example>, delay=00:00:01, "
        f"mailer=esmtp, pri=1, relay={shortened(name + '.')} [192.0.2.7], dsn=2.0.0, stat=Sent",
    ]
    (session,) = sessions(lines)
    assert (session.relay, session.addr, session.starttls, session.name_cut) == (
        name,
        "[192.0.2.7]",
        True,
        False,
    )
    assert [m.status for m in session.messages] == ["Sent"]
    assert same_name(shortened(name + ".").rstrip("."), name)
    assert not same_name(shortened(name + ".").rstrip("."), "z" + name[1:]) or len(name) < 40


@pytest.mark.parametrize(
    "line",
    [
        # the handshake's relay=%.100s cut a long client name
        "STARTTLS=server, relay={cut}, version=TLSv1.3, verify=NOT, cipher=X, bits=256/256",
        # a clear delivery: the to= line's head...tail is all the log has
        "6ASDppfv011274: to=<b@x.example>, delay=00:00:01, mailer=esmtp, pri=1, "
        "relay={short} [192.0.2.7], dsn=2.0.0, stat=Sent",
    ],
)
def test_a_cut_name_is_matched_by_address_only(line: str) -> None:
    full = "host-7." + "d" * 40 + ".deep.example.com." + "z" * 24 + ".bank.example"
    cut = full[:RELAY_WIDTH]
    assert cut.endswith(".bank.examp")  # a cut in the middle of a label
    (session,) = sessions(
        ["Nov 28 10:00:00 mx1 sm-mta[9]: " + line.format(cut=cut, short=shortened(full))]
    )
    assert session.name_cut
    table = AccessTable(
        [
            ("TLS_Clt:bank.examp", "VERIFY"),
            ("TLS_Srv:bank.example", "VERIFY"),
            ("TLS_Srv:192.0.2", "ENCR:128"),
        ]
    )
    tag = "TLS_Clt" if session.direction == "server" else "TLS_Srv"
    by_name = table.peer(tag, session.relay, session.addr)
    hit = table.peer(tag, session.relay, session.addr, not session.name_cut)
    assert by_name is not None and "192" not in by_name.key  # a suffix of the cut name
    assert hit == (None if tag == "TLS_Clt" else ("TLS_Srv:192.0.2", "ENCR:128"))
