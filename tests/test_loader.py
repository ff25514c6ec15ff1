"""compiler/spec/loader.py: YAML to data with positions, and what YAML may not do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import MINIMAL_SPEC, pos, with_lines, write_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.compile import compile_text
from compiler.problems import Problem
from compiler.sendmail.names import BIDI_CONTROLS
from compiler.spec.loader import MAX_DEPTH, SpecLoadError, load_file, load_text

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "canit-cluster.yaml"
ST = "/etc/mail/tls/starttls.m4"


def load_problems(text: str) -> list[Problem]:
    with pytest.raises(SpecLoadError) as err:
        load_text(text, "s.yaml")
    return err.value.problems


def one_problem(text: str) -> Problem:
    problems = load_problems(text)
    assert len(problems) == 1, problems
    return problems[0]


# -- plain data and positions ------------------------------------------------


def test_loads_plain_data() -> None:
    loaded = load_text(MINIMAL_SPEC, "s.yaml")
    assert loaded.source == "s.yaml"
    assert loaded.data == {
        "version": 1,
        "cluster": "test",
        "hosts": {"mx1": {"fqdn": "mx1.example.net"}},
    }


def test_scalar_types() -> None:
    text = (
        "a: true\nb: false\nc: null\nd: ~\ne: 12\nf: 1.5\ng: 2024-01-01\n"
        'h: "128"\ni: yes\nj: 0x10\nk: 0o17\n'
    )
    assert load_text(text).data == {
        "a": True,
        "b": False,
        "c": None,
        "d": None,
        "e": 12,
        "f": 1.5,
        "g": "2024-01-01",
        "h": "128",
        "i": "yes",  # YAML 1.2: only true/false are booleans
        "j": 16,
        "k": 15,
    }


def test_positions_of_values_and_keys() -> None:
    text = MINIMAL_SPEC + "domains:\n  example.com: {outbound: encrypt}\n"
    loaded = load_text(text)
    assert loaded.positions[("hosts", "mx1", "fqdn")] == pos(text, "mx1.example.net")
    assert loaded.key_positions[("hosts", "mx1", "fqdn")] == pos(text, "fqdn")
    assert loaded.key_positions[("domains", "example.com")] == pos(text, "example.com")
    assert loaded.positions[("domains", "example.com")] == pos(text, "{outbound")
    assert loaded.positions[("domains", "example.com", "outbound")] == pos(text, "encrypt")
    assert loaded.positions[()] == (1, 1)


def test_positions_of_list_items() -> None:
    text = MINIMAL_SPEC + "access:\n  - Connect:127 RELAY\n  - Connect:10 REJECT\n"
    loaded = load_text(text)
    assert loaded.positions[("access", 0)] == pos(text, "Connect:127")
    assert loaded.positions[("access", 1)] == pos(text, "Connect:10")


def test_locate_falls_back_to_the_nearest_parent() -> None:
    loaded = load_text(MINIMAL_SPEC)
    assert loaded.locate(("hosts", "mx1", "tls", "server_cert")) == pos(MINIMAL_SPEC, "fqdn")
    assert loaded.locate(("hosts", "mx1", "fqdn"), key=True) == pos(MINIMAL_SPEC, "fqdn")
    assert loaded.locate(("hosts", "mx1", "fqdn")) == pos(MINIMAL_SPEC, "mx1.example.net")
    assert loaded.locate(("nothing", "here")) == (1, 1)


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "\ufeff" + MINIMAL_SPEC)
    assert load_file(path).data["cluster"] == "test"


# -- duplicate keys ------------------------------------------------------------


def test_duplicate_key_names_the_first_line() -> None:
    text = "version: 1\ncluster: a\ncluster: b\n"
    problem = one_problem(text)
    assert problem == Problem(
        "s.yaml", 3, 1, "Y002", "error", "duplicate key 'cluster'; it is already set on line 2"
    )


def test_nested_duplicates_are_all_reported() -> None:
    text = MINIMAL_SPEC + "    fqdn: other.example.net\ndomains:\n  a.com: {}\n  a.com: {}\n"
    problems = load_problems(text)
    assert [(p.line, p.col, p.code, p.message) for p in problems] == [
        (*pos(text, "fqdn", 2), "Y002", "duplicate key 'fqdn'; it is already set on line 5"),
        (*pos(text, "a.com", 2), "Y002", "duplicate key 'a.com'; it is already set on line 8"),
    ]


def test_duplicate_key_keeps_partial_data_for_validation() -> None:
    with pytest.raises(SpecLoadError) as err:
        load_text("version: 1\ncluster: a\ncluster: b\n")
    assert err.value.partial is not None
    assert err.value.partial.data == {"version": 1, "cluster": "a"}


def test_duplicate_and_model_problems_are_reported_together() -> None:
    text = "version: 1\ncluster: a\ncluster: b\nhosts:\n  mx1:\n    fqdn: mx1.example.net\n"
    text += "    adress: 192.0.2.1\n"
    problems = compile_text(text, "s.yaml").problems
    assert [(p.line, p.col, p.code) for p in problems] == [
        (3, 1, "Y002"),
        (*pos(text, "adress"), "S100"),
    ]
    assert problems[1].message == "unknown key 'adress' in hosts.mx1 (did you mean 'address'?)"


# -- anchors, aliases, merge keys ------------------------------------------


MERGE = """\
version: 1
cluster: test
hosts:
  mx1: &base
    fqdn: mx1.example.net
    smtp_port: 2525
    tls:
      server_cert: /etc/mail/tls/base.crt
      timeout: 5m
  mx2:
    <<: *base
    fqdn: mx2.example.net
  mx3:
    <<: *base
    fqdn: mx3.example.net
    tls:
      server_cert: /etc/mail/tls/mx3.crt
