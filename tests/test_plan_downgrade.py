"""compiler/plan/downgrade.py: one test per kind of weakening, none for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from plan_helpers import SPEC, host, plan_state

from compiler.plan.diff import access_diff, split_lines
from compiler.plan.downgrade import access_downgrades, starttls_removed


def codes(old: str, new: str) -> list[str]:
    """Downgrade codes between two access files (entries given one a line)."""
    diff = access_diff(split_lines(old), split_lines(new))
    return [w.code for w in access_downgrades(diff, "/etc/mail/access")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TLS_Srv:a.example\tVERIFY\n", "TLS_Srv:a.example\tENCR:128\n"),  # verify -> encrypt
        ("TLS_Srv:a.example\tENCR:128\n", ""),  # encrypt -> may (rule removed)
        ("TLS_Srv:a.example\tVERIFY\n", ""),  # verify -> may
        ("", "Try_TLS:a.example\tNO\n"),  # may -> none (outbound STARTTLS off)
        ("TLS_Clt:10.1\tENCR:128\n", "Srv_Features:10.1\tS\n"),  # inbound encrypt -> none
        ("TLS_Rcpt:x@a.example\tVERIFY\n", ""),  # recipient verify -> may
        ("TLS_Srv:\tENCR:128\n", ""),  # the bare default
    ],
)
def test_lower_level_is_d001(old: str, new: str) -> None:
    assert codes(old, new) == ["P001"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TLS_Srv:a.example\tENCR:128\n", "TLS_Srv:a.example\tENCR:112\n"),
        ("TLS_Clt:a.example\tVERIFY:128\n", "TLS_Clt:a.example\tVERIFY\n"),
        ("TLS_Rcpt:x@a.example\tPERM+ENCR:256\n", "TLS_Rcpt:x@a.example\tPERM+ENCR:128\n"),
    ],
)
def test_fewer_min_bits_is_d002(old: str, new: str) -> None:
    assert codes(old, new) == ["P002"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("VERIFY+CN", "VERIFY"),
        ("VERIFY+CN:mx.a.example", "VERIFY"),
        ("VERIFY+CN++CITag:MyCA", "VERIFY+CN"),
        ("VERIFY+CS:/CN=x/", "VERIFY"),
        ("VERIFY+CI:/CN=ca/", "VERIFY"),
    ],
)
def test_dropped_certificate_check_is_d004(old: str, new: str) -> None:
    assert codes(f"TLS_Srv:a.example\t{old}\n", f"TLS_Srv:a.example\t{new}\n") == ["P004"]


def test_verify_with_cn_to_encrypt_without_is_two_warnings() -> None:
    assert codes("TLS_Srv:a.example\tVERIFY+CN\n", "TLS_Srv:a.example\tENCR:128\n") == [
        "P001",
        "P004",
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TLS_Srv:a.example\tPERM+VERIFY\n", "TLS_Srv:a.example\tTEMP+VERIFY\n"),  # not one
        ("TLS_Srv:a.example\tPERM+VERIFY\n", "TLS_Srv:a.example\tVERIFY\n"),
        ("TLS_Srv:a.example\tENCR:128\n", "TLS_Srv:a.example\tVERIFY\n"),  # stronger
        ("TLS_Srv:a.example\tENCR:112\n", "TLS_Srv:a.example\tENCR:128\n"),
        ("TLS_Srv:a.example\tVERIFY\n", "TLS_Srv:a.example\tVERIFY+CN\n"),
        ("Try_TLS:a.example\tNO\n", ""),  # STARTTLS back on
        ("", "TLS_Srv:a.example\tENCR:128\n"),  # a new rule
        ("TLS_Srv:a.example\tVERIFY+CN:x.a.example\n", "TLS_Srv:a.example\tVERIFY+CN\n"),
        ("Connect:127\tRELAY\n", "Connect:127\tOK\n"),  # unrelated
        ("# a comment\n", "# another comment\n"),
        ("Srv_Features:10.1\tv\n", "Srv_Features:10.1\tv A\n"),
        ("TLS_Srv:a.example\tVERIFY\n", "tls_srv:A.EXAMPLE\tVERIFY\n"),  # same key, folded
        ("TLS_Srv:a.example\tVERIFY\n", "TLS_Srv:a.example\tbogus\n"),  # lint's business
    ],
)
def test_no_warning_for_strengthening_or_unrelated_edits(old: str, new: str) -> None:
    assert codes(old, new) == []


def test_warning_names_the_lines_on_both_sides() -> None:
    old = "# h\nTLS_Srv:a.example\tVERIFY\n"
    new = "# h\n# added\nTLS_Srv:a.example\tENCR:128\n"
    (warning,) = access_downgrades(access_diff(split_lines(old), split_lines(new)), "/x/access")
    assert warning.path == "/x/access"
    assert [(w.side, w.line, w.text) for w in warning.lines] == [
        ("before", 2, "TLS_Srv:a.example\tVERIFY"),
        ("after", 3, "TLS_Srv:a.example\tENCR:128"),
    ]
    assert "a.example" in warning.message and "verify" in warning.message


def test_starttls_removed_from_the_mc_is_d003() -> None:
    before = "divert(0)dnl\ninclude(`/etc/mail/tls/starttls.m4')dnl\nMAILER(`smtp')dnl\n"
    after = "divert(0)dnl\nMAILER(`smtp')dnl\n"
    warning = starttls_removed("/etc/mail/sendmail.mc", before, after)
    assert warning is not None and warning.code == "P003"
    assert warning.lines[0].line == 2
    assert starttls_removed("/m", before, before) is None
    assert starttls_removed("/m", None, after) is None


def test_spec_turning_tls_off_on_a_host_is_d003(tmp_path: Path) -> None:
    new = SPEC.replace(
        "relay1:\n    fqdn: relay1.example.net\n",
        "relay1:\n    fqdn: relay1.example.net\n    tls: {enabled: false}\n",
    )
    plan = plan_state(tmp_path, SPEC, new)
    relay = host(plan, "relay1")
    assert {w.code for w in relay.downgrades} == {"P003"}
    assert not host(plan, "mx1").warnings


def test_spec_weakening_a_domain_rule_is_flagged_in_the_plan(tmp_path: Path) -> None:
    new = SPEC.replace(
        "outbound: {require: verify, min_bits: 128, cn: true, issuer_tag: MyCA}",
        "outbound: {require: verify, min_bits: 128, cn: true}",
    )
    plan = plan_state(tmp_path, SPEC, new)
    assert [(h, w.code) for h, w in plan.downgrades] == [
        ("mx1", "P004"),
        ("mx2", "P004"),
        ("relay1", "P004"),
    ]
