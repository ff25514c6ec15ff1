"""Rules of one host: `hosts.NAME.domains/recipients/issuer_tags/access` over the cluster's.

A host's key replaces the cluster's key with the same access key on that
host ({} removes a domain rule there), its tags replace the cluster's tag of
the same name, and its `access:` entries come after the cluster's. Hosts
without rules of their own keep sharing one access file body.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import pos

from compiler.compile import compile_text
from compiler.render.access import access_body
from compiler.spec.loader import load_text
from compiler.spec.validate import validate

SPEC = """\
version: 1
cluster: c
hosts:
  mx1: {fqdn: mx1.example.net}
  mx2:
    fqdn: mx2.example.net
    domains:
      b.example.com: {outbound: verify}
      A.Example.com: {outbound: verify}
      c.example.com: {}
    recipients:
      boss@example.org: verify
    issuer_tags:
      Other: [/O=Other CA/CN=other]
    access: ["Connect:192.0.2.9 REJECT"]
  mx3: {fqdn: mx3.example.net}
domains:
  a.example.com: {outbound: encrypt}
  c.example.com: {inbound: encrypt}
recipients:
  all@example.org: encrypt
issuer_tags:
  MyCA: [/O=My CA/CN=ca]
access: ["Connect:127 RELAY"]
"""


def _entries(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_a_host_adds_replaces_and_removes_rules_on_itself_only() -> None:
    compiled = compile_text(SPEC)
    assert compiled.ok, compiled.problems
    mx1 = _entries(compiled.hosts["mx1"]["/etc/mail/access"])
    mx2 = _entries(compiled.hosts["mx2"]["/etc/mail/access"])
    assert mx1 == [
        "Connect:127\tRELAY",
        "TLS_Srv:a.example.com\tENCR:128",
        "TLS_Clt:c.example.com\tENCR:128",
        "TLS_Rcpt:all@example.org\tENCR:128",
        "MyCA:/O=My+20CA/CN=ca\tOK",
    ]
    assert mx2 == [
        "Connect:127\tRELAY",
        "Connect:192.0.2.9\tREJECT",
        "TLS_Srv:a.example.com\tVERIFY",
        "TLS_Srv:b.example.com\tVERIFY",
        "TLS_Rcpt:all@example.org\tENCR:128",
        "TLS_Rcpt:boss@example.org\tVERIFY",
        "MyCA:/O=My+20CA/CN=ca\tOK",
        "Other:/O=Other+20CA/CN=other\tOK",
    ]
    assert (
        compiled.hosts["mx3"]["/etc/mail/access"].replace("mx3", "mx1")
        == (compiled.hosts["mx1"]["/etc/mail/access"])
    )


def test_hosts_without_rules_of_their_own_share_the_clusters_rules() -> None:
    result = validate(load_text(SPEC))
    assert result.ok and result.rules is not None
    rules = result.rules
    assert rules.for_host("mx1") is rules and rules.for_host("mx3") is rules
    own = rules.for_host("mx2")
    assert own is not rules and rules.for_host("mx2") is own
    assert access_body(own, False) != access_body(rules, False)


def test_a_host_tag_is_known_to_that_host_only() -> None:
    text = SPEC.replace(
        "  c.example.com: {inbound: encrypt}\n",
        "  c.example.com: {inbound: encrypt}\n"
        "  d.example.com: {outbound: {require: verify, issuer_tag: Other}}\n",
    )
    problems = compile_text(text, "s.yaml").problems
    assert [p.code for p in problems] == ["S201"]
    assert problems[0].message.startswith("issuer tag 'Other' is not defined in issuer_tags")
    assert problems[0].line == pos(text, "issuer_tag: Other")[0]
    mine = text.replace("issuer_tag: Other", "issuer_tag: MyCA")
    assert compile_text(mine).ok


def test_a_host_own_duplicates_and_collisions_are_reported_at_the_host() -> None:
    text = SPEC.replace(
        "      c.example.com: {}\n", "      c.example.com: {}\n      C.EXAMPLE.COM: {}\n"
    ).replace(
        'access: ["Connect:192.0.2.9 REJECT"]',
        'access: ["Connect:192.0.2.9 REJECT", "TLS_Srv:b.example.com ENCR:112"]',
    )
    problems = [(p.code, p.line, p.message) for p in compile_text(text, "s.yaml").problems]
    assert ("S200", pos(text, "C.EXAMPLE.COM")[0]) in [(c, line) for c, line, _ in problems]
    collision = [m for c, _, m in problems if "also written by" in m]
    assert collision == [
        "access key TLS_Srv:b.example.com is also written by hosts.mx2.access.1 on line"
        f" {pos(text, 'TLS_Srv:b.example.com ENCR')[0]}; makemap would keep only one"
    ]


def test_host_access_entries_are_checked() -> None:
    text = SPEC.replace('"Connect:192.0.2.9 REJECT"', '"Connect:192.0.2.9 BOGUS"')
    problems = compile_text(text, "s.yaml").problems
    assert [p.code for p in problems] == ["S210"]
    assert problems[0].message.startswith("hosts.mx2.access.0: ")
    assert problems[0].line == pos(text, "Connect:192.0.2.9 BOGUS")[0]


def test_checks_that_need_the_whole_rule_set_run_on_each_hosts_rules() -> None:
    text = """\