"""


def test_merge_key_copies_and_explicit_keys_override() -> None:
    hosts = load_text(MERGE).data["hosts"]
    assert hosts["mx2"] == {
        "fqdn": "mx2.example.net",
        "smtp_port": 2525,
        "tls": {"server_cert": "/etc/mail/tls/base.crt", "timeout": "5m"},
    }
    # YAML merge is shallow: an explicit `tls:` replaces the merged one whole
    assert hosts["mx3"] == {
        "fqdn": "mx3.example.net",
        "smtp_port": 2525,
        "tls": {"server_cert": "/etc/mail/tls/mx3.crt"},
    }


def test_merged_keys_are_not_duplicates_and_keep_the_anchor_position() -> None:
    loaded = load_text(MERGE)
    assert loaded.positions[("hosts", "mx2", "fqdn")] == pos(MERGE, "mx2.example.net")
    assert loaded.positions[("hosts", "mx2", "smtp_port")] == pos(MERGE, "2525")


def test_merged_values_reach_the_rendered_files() -> None:
    result = compile_text(MERGE)
    assert result.problems == []
    st = {name: files[ST] for name, files in result.hosts.items()}
    assert "define(`confSERVER_CERT', ``/etc/mail/tls/base.crt'')dnl\n" in st["mx2"]
    assert "define(`confTO_STARTTLS', ``5m'')dnl\n" in st["mx2"]
    assert "define(`confSERVER_CERT', ``/etc/mail/tls/mx3.crt'')dnl\n" in st["mx3"]
    # mx3's own tls: replaced the merged one, so its timeout is the default again
    assert "define(`confTO_STARTTLS', ``2m'')dnl\n" in st["mx3"]
    assert st["mx1"].replace("mx1", "mx2") == st["mx2"]


def test_merge_list_earlier_mapping_wins() -> None:
    text = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n"
    assert load_text(text).data["c"] == {"x": 1, "y": 1, "z": 3}


def test_alias_of_a_scalar_and_a_list() -> None:
    text = MINIMAL_SPEC + "access:\n  - &r Connect:127 RELAY\n  - *r\n"
    assert load_text(text).data["access"] == ["Connect:127 RELAY", "Connect:127 RELAY"]


_MERGED_TWICE = "duplicate key 'fqdn'; it is already set on line {}"
_TWO_MERGE_KEYS = (
    "duplicate merge key '<<'; one is already on line {}: merge several mappings with one"
    " list, `<<: [*a, *b]` (the first wins)"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # a key twice in a mapping that is only merged in, never converted on its own
        ("    <<: {fqdn: a.example.net, fqdn: b.example.net}\n", _MERGED_TWICE),
        ("    <<:\n      fqdn: a.example.net\n      fqdn: b.example.net\n", _MERGED_TWICE),
        ("    <<: [{smtp_port: 25}, {fqdn: a.example.net, fqdn: b.example.net}]\n", _MERGED_TWICE),
        ("    <<: {<<: {fqdn: a.example.net, fqdn: b.example.net}}\n", _MERGED_TWICE),
        ("    <<: &m {fqdn: a.example.net, fqdn: b.example.net}\n", _MERGED_TWICE),
        # two merge keys in one mapping: ruamel's own loaders refuse it
        ("    <<: {fqdn: a.example.net}\n    <<: {fqdn: b.example.net}\n", _TWO_MERGE_KEYS),
        ("    <<: {smtp_port: 25}\n    fqdn: a.example.net\n    <<: {fqdn: b.example.net}\n",
         _TWO_MERGE_KEYS),
        ("    {<<: {fqdn: a.example.net}, <<: {fqdn: b.example.net}}\n", _TWO_MERGE_KEYS),
    ],
)  # fmt: skip
def test_a_key_twice_in_a_merged_mapping_is_a_duplicate(body: str, message: str) -> None:
    """Which of the two a reader keeps differs (ruamel's safe loader the last, PyYAML the
    first)."""
    text = "version: 1\ncluster: test\nhosts:\n  mx1:\n" + body
    problem = one_problem(text)
    key = "<<" if "<<" in message else "fqdn"
    assert (problem.line, problem.col, problem.code) == (*pos(text, key, 2), "Y002")
    assert problem.message == message.format(pos(text, key)[0])


def test_a_duplicate_in_a_mapping_merged_twice_is_reported_once() -> None:
    text = (
        "version: 1\ncluster: test\nhosts:\n  mx1: {<<: &m {fqdn: a.example.net, smtp_port: 25,"
        " smtp_port: 26}}\n  mx2: {<<: *m, fqdn: mx2.example.net}\n  mx3: *m\n"
    )
    problem = one_problem(text)
    assert (problem.line, problem.col, problem.code) == (*pos(text, "smtp_port", 2), "Y002")


def test_merge_of_a_scalar_is_refused() -> None:
    text = "a: &a 1\nb:\n  <<: *a\n"
    problem = one_problem(text)
    # reported where the anchored value stands
    assert (problem.line, problem.col, problem.code) == (*pos(text, "&a 1"), "Y004")
    assert problem.message == "a merge key (<<) must refer to a mapping"


# -- resource guards ---------------------------------------------------------


def billion_laughs(levels: int = 10) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\nversion: 1\n"


def test_alias_bomb_is_refused() -> None:
    problem = one_problem(billion_laughs())
    assert (problem.line, problem.col, problem.code) == (1, 1, "Y003")
    assert "refusing what looks like an alias bomb" in problem.message


def test_self_referencing_alias_is_refused() -> None:
    text = "version: 1\na: &x\n  b: *x\n"
    problem = one_problem(text)
    assert (problem.line, problem.col, problem.code) == (*pos(text, "&x"), "Y003")
    assert problem.message == "an alias refers to itself"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 200_000])
def test_deep_nesting_is_refused_without_a_crash(depth: int) -> None:
    text = "version: " + "[" * depth + "]" * depth + "\n"
    problem = one_problem(text)
    # the collection that goes one level too deep: `version:` holds the first `[`
    assert (problem.line, problem.col, problem.code) == (1, 9 + MAX_DEPTH, "Y003")
    assert problem.message == f"the spec is nested more than {MAX_DEPTH} levels deep"


def test_deep_nesting_through_aliases_is_refused() -> None:
    half = MAX_DEPTH // 2 + 2
    text = f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    problem = one_problem(text)
    assert problem.code == "Y003"
    assert problem.message == f"the spec is nested more than {MAX_DEPTH} levels deep"


def _depth(value: Any) -> int:
    return 1 + max(map(_depth, value), default=0) if isinstance(value, list) else 0


@pytest.mark.parametrize("inner", ["", "x"])
def test_nesting_at_the_limit_is_accepted(inner: str) -> None:
    depth = MAX_DEPTH - 1  # the top-level mapping is one level
    text = "version: " + "[" * depth + inner + "]" * depth + "\n"
    assert _depth(load_text(text).data["version"]) == depth


# -- what a spec may not be --------------------------------------------------


def _pure_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader with ruamel's pure parser, what it falls back to without the C one."""
    from ruamel.yaml import YAML

    from compiler.spec import yamlcompose

    monkeypatch.setattr(yamlcompose, "_yaml", lambda: YAML(typ="safe", pure=True))


