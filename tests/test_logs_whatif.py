"""The what-if engine (compiler/logs/whatif.py) on sessions built by hand, each answer
counted by hand from the sessions above it."""

from __future__ import annotations

from compiler.logs.sessions import Message, Session
from compiler.logs.tlscheck import certificate_cn
from compiler.logs.whatif import Evaluation, HostRules, RuleImpact, TlsRule
from compiler.logs.whatif_format import impact_json

CA = "/O=tlsc+20test/CN=tlsc+20Test+20CA"


def out(
    relay: str | None,
    addr: str | None,
    verify: str = "OK",
    bits: int = 256,
    messages: list[Message] | None = None,
    *,
    subject: str | None = None,
    issuer: str | None = None,
    host: str = "mx1",
    time: str = "2026-11-25T10:00:00",
) -> Session:
    """An outbound session; verify NONE means no STARTTLS."""
    tls = verify != "NONE"
    return Session(
        "client",
        time,
        host,
        relay,
        addr,
        starttls=tls,
        verify=verify,
        bits=bits if tls else None,
        bits_max=bits if tls else 0,
        cert_subject=subject,
        cert_issuer=issuer,
        messages=messages or [],
        end=time,
    )


def inn(
    relay: str | None, addr: str | None, verify: str = "NO", bits: int = 256, **kw: object
) -> Session:
    s = out(relay, addr, verify, bits, **kw)  # type: ignore[arg-type]
    s.direction = "server"
    return s


def msg(qid: str, *rcpts: str, sender: str = "alice@mx1.example.net") -> Message:
    return Message(qid, sender, rcpts, "Sent")


def host(*entries: tuple[str, str], request_client_cert: bool = False, **kw: object) -> HostRules:
    rules = [TlsRule(k, v, "domains", ("domains", k.partition(":")[2])) for k, v in entries]
    return HostRules.from_rules(
        "mx1",
        rules,
        ("mx1.example.net",),
        request_client_cert=request_client_cert,
        **kw,  # type: ignore[arg-type]
    )


def run(rules: HostRules, *sessions: Session) -> dict[str, RuleImpact]:
    ev = Evaluation([rules], rules)
    for s in sessions:
        ev.add(s)
    return {i.rule.key: i for i in ev.results()}


def test_domain_suffix_verify_outbound() -> None:
    rules = host(("TLS_Srv:bank.example", "VERIFY"))
    got = run(
        rules,
        out("mx1.bank.example", "[192.0.2.1]", "OK", messages=[msg("q1", "a@bank.example")]),
        out(
            "mx2.bank.example",
            "[192.0.2.2]",
            "FAIL",
            messages=[msg("q2", "b@bank.example", "c@bank.example"), msg("q3", "d@bank.example")],
            time="2026-11-26T09:00:00",
        ),
        # the same message again, later: counted once
        out(
            "mx2.bank.example",
            "[192.0.2.2]",
            "FAIL",
            messages=[msg("q3", "d@bank.example")],
            time="2026-12-01T08:00:00",
        ),
        out("mx.notbank.example", "[192.0.2.3]", "FAIL", messages=[msg("q4", "e@notbank.example")]),
    )
    i = got["TLS_Srv:bank.example"]
    assert (i.sessions, i.deliveries, i.stopped_sessions) == (3, 4, 2)
    assert (len(i.deferred), len(i.refused), i.stopped_messages) == (2, 0, 2)  # q2, q3
    assert dict(i.reasons) == {"not_verified": 2}
    assert [p.peer for p in i.stopped_peers] == ["mx2.bank.example [192.0.2.2]"]
    assert i.safe_to_tighten == ["mx1.bank.example [192.0.2.1]"]
    assert (i.first, i.last) == ("2026-11-26T09:00:00", "2026-12-01T08:00:00")
    assert i.recipients == {"b@bank.example": 1, "c@bank.example": 1, "d@bank.example": 2}
    assert i.senders == {"alice@mx1.example.net": 3}
    data = impact_json(i)
    assert data["on_failure"] == "defer"
    assert data["stopped"] == {"sessions": 2, "messages": 2, "deferred": 2, "refused": 0}
    assert data["direction"] == "outbound"


