"""Numbers written in access values, ports and defines: never a Python message.

Python's int() refuses a decimal text of 4,300 digits or more ("Exceeds the
limit ... use sys.set_int_max_str_digits()"), str() an int of as many, and
str.isdigit() takes digits int() cannot read (`²`). Each reader of a number a
user wrote (an access value: GreetPause, ClientRate, ClientConn, VERIFY:bits,
ENCR:bits; a port of a socket map, a DAEMON_OPTIONS, `--target`,
`--dns-server`; a define the importer carries) must answer as sendmail reads
it, in its own sentence, at any length.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.importer.emit import _define_value
from compiler.probe.mx import parse_server
from compiler.probe.targets import TargetError, parse_target
from compiler.sendmail.accessmap import LONG_MAX, canonical_value, parse_requirement
from compiler.sendmail.names import port_digits
from compiler.spec.model import Cluster

PYTHON = ("Exceeds the limit", "set_int_max_str_digits", "invalid literal")
HUGE = "9" * 5000


def _refused(call: object, *args: object) -> str:
    with pytest.raises(ValueError) as caught:
        call(*args)  # type: ignore[operator]
    message = str(caught.value)
    assert not any(p in message for p in PYTHON), message
    assert len(message) < 600  # the number is never written out whole
    return message


@pytest.mark.parametrize("tag", ["ClientRate", "ClientConn"])
def test_huge_hex_and_octal_limits_are_read_as_strtol_reads_them(tag: str) -> None:
    for word, base in [("0x" + "f" * 3590, "hexadecimal"), ("0" + "7" * 5000, "octal")]:
        message = _refused(canonical_value, tag, word)
        assert f"as the {base} number {LONG_MAX} (strtol's largest" in message
        assert f"write {LONG_MAX}" in message
    exact = _refused(canonical_value, tag, "0x7fffffffffffffff")
    assert f"hexadecimal number {LONG_MAX}; write {LONG_MAX}" in exact  # not cut: no note
    assert "write 16" in _refused(canonical_value, tag, "0x10")


def test_a_long_decimal_value_is_written_without_its_leading_zeros() -> None:
    assert canonical_value("GreetPause", "000" + HUGE) == HUGE
    assert canonical_value("ClientRate", HUGE) == HUGE
    assert canonical_value("GreetPause", "0000") == "0"


@pytest.mark.parametrize("base", ["VERIFY", "ENCR", "PERM+ENCR"])
def test_bits_of_any_length(base: str) -> None:
    assert "between 1 and 65535" in _refused(parse_requirement, f"{base}:{HUGE}")
    assert parse_requirement(f"{base}:{'0' * 5000}128").bits == 128
    assert "between 1 and 65535" in _refused(parse_requirement, f"{base}:{'0' * 5000}")


@pytest.mark.parametrize("text", ["²", "¹²", "٢٥", "1" * 6, "1" * 5000, "", "+25", " 25"])
def test_what_is_no_port(text: str) -> None:
    assert not port_digits(text)
    with pytest.raises(TargetError) as caught:
        parse_target(f"mx.example:{text}" if text else "mx.example:x")
    assert not any(p in str(caught.value) for p in PYTHON)
    assert "ADDRESS[:PORT]" in _refused(parse_server, f"192.0.2.1:{text or 'x'}")
    assert "ADDRESS[:PORT]" in _refused(parse_server, f"[2001:db8::1]:{text or 'x'}")


def test_ports_that_are() -> None:
    assert all(port_digits(p) for p in ["1", "25", "65535", "99999"])
    assert parse_target("mx.example:2525") == ("mx.example", 2525)
    assert parse_server("[2001:db8::1]:5353") == ("2001:db8::1", 5353)


@pytest.mark.parametrize("port", ["²", "٢٥", "9" * 400])
def test_a_socket_map_port_in_the_spec(port: str) -> None:
    spec = {
        "version": 1,
        "cluster": "c",
        "defaults": {"tls": {"mta_sts": {"socket": f"inet:{port}@127.0.0.1"}}},
        "hosts": {"mx1": {"fqdn": "mx1.example.net"}},
    }
    try:
        Cluster.model_validate(spec)
    except ValueError as exc:
        assert not any(p in str(exc) for p in PYTHON), str(exc)[:500]
        assert "needs a port from 1 to 65535" in str(exc)
    else:
        pytest.fail("the port was taken")


@pytest.mark.parametrize(
    ("value", "kept"),
    [("26214400", 26214400), ("015", "015"), ("²", "²"), (HUGE, HUGE), ("1" * 19, "1" * 19)],
)
def test_the_importer_writes_a_define_as_a_number_only_when_it_is_one(
    value: str, kept: object
) -> None:
    assert _define_value(value) == kept


@pytest.mark.parametrize("port", ["²", HUGE[:80], "smtp"])
def test_the_importer_reads_a_daemon_port_it_cannot_take_as_a_name(
    tmp_path: Path, port: str
) -> None:
    """DAEMON_OPTIONS(`Port=²') read a Unicode digit as a port number: int() raised.
    A port that is no number of digits is a service name (none: not the submission port)."""
    from import_helpers import PLAIN_MC, imported, messages, tree

    mc = PLAIN_MC.replace(
        "include(`/etc/mail/tls",
        f"DAEMON_OPTIONS(`Port={port},Name=MTA')dnl\ninclude(`/etc/mail/tls",
    )
    result = imported(tree(tmp_path, mc=mc))
    assert result.ok, messages(result)