_OLD_YAML = "not valid YAML for tlsc: the spec is read as YAML 1.2, and %YAML {} would make"


@pytest.mark.parametrize("parser", ["C", "pure"])
@pytest.mark.parametrize("version", ["1.1"])  # 1.0 and 1.3: ruamel refuses them itself
@pytest.mark.parametrize("before", ["", "# a comment\n\n"])
def test_a_yaml_version_directive_other_than_12_is_refused(
    monkeypatch: pytest.MonkeyPatch, parser: str, version: str, before: str
) -> None:
    """The C parser reads YAML 1.2 whatever the directive says, the pure one switches
    (`yes` a boolean, `017` octal 15): one text, two meanings, so neither reads it."""
    if parser == "pure":
        _pure_parser(monkeypatch)
    text = before + f"%YAML {version}\n---\n" + MINIMAL_SPEC
    text += "defaults:\n  tls: {request_client_cert: yes}\n  mc: {defines: {confX: 017}}\n"
    problem = one_problem(text)
    assert (problem.line, problem.col, problem.code) == (*pos(text, "%YAML"), "Y001")
    assert problem.message.startswith(_OLD_YAML.format(version))


@pytest.mark.parametrize("parser", ["C", "pure"])
@pytest.mark.parametrize(
    "anchors",
    [
        "x: &p 25\ny: &p 2525\n",
        "x: &p {a: 1}\ny: &p [1]\n",
        "x: [&p 1, &p 2]\n",
        "x: &p\n  a: &p 1\n",
        "x: &p 1\ny: *p\nz: &p 2\n",
    ],
)
def test_an_anchor_defined_twice_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch, parser: str, anchors: str
) -> None:
    """The C composer said only "second occurrence"; the pure one warned in several lines
    and let a later alias mean the second, where a reviewer finds the first."""
    if parser == "pure":
        _pure_parser(monkeypatch)
    text = MINIMAL_SPEC + anchors
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        problem = one_problem(text)
    assert (problem.line, problem.col, problem.code) == (*pos(text, "&p", 2), "Y001")
    assert problem.message == (
        f"not valid YAML: the anchor &p is defined again (first on line {pos(text, '&p')[0]}),"
        " and readers differ on which one an alias means; name each anchor once"
    )


