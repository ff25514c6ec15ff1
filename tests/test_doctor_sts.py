"""tlsc doctor with tls.mta_sts: the resolver answers the socket map (D036), and the
host's sendmail is built with what FEATURE(`sts') needs (D035).

D036 is asked of real servers on 127.0.0.1 and on a Unix socket: the test
resolver (sts_socketmap.py) up, closed, and giving a TEMP reply; Python's
http.server, which waits for a request line that never comes; and a server
that answers HTTP at once. D035 reads the real `sendmail -d0.13 -bt` output
of both releases.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from realtools import SYSTEM_SENDMAIL, scratch_dir, sendmail_818
from sendmail_fixture import DaemonFactory, refused_port, sendmail_daemon, throwaway_ca
from sts_socketmap import StsSocketmap
from test_doctor_release import output_of

from compiler.doctor import diagnose
from compiler.doctor.binary import check_release
from compiler.doctor.finding import Finding
from compiler.doctor.stsmap import PROBE_KEY, check_sts_resolver, query
from compiler.resolve import resolve
from compiler.spec.loader import load_file
from compiler.spec.model import HostSettings, MtaSts, Tls
from compiler.spec.validate import validate

__all__ = ["sendmail_daemon", "throwaway_ca"]  # fixtures, imported for pytest

FIX = (
    "start postfix-mta-sts-resolver (mta-sts-daemon; its default listens on"
    " inet:8461@127.0.0.1), or set tls.mta_sts.socket to where it listens"
)
CONSEQUENCE = "so sendmail would defer every recipient with '450 STS lookup temp fail'"


def settings(socket_address: str | None) -> HostSettings:
    sts = None if socket_address is None else MtaSts(socket=socket_address)
    return HostSettings(tls=Tls(mta_sts=sts))


def only(found: list[Finding]) -> Finding:
    assert len(found) == 1, found
    (finding,) = found
    assert (finding.code, finding.severity) == ("D036", "error")
    return finding


@contextmanager
def closed_port() -> Iterator[str]:
    """inet:PORT@127.0.0.1 where nothing listens (sendmail_fixture.refused_port)."""
    with refused_port() as port:
        yield f"inet:{port}@127.0.0.1"


@contextmanager
def tcp_server(handler: Any) -> Iterator[int]:
    """A threaded server on 127.0.0.1 running `handler(conn)` per connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with conn:
                handler(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        srv.close()


# -- D036: the socket map --------------------------------------------------------------


def test_the_resolver_answers() -> None:
    with StsSocketmap() as sts:
        assert check_sts_resolver(settings(sts.address), "mx1") == []
        assert query(sts.address) == "NOTFOUND "
        # the harmless query: a leading dot, which the resolver answers without a lookup
        assert sts.queries == [("sts", PROBE_KEY), ("sts", PROBE_KEY)]


def test_the_resolver_on_a_unix_socket() -> None:
    with scratch_dir("sts-sock") as tmp:
        path = tmp / "mta-sts.sock"
        with StsSocketmap(path=path) as sts:
            assert sts.address == f"local:{path}"
            assert check_sts_resolver(settings(sts.address), "mx1") == []
        finding = only(check_sts_resolver(settings(f"local:{path}"), "mx1"))
    assert finding.message == (
        f"tls.mta_sts is on for host mx1, but nothing answers on local:{path}"
        f" (No such file or directory), {CONSEQUENCE}"
    )


def test_nothing_listens() -> None:
    with closed_port() as address:
        finding = only(check_sts_resolver(settings(address), "mx1"))
    assert finding.path == address
    assert finding.message == (
        f"tls.mta_sts is on for host mx1, but nothing answers on {address}"
        f" (Connection refused), {CONSEQUENCE}"
    )
    assert finding.fix == FIX


def test_off_asks_nothing() -> None:
    with closed_port() as address:
        assert check_sts_resolver(settings(None), "mx1") == []
        off = HostSettings(tls=Tls(enabled=False, mta_sts=MtaSts(socket=address)))
        assert check_sts_resolver(off, "mx1") == []


def test_an_http_server_that_waits_for_its_request_line() -> None:
    """What sendmail would meet too: a connection taken, and no reply before its timeout."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"inet:{httpd.server_address[1]}@127.0.0.1"
        finding = only(check_sts_resolver(settings(address), "mx1", timeout=0.5))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert finding.message == (
        f"tls.mta_sts is on for host mx1, but what listens on {address} does not answer"
        f" socketmap queries (it sent no reply in 0.5 s), {CONSEQUENCE}"
    )


def test_a_server_that_answers_http() -> None:
    def http_reply(conn: socket.socket) -> None:
        conn.recv(100)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with tcp_server(http_reply) as port:
        finding = only(check_sts_resolver(settings(f"inet:{port}@127.0.0.1"), "mx1"))
    assert finding.message == (
        f"tls.mta_sts is on for host mx1, but what listens on inet:{port}@127.0.0.1 does not"
        f" answer socketmap queries (it sent 'HTTP/1.1 400 Bad Request..Content-Length...'),"
        f" {CONSEQUENCE}"
    )


@pytest.mark.parametrize(
    ("sent", "what"),
    [
        (b"", "it closed the connection without a reply"),
        (b"12:NOTFOUND ,", "it sent '12:NOTFOUND ,'"),  # a length that is not the text's
        (b"NOTFOUND ", "it sent 'NOTFOUND '"),  # the status without its netstring
        (b"5:HELLO,", "it sent '5:HELLO,'"),  # a netstring, but no socketmap status
    ],
)
def test_replies_that_are_not_socketmap(sent: bytes, what: str) -> None:
    def reply(conn: socket.socket) -> None:
        conn.recv(100)
        conn.sendall(sent)

    with tcp_server(reply) as port:
        finding = only(check_sts_resolver(settings(f"inet:{port}@127.0.0.1"), "mx1"))
    assert f"does not answer socketmap queries ({what})" in finding.message


def test_a_temp_reply() -> None:
    with StsSocketmap(fixed="TEMP cache backend down") as sts:
        finding = only(check_sts_resolver(settings(sts.address), "mx1"))
    assert finding.message == (
        f"tls.mta_sts is on for host mx1, and the resolver on {sts.address} answered a test"
        f" query with 'TEMP cache backend down', {CONSEQUENCE}"
    )


def test_an_ok_reply_is_an_answer() -> None:
    with StsSocketmap(fixed="OK secure match=mx.example.net servername=hostname") as sts:
        assert check_sts_resolver(settings(sts.address), "mx1") == []


# -- doctor and apply's pre-flight, on a test daemon's spec ----------------------------


def sts_spec(sendmail_daemon: DaemonFactory, address: str) -> Any:
    def edit(spec: dict[str, Any]) -> None:
        spec["defaults"]["tls"]["mta_sts"] = {"socket": address}

    return sendmail_daemon(edit=edit, start=False)


@pytest.mark.realtools
def test_doctor_on_the_host(sendmail_daemon: DaemonFactory) -> None:
    """`tlsc doctor` on the host (--root /): D036 when the resolver is down, not when up."""
    with StsSocketmap() as sts:
        daemon = sts_spec(sendmail_daemon, sts.address)
        argv = ("doctor", daemon.spec_path, "--host", daemon.host, "--format", "json")
        rc, out, err = run_cli(*argv)
        assert "D036" not in out, out
        assert sts.queries == [("sts", PROBE_KEY)]
    rc, out, err = run_cli(*argv)
    assert rc == 1, (out, err)
    found = [f for f in json.loads(out) if f["code"] == "D036"]
    assert [(f["path"], f["severity"]) for f in found] == [(sts.address, "error")]


@pytest.mark.realtools
def test_doctor_of_a_tree_elsewhere_does_not_ask(sendmail_daemon: DaemonFactory) -> None:
    """A --root other than / is another machine's tree: its resolver is not ours to ask."""
    with closed_port() as address:
        daemon = sts_spec(sendmail_daemon, address)
        cluster = validate(load_file(daemon.spec_path)).cluster
        assert cluster is not None
        host = resolve(cluster, daemon.host)
        with scratch_dir("tree") as tree:
            found = diagnose(host, str(daemon.spec_path), tree, check_sendmail=False)
            assert "D036" not in [f.code for f in found]
            found = diagnose(
                host, str(daemon.spec_path), tree, check_sendmail=False, ask_sts_resolver=True
            )
            assert [f.code for f in found if f.code == "D036"] == ["D036"]


@pytest.mark.realtools
def test_apply_preflight_refuses_without_a_resolver(sendmail_daemon: DaemonFactory) -> None:
    from compiler.doctor import preflight

    with closed_port() as address:
        daemon = sts_spec(sendmail_daemon, address)
        cluster = validate(load_file(daemon.spec_path)).cluster
        assert cluster is not None
        host = resolve(cluster, daemon.host)
        found = preflight(host, str(daemon.spec_path), Path("/"))
    assert [(f.code, f.severity) for f in found if f.code == "D036"] == [("D036", "error")]
    with StsSocketmap() as sts:
        daemon = sts_spec(sendmail_daemon, sts.address)
        cluster = validate(load_file(daemon.spec_path)).cluster
        assert cluster is not None
        found = preflight(resolve(cluster, daemon.host), str(daemon.spec_path), Path("/"))
    assert "D036" not in [f.code for f in found]


# -- D035: what the binary is built with ------------------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize("which", ["8.17", "8.18"])
def test_both_releases_are_built_for_mta_sts(tmp_path: Path, which: str) -> None:
    release = SYSTEM_SENDMAIL if which == "8.17" else sendmail_818()
    family = "8.17" if which == "8.17" else "8.18"
    output = output_of(release, tmp_path)
    on = HostSettings(sendmail=family, tls=Tls(mta_sts=MtaSts()))
    assert check_release("sendmail", output, on, "mx1") == []
    # the same output without the flags FEATURE(`sts') needs
    stripped = output
    for flag in ("_FFR_MTA_STS", "_FFR_TLS_ALTNAMES", "SOCKETMAP", "MAP_REGEX"):
        assert re.search(rf"\s{flag}\s", stripped), flag
        stripped = re.sub(rf"(?<=\s){flag}(?=\s)", "", stripped)
    found = check_release("sendmail", stripped, on, "mx1")
    assert [(f.code, f.severity) for f in found] == [("D035", "error")] * 4
    assert found[0].message == (
        "tls.mta_sts is on for host mx1, but sendmail was built without _FFR_MTA_STS"
        " (its 'FFR Defines:' list lacks it)"
    )
    assert found[2].message == (
        "tls.mta_sts is on for host mx1, but sendmail was built without SOCKETMAP"
        " (its 'Compiled with:' list lacks it)"
    )
    assert found[0].fix == (
        "install a sendmail built with _FFR_MTA_STS (Debian's sendmail-bin), or set"
        " tls.mta_sts: false"
    )
    off = HostSettings(sendmail=family)
    assert check_release("sendmail", stripped, off, "mx1") == []