def test_ip_prefix_min_bits_outbound() -> None:
    rules = host(("TLS_Srv:192.0.2", "ENCR:256"))
    got = run(
        rules,
        out(None, "[192.0.2.9]", "FAIL", 128, messages=[msg("q1", "x@a.example")]),
        out(None, "[192.0.2.10]", "FAIL", 256, messages=[msg("q2", "x@a.example")]),
        out(None, "[192.0.20.1]", "FAIL", 128, messages=[msg("q3", "x@a.example")]),  # not 192.0.2
    )
    i = got["TLS_Srv:192.0.2"]
    assert (i.sessions, i.stopped_sessions, i.stopped_messages) == (2, 1, 1)
    assert dict(i.reasons) == {"too_weak": 1}
    assert i.safe_to_tighten == []  # FAIL is not verified


def test_bare_tag_permanent_refuses_clear_sessions() -> None:
    rules = host(("TLS_Srv:", "PERM+ENCR:128"))
    got = run(
        rules,
        out("mx.plain.example", "[198.51.100.1]", "NONE", messages=[msg("q1", "a@plain.example")]),
        out("mx.tls.example", "[198.51.100.2]", "NOT", 256, messages=[msg("q2", "a@tls.example")]),
    )
    i = got["TLS_Srv:"]
    assert (len(i.refused), len(i.deferred)) == (1, 0)
    assert dict(i.reasons) == {"no_starttls": 1}
    assert impact_json(i)["on_failure"] == "refuse"


def test_tls_perm_err_makes_the_default_refuse_and_temp_still_defers() -> None:
    rules = host(
        ("TLS_Srv:a.example", "ENCR:128"), ("TLS_Srv:b.example", "TEMP+ENCR:128"), perm_default=True
    )
    got = run(
        rules,
        out("a.example", "[198.51.100.1]", "NONE", messages=[msg("q1", "x@a.example")]),
        out("b.example", "[198.51.100.2]", "NONE", messages=[msg("q2", "x@b.example")]),
    )
    assert len(got["TLS_Srv:a.example"].refused) == 1
    assert len(got["TLS_Srv:b.example"].deferred) == 1


def test_recipient_user_at_stops_only_that_recipient() -> None:
    rules = host(("TLS_Rcpt:postmaster@", "VERIFY"), ("TLS_Rcpt:carol@c.example", "ENCR:128"))
    got = run(
        rules,
        out(
            "mx.c.example",
            "[203.0.113.5]",
            "FAIL",
            messages=[
                msg("q1", "postmaster@c.example", "bob@c.example"),
                msg("q2", "bob@c.example"),
            ],
        ),
        out("mx.c.example", "[203.0.113.5]", "NONE", messages=[msg("q3", "carol@c.example")]),
    )
    pm = got["TLS_Rcpt:postmaster@"]
    assert (pm.sessions, pm.deliveries, pm.stopped_messages) == (1, 1, 1)
    assert pm.recipients == {"postmaster@c.example": 1}
    carol = got["TLS_Rcpt:carol@c.example"]
    assert (carol.stopped_messages, dict(carol.reasons)) == (1, {"no_starttls": 1})


def test_tls_srv_failure_means_no_recipient_rule_is_reached() -> None:
    rules = host(("TLS_Srv:c.example", "VERIFY"), ("TLS_Rcpt:c.example", "ENCR:128"))
    got = run(rules, out("mx.c.example", None, "NONE", messages=[msg("q1", "x@c.example")]))
    assert got["TLS_Srv:c.example"].stopped_messages == 1
    assert got["TLS_Rcpt:c.example"].sessions == 0


def test_verify_with_min_bits() -> None:
    rules = host(("TLS_Srv:v.example", "VERIFY:256"))
    got = run(
        rules,
        out("mx.v.example", None, "OK", 128, messages=[msg("q1", "x@v.example")]),
        out("mx2.v.example", None, "OK", 256, messages=[msg("q2", "x@v.example")]),
    )
    i = got["TLS_Srv:v.example"]
    assert (i.stopped_messages, dict(i.reasons)) == (1, {"too_weak": 1})
    assert i.safe_to_tighten == ["mx2.v.example"]