@pytest.mark.parametrize("parser", ["C", "pure"])
def test_a_yaml_12_directive_reads_as_without_one(
    monkeypatch: pytest.MonkeyPatch, parser: str
) -> None:
    if parser == "pure":
        _pure_parser(monkeypatch)
    text = MINIMAL_SPEC + "defaults: {tls: {request_client_cert: yes}}\n"
    loaded = load_text("%YAML 1.2\n---\n" + text)
    assert loaded.data == load_text(text).data
    assert loaded.data["defaults"]["tls"]["request_client_cert"] == "yes"


@pytest.mark.parametrize(
    ("text", "needle", "message"),
    [
        ("version: 1\ncluster: x: y\n", ": y", "not valid YAML: mapping values are not allowed"),
        ("version: 1\nhosts: [a, b\n", None, "not valid YAML: did not find expected ',' or ']'"),
        ("version: 1\n\tcluster: x\n", "\t", "not valid YAML: found a tab character"),
        ('version: "1\n', None, "not valid YAML: found unexpected end of stream"),
        # the C parser's "found character that cannot start any token", the character named
        ("version: 1\ndomains:\n\ta.com: {}\n", "\t",
         "not valid YAML: found a tab where YAML allows only spaces; indent with spaces"),
        ("version: 1\ncluster: @x\n", "@",
         "not valid YAML: '@' cannot start a value in YAML; quote the value"),
        ("vérsion: 1\nclüster: `x\n", "`",
         "not valid YAML: a back-tick cannot start a value in YAML; quote the value"),
    ],
)  # fmt: skip
def test_not_yaml(text: str, needle: str | None, message: str) -> None:
    problem = one_problem(text)
    assert problem.code == "Y001"
    assert problem.message.startswith(message)
    if needle is not None:
        assert (problem.line, problem.col) == pos(text, needle)