version: 1
cluster: c
hosts:
  mx1: {fqdn: mx1.example.net}
  mx2:
    fqdn: mx2.example.net
    recipients: {a@legacy.example: encrypt}
    access: ["TLS_Srv_Features:example.com CipherList=HIGH"]
domains:
  legacy.example: {outbound: {starttls: false}}
"""
    problems = [(p.code, p.line, p.message) for p in compile_text(text, "s.yaml").problems]
    assert [(c, line) for c, line, _ in problems] == [
        ("S215", pos(text, "a@legacy.example")[0]),
        ("S208", pos(text, "TLS_Srv_Features")[0]),
    ]
    assert "missing on host mx2" in problems[1][2]


_CLUSTER_TAGS = "issuer_tags:\n  MyCA: [/O=My CA/CN=ca]\n"
_HOST_TAGS = "    issuer_tags:\n      Other: [/O=Other CA/CN=other]\n"


@pytest.mark.parametrize("case", [str.lower, str.upper, str.swapcase], ids=lambda f: f.__name__)
@pytest.mark.parametrize("scope", ["cluster", "host", "host over the cluster's"])
def test_issuer_tags_that_differ_only_in_case_are_one_tag(scope: str, case: Any) -> None:
    """makemap folds access keys and sendmail folds the key CITag:MyCA looks up
    (test_access_grammar_sendmail): MyCA and myca would accept each other's issuers,
    and a host's myca would add to the cluster's MyCA instead of replacing it."""
    if scope == "cluster":
        first, second = "MyCA", case("MyCA")
        text = SPEC.replace(_CLUSTER_TAGS, _CLUSTER_TAGS + f"  {second}: [/O=B/CN=b]\n")
    elif scope == "host":
        first, second = "Other", case("Other")
        text = SPEC.replace(_HOST_TAGS, _HOST_TAGS + f"      {second}: [/O=B/CN=b]\n")
    else:
        first, second = "MyCA", case("MyCA")
        text = SPEC.replace(_HOST_TAGS, f"    issuer_tags:\n      {second}: [/O=B/CN=b]\n")
    problems = [(p.line, p.col, p.code, p.message) for p in compile_text(text, "s.yaml").problems]
    assert [p[:3] for p in problems] == [(*pos(text, f"{second}:"), "S200")], problems
    if scope == "host over the cluster's":
        assert problems[0][3].startswith(
            f"issuer tag '{second}' differs from the cluster's 'MyCA' only in case"
        )
        assert "spell it 'MyCA' to replace it" in problems[0][3]
    else:
        assert problems[0][3].startswith(
            f"issuer tags '{first}' and '{second}' differ only in case, and sendmail folds"
        )


def test_a_host_tag_spelled_as_the_clusters_replaces_it() -> None:
    text = SPEC.replace(_HOST_TAGS, "    issuer_tags:\n      MyCA: [/O=B/CN=b]\n")
    result = compile_text(text, "s.yaml")
    assert result.ok, result.problems
    assert "MyCA:/O=B/CN=b\tOK" in _entries(result.hosts["mx2"]["/etc/mail/access"])
    assert "MyCA:/O=My+20CA/CN=ca\tOK" not in _entries(result.hosts["mx2"]["/etc/mail/access"])