def test_cn_checks_and_unknown_without_the_cert_line() -> None:
    rules = host(
        ("TLS_Srv:cn.example", "VERIFY+CN"), ("TLS_Srv:named.example", "VERIFY+CN:mx.named.example")
    )
    good = "/O=x/CN=mx.cn.example"
    got = run(
        rules,
        out(
            "mx.cn.example",
            None,
            "OK",
            subject=good,
            issuer=CA,
            messages=[msg("q1", "a@cn.example")],
        ),
        out(
            "mx2.cn.example",
            None,
            "OK",
            subject=good,
            issuer=CA,
            messages=[msg("q2", "a@cn.example")],
        ),
        out("mx3.cn.example", None, "OK", messages=[msg("q3", "a@cn.example")]),  # no cert line
        out(
            "smtp.named.example",
            None,
            "OK",
            subject="/CN=MX.Named.Example",
            issuer=CA,
            messages=[msg("q4", "a@named.example")],
        ),
    )
    i = got["TLS_Srv:cn.example"]
    assert (i.stopped_messages, dict(i.reasons)) == (1, {"cn_mismatch": 1})
    assert (i.unknown_sessions, len(i.unknown), dict(i.unknown_reasons)) == (
        1,
        1,
        {"cert_unknown": 1},
    )
    assert impact_json(i)["unknown"]["messages"] == 1
    assert got["TLS_Srv:named.example"].stopped_messages == 0  # CN compares without case


def test_subject_issuer_and_issuer_tag() -> None:
    rules = HostRules.from_rules(
        "mx1",
        [
            TlsRule("TLS_Srv:cs.example", "VERIFY+CS:/CN=mx.cs.example"),
            TlsRule("TLS_Srv:ci.example", f"VERIFY+CI:{CA}"),
            TlsRule("TLS_Srv:tag.example", "VERIFY+CITag:MyCA"),
            TlsRule(f"MyCA:{CA}", "OK"),
        ],
    )
    other = "/CN=Other+20CA"
    got = run(
        rules,
        out(
            "mx.cs.example",
            None,
            subject="/CN=mx.cs.example",
            issuer=CA,
            messages=[msg("a", "x@cs.example")],
        ),
        out(
            "mx.cs.example",
            None,
            subject="/CN=evil",
            issuer=CA,
            messages=[msg("b", "x@cs.example")],
        ),
        out(
            "mx.ci.example",
            None,
            subject="/CN=mx",
            issuer=other,
            messages=[msg("c", "x@ci.example")],
        ),
        out(
            "mx.tag.example",
            None,
            subject="/CN=mx",
            issuer=CA,
            messages=[msg("d", "x@tag.example")],
        ),
        out(
            "mx.tag.example",
            None,
            subject="/CN=mx",
            issuer=other,
            messages=[msg("e", "x@tag.example")],
        ),
    )
    assert dict(got["TLS_Srv:cs.example"].reasons) == {"subject_mismatch": 1}
    assert dict(got["TLS_Srv:ci.example"].reasons) == {"issuer_mismatch": 1}
    assert dict(got["TLS_Srv:tag.example"].reasons) == {"issuer_tag_mismatch": 1}
    assert "MyCA:" + CA not in {i.rule.key for i in got.values()}  # not a TLS rule


def test_try_tls_no_turns_a_tls_session_clear() -> None:
    rules = host(("Try_TLS:old.example", "NO"), ("TLS_Srv:", "ENCR:128"))
    got = run(
        rules,
        out("mx.old.example", "[192.0.2.50]", "OK", messages=[msg("q1", "a@old.example")]),
        out("mx.new.example", "[192.0.2.51]", "OK", messages=[msg("q2", "a@new.example")]),
    )
    srv = got["TLS_Srv:"]
    assert (srv.sessions, srv.stopped_messages, dict(srv.reasons)) == (2, 1, {"no_starttls": 1})
    tt = got["Try_TLS:old.example"]
    assert (tt.sessions, tt.made_clear, tt.stopped_messages) == (1, 1, 1)