@pytest.mark.parametrize(
    ("text", "needle", "shown"),
    [
        ("version: 1\ncluster: a\x00b\n", "\x00", "U+0000"),
        ("version: 1\ncluster: ab\x07\n", "\x07", "U+0007"),
        ("version: 1\ncluster: \ufffe\n", "\ufffe", "U+FFFE"),
    ],
)
def test_a_character_yaml_refuses_is_located_in_one_sentence(
    text: str, needle: str, shown: str
) -> None:
    problem = one_problem(text)
    assert problem.code == "Y001"
    assert (problem.line, problem.col) == pos(text, needle)
    assert problem.message == f"not valid YAML: the character {shown} is not allowed in YAML"


@pytest.mark.parametrize(
    ("brk", "shown"),
    [
        ("\x85", "the control character U+0085"),
        ("\u2028", "the line separator U+2028"),
        ("\u2029", "the paragraph separator U+2029"),
        ("\r", "a carriage return"),  # alone: CRLF is one line break for both
    ],
)
@pytest.mark.parametrize(
    "where",
    [
        "# reviewed{brk}domains: {{gmail.com: {{outbound: {{starttls: false}}}}}}\n",
        "domains:\n  # n{brk}  gmail.com: {{outbound: {{starttls: false}}}}\n  x.example: {{}}\n",
        "access: [Connect:127 RELAY] # ok{brk}\n",
        'defaults: {{mc: {{defines: {{confREJECT_MSG: "550 go{brk}away"}}}}}}\n',
        "defaults: {{mc: {{defines: {{confREJECT_MSG: '550 go{brk}away'}}}}}}\n",
        "defaults: {{mc: {{defines: {{confREJECT_MSG: 550 go{brk}away}}}}}}\n",
        "defaults:\n  mc:\n    extra: |\n      dnl a{brk}b\n",
    ],
)
def test_yaml_11_line_breaks_written_as_themselves_are_refused(
    where: str, brk: str, shown: str
) -> None:
    """NEL, U+2028 and U+2029 end a line for ruamel's scanner (YAML 1.1) but not in a
    diff or YAML 1.2, and so does a CR alone (in YAML 1.2 too) but not for git or diff:
    in a comment, what follows was read as spec text the reviewer saw as a comment (a
    domain's STARTTLS turned off), and each position after it was off. Wherever one
    stands, it is one Y001 at its own line and column."""
    text = with_lines(where.format(brk=brk))
    if brk + "\n" in text and brk == "\r":  # CRLF: one line break for the parser and git
        assert all("ends a line" not in p.message for p in load_problems(text))
        return
    for at_size in (text, text + "# pad\n" * 6000):  # the fast path's size too
        problem = one_problem(at_size)
        assert (problem.code, problem.severity) == ("Y001", "error")
        assert (problem.line, problem.col) == pos(text, brk)
        assert problem.message == (
            f"not valid YAML: {shown} ends a line for the YAML parser but not in a diff, so"
            " what follows it in a comment would be read as spec; remove it or write it"
            " escaped in a double-quoted string"
        )


@pytest.mark.parametrize("control", list(BIDI_CONTROLS), ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(
    "where",
    [
        "# reviewed {c}}}yfirev :tseuqer{{ :dnuobtuo\ndomains: {{a.example: {{}}}}\n",
        "domains:\n  a.example: {{outbound: {{require: may}}}} # {c} verify\n",
        "access:\n  - Connect:127 RELAY{c}\n",
        'defaults: {{mc: {{defines: {{confREJECT_MSG: "550 go{c}away"}}}}}}\n',
        "defaults: {{mc: {{defines: {{confREJECT_MSG: 550 go{c}away}}}}}}\n",
        "defaults:\n  mc:\n    extra: |\n      dnl a{c}b\n",
        "domains:\n  {c}a.example: {{}}\n",
    ],
)
def test_bidi_controls_written_as_themselves_are_refused(where: str, control: str) -> None:
    """A diff shows a line holding one in another order than the parser reads it
    (Trojan Source): a value can look like a comment and a comment like a value.
    Wherever one stands, it is one Y001 at its own line and column."""
    text = with_lines(where.format(c=control))
    for at_size in (text, text + "# pad\n" * 6000):  # the fast path's size too
        problem = one_problem(at_size)
        assert (problem.line, problem.col, problem.code) == (*pos(text, control), "Y001")
        assert problem.message.startswith(
            f"not valid YAML for tlsc: the character U+{ord(control):04X} ("
        )
        assert problem.message.endswith(
            "makes a diff show the line in another order than the parser reads it; remove it"
            " or write it escaped in a double-quoted string"
        )


def test_a_bidi_control_escaped_in_a_double_quoted_string_is_seen() -> None:
    text = with_lines('defaults: {mc: {defines: {confREJECT_MSG: "550 go\\u202eaway"}}}\n')
    assert load_text(text).data["defaults"]["mc"]["defines"]["confREJECT_MSG"] == "550 go\u202eaway"


@pytest.mark.parametrize("pad", [0, 6000])  # the fast path's size too
def test_crlf_line_breaks_are_one_line_break(pad: int) -> None:
    """CRLF, which git and diff read as one line break too, loads as the LF text does,
    at the same positions; only a CR alone is refused (above)."""
    text = with_lines("domains:\n  # note\n  gmail.com: {outbound: encrypt}\n") + "# pad\n" * pad
    lf, crlf = load_text(text, "s.yaml"), load_text(text.replace("\n", "\r\n"), "s.yaml")
    assert crlf.data == lf.data
    assert crlf.positions == lf.positions
    assert crlf.key_positions == lf.key_positions


def test_unclosed_flow_sequence_position() -> None:
    problem = one_problem("version: 1\nhosts: [a, b\n")
    assert (problem.line, problem.col) == (3, 1)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n", "null\n"])
def test_empty_spec(text: str) -> None:
    assert one_problem(text) == Problem("s.yaml", 1, 1, "Y005", "error", "the spec is empty")


@pytest.mark.parametrize(("text", "col"), [("- a\n- b\n", 1), ("just text\n", 1), ("  42\n", 3)])
def test_spec_must_be_a_mapping(text: str, col: int) -> None:
    assert one_problem(text) == Problem(
        "s.yaml", 1, col, "Y005", "error", "the spec must be a mapping of keys"
    )


@pytest.mark.parametrize(
    ("text", "needle", "message"),
    [
        (
            "cluster: !!binary aGVsbG8=\n",
            "!!binary",
            "YAML tag !!binary is not allowed in a spec; write a plain value",
        ),
        ("cluster: !custom x\n", "!custom", "YAML tag !custom is not allowed in a spec"),
        ("? [a, b]\n: c\n", "[a, b]", "a mapping key must be a plain scalar"),
        ("!k key: c\n", "!k", "YAML tag !k is not allowed in a spec"),
    ],
)
def test_tags_and_complex_keys_are_refused(text: str, needle: str, message: str) -> None:
    problem = one_problem(text)
    assert (problem.line, problem.col, problem.code) == (*pos(text, needle), "Y004")
    assert message in problem.message


@pytest.mark.parametrize(
    ("text", "needle", "shown"),
    [
        # the composer would hand back a plain mapping or list for these
        ("domains:\n  a.example.com: !evil {outbound: encrypt}\n", "!evil", "!evil"),
        ("domains:\n  a.example.com: !evil\n    outbound: encrypt\n", "!evil", "!evil"),
        ("access: !evil [a, b]\n", "!evil", "!evil"),
        ("access:\n  - !evil Connect:127 RELAY\n", "!evil", "!evil"),
        ("cluster: !!str colo\n", "!!str", "!!str"),
        ("version: !!int 1\n", "!!int", "!!int"),
        ("hosts: !!map {}\n", "!!map", "!!map"),
        ("access: !!seq []\n", "!!seq", "!!seq"),
        ("cluster: !<tag:x> colo\n", "!<tag:x>", "!<tag:x>"),
        ("cluster: ! colo\n", "! colo", "!"),
        (
            "%TAG !e! tag:e.example,2000:\n---\ncluster: !e!x colo\n",
            "!e!x",
            "!<tag:e.example,2000:x>",
        ),
        ("cluster: &c !evil colo\nother: *c\n", "&c", "!evil"),  # placed at its anchor
    ],
)
def test_every_tag_is_refused(text: str, needle: str, shown: str) -> None:
    problem = one_problem(text)
    assert (problem.line, problem.col, problem.code) == (*pos(text, needle), "Y004")
    assert problem.message == f"YAML tag {shown} is not allowed in a spec; write a plain value"


@pytest.mark.parametrize(
    "text", ["!!str cluster: c\n", "? !evil cluster\n: c\n", "!<tag:x> k: v\n"]
)
def test_a_tagged_key_is_refused(text: str) -> None:
    problem = one_problem(text)
    assert problem.code == "Y004" and problem.message.startswith("YAML tag !")
    assert problem.message.endswith(" is not allowed in a spec; write a plain value")


def test_every_tag_is_reported_at_once() -> None:
    text = "a: !x 1\nb: [!!str y, !z {}]\n!k c: d\n"
    with pytest.raises(SpecLoadError) as err:
        load_text(text, "s.yaml")
    assert [(p.line, p.col) for p in err.value.problems] == [
        pos(text, "!x"),
        pos(text, "!!str"),
        pos(text, "!z"),
        pos(text, "!k"),
    ]


def test_tag_problem_gives_no_partial_data() -> None:
    with pytest.raises(SpecLoadError) as err:
        load_text("cluster: !custom x\n")
    assert err.value.partial is None


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = write_spec(tmp_path, b"version: 1\ncluster: caf\xe9\n")
    with pytest.raises(SpecLoadError) as err:
        load_file(path)
    assert err.value.problems == [
        Problem(str(path), 2, 13, "Y001", "error", "the spec is not valid UTF-8")
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SpecLoadError) as err:
        load_file(path)
    assert err.value.problems == [
        Problem(str(path), 1, 1, "Y000", "error", "cannot read the spec: No such file or directory")
    ]


# -- determinism: key order does not matter ------------------------------------


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def test_key_order_does_not_change_the_output() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = load_text(text).data
    reordered = json.dumps(_reverse_keys(data), indent=1)  # JSON is YAML too
    assert list(_reverse_keys(data)) != list(data)
    first = compile_text(text, "cluster.yaml")
    second = compile_text(reordered, "cluster.yaml")
    assert first.problems == [] and second.problems == []
    assert list(first.hosts) == list(second.hosts) == ["colo10", "colo11"]
    for host, files in first.hosts.items():
        assert list(files) == list(second.hosts[host])
        for path, body in files.items():
            assert second.hosts[host][path].encode() == body.encode(), (host, path)


def test_same_spec_same_bytes() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert compile_text(text).hosts == compile_text(text).hosts


_SCALARS = st.one_of(
    st.sampled_from(
        ["", "~", "null", "Null", "true", "False", "yes", "on", "1", "-1", "0x1F", "0o17", "017",
         "1_000", "1.5", ".5", "-.inf", ".NaN", "1e3", "2001-12-14", "2001-12-14 21:59:43.10 -5",
         "=", "<<", "a b", "Connect:127 RELAY", "12:30", "+1"]
    ),
    st.text(max_size=12),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(_SCALARS, st.sampled_from([(True, False), (False, True), (True, True), (False, False)]))
def test_the_faster_resolver_resolves_as_ruamels(value: str, implicit: tuple[bool, bool]) -> None:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from ruamel.yaml.resolver import VersionedResolver

    from compiler.spec.yamlcompose import _Resolver

    yaml = YAML(typ="safe", pure=False)
    ours, theirs = _Resolver(loader=yaml), VersionedResolver(loader=yaml)
    for kind in (ScalarNode, SequenceNode, MappingNode):
        want = theirs.resolve(kind, value, implicit)
        assert str(ours.resolve(kind, value, implicit)) == str(want)