def test_inbound_verify_encrypt_and_clients_not_asked() -> None:
    rules = host(
        ("TLS_Clt:partner.example", "VERIFY"),
        ("Srv_Features:partner.example", "v"),
        ("TLS_Clt:10.20", "ENCR:128"),
        ("TLS_Clt:asked.example", "VERIFY"),  # no Srv_Features v, the host does not ask
    )
    got = run(
        rules,
        inn(
            "mx.partner.example",
            "[192.0.2.7]",
            "NO",
            messages=[msg("i1", sender="a@partner.example")],
        ),
        inn(
            "mx.partner.example",
            "[192.0.2.7]",
            "OK",
            messages=[msg("i2", sender="b@partner.example")],
        ),
        inn(
            "mx2.partner.example",
            "[192.0.2.8]",
            "NOT",
            messages=[msg("i3", sender="c@partner.example")],
        ),
        inn(None, "[10.20.1.1]", "NONE", messages=[msg("i4", sender="d@ten.example")]),
        inn(None, "[10.20.1.2]", "NOT", 256, messages=[msg("i5", sender="e@ten.example")]),
        inn("mx.asked.example", None, "OK", messages=[msg("i6", sender="f@asked.example")]),
    )
    p = got["TLS_Clt:partner.example"]
    assert (p.sessions, p.stopped_messages, dict(p.reasons)) == (3, 1, {"not_verified": 1})
    assert (p.unknown_sessions, dict(p.unknown_reasons)) == (1, {"verify_unknown": 1})
    assert p.senders == {"a@partner.example": 1}
    assert impact_json(p)["direction"] == "inbound"
    ten = got["TLS_Clt:10.20"]
    assert (ten.sessions, ten.stopped_messages, dict(ten.reasons)) == (2, 1, {"no_starttls": 1})
    asked = got["TLS_Clt:asked.example"]
    # verify=OK in the log, but the new map never asks this client: verify NOT
    assert (asked.stopped_messages, dict(asked.reasons)) == (1, {"not_verified": 1})


def test_inbound_srv_features_s_and_request_client_cert() -> None:
    rules = host(
        ("Srv_Features:legacy.example", "S"),
        ("TLS_Clt:", "VERIFY"),
        request_client_cert=True,
    )
    got = run(
        rules,
        inn("mx.legacy.example", None, "OK", messages=[msg("i1", sender="a@legacy.example")]),
        inn("mx.fine.example", None, "OK", messages=[msg("i2", sender="b@fine.example")]),
    )
    clt = got["TLS_Clt:"]
    assert (clt.stopped_messages, dict(clt.reasons)) == (1, {"no_starttls": 1})
    assert clt.safe_to_tighten == ["mx.fine.example"]
    assert got["Srv_Features:legacy.example"].made_clear == 1


def test_hosts_by_name_fqdn_short_name_and_unknown_hosts_fall_back() -> None:
    mx1 = host(("TLS_Srv:", "VERIFY"))
    fallback = HostRules.from_rules("(cluster)", [TlsRule("TLS_Srv:", "ENCR:128")])
    ev = Evaluation([mx1], fallback)
    assert ev.host_for("MX1") is mx1
    assert ev.host_for("mx1.example.net") is mx1
    assert ev.host_for("mx1.other.domain") is mx1  # the short name
    assert ev.host_for("mta9") is None
    for name in ("mx1", "mta9", "mta9"):
        ev.add(
            out("mx.a.example", None, "FAIL", host=name, messages=[msg(f"q-{name}", "x@a.example")])
        )
    by_value = {i.rule.value: i for i in ev.results()}
    assert by_value["VERIFY"].stopped_messages == 1
    assert by_value["ENCR:128"].stopped_messages == 0
    assert by_value["ENCR:128"].sessions == 2
    assert ev.unknown_hosts == {"mta9": 2}


def test_every_rule_is_reported_even_without_sessions() -> None:
    got = run(host(("TLS_Srv:quiet.example", "VERIFY")))
    assert got["TLS_Srv:quiet.example"].sessions == 0
    assert got["TLS_Srv:quiet.example"].hosts == {"mx1"}


def test_certificate_cn() -> None:
    assert certificate_cn("/C=DE/O=A+20B/CN=mx.example") == "mx.example"
    assert certificate_cn("/O=x") == ""
