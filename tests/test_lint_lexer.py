"""The m4 lexer: quotes, comments, dnl, calls and arguments, with exact positions."""

from __future__ import annotations

from compiler.lint.lexer import lex

CF = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"


def kinds(text: str, kind: str = "mc") -> list[tuple[str, tuple[int, int]]]:
    doc = lex(text, "x." + kind, kind)
    return [(e.kind, doc.pos(e.start)) for e in doc.events]


def test_positions_count_lines_and_columns_from_one() -> None:
    doc = lex("ab\ncd\n\nef", "x.mc")
    assert [doc.pos(i) for i in (0, 1, 2, 3, 6, 7)] == [
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 1),
        (3, 1),
        (4, 1),
    ]
    assert doc.line_text(2) == "cd"


def test_calls_and_arguments() -> None:
    doc = lex("FEATURE(`access_db', , ``skip'')dnl\n", "x.mc")
    (call,) = doc.calls
    assert call.name == "FEATURE" and call.closed
    assert [doc.arg_text(a) for a in call.args] == ["`access_db'", "", "``skip''"]
    assert [doc.arg_value(a) for a in call.args] == ["access_db", "", "skip"]
    assert doc.arg_quoted(call.args[0]) and not doc.arg_quoted(call.args[1])
    assert doc.dnl == [(32, 36)]


def test_nested_quotes_and_parentheses_inside_quotes() -> None:
    text = "define(`x', `a(b', `c)')dnl\n"
    doc = lex(text, "x.mc")
    assert len(doc.calls) == 1 and len(doc.calls[0].args) == 3
    assert doc.events == []


def test_dnl_inside_arguments_is_live() -> None:
    doc = lex("define(`confPRIVACY_FLAGS',dnl\n`a,b')dnl\n", "x.mc")
    (call,) = doc.calls
    assert [doc.arg_value(a) for a in call.args] == ["confPRIVACY_FLAGS", "a,b"]
    assert doc.events == []


def test_hash_is_a_comment_only_until_cf_m4_in_a_mc() -> None:
    text = "# don't `quote\n" + CF + "# we FEATURE(`x') here\n"
    doc = lex(text, "x.mc")
    assert doc.comments == [(0, 15)]
    assert doc.hash_lines == {3}
    assert [c.name for c in doc.calls if c.hash_line] == ["FEATURE"]


def test_hash_is_live_in_m4_files_and_in_mc_files_without_cf_m4() -> None:
    assert kinds("divert(-1)\n# note: `open\n", "m4") == [("unclosed-quote", (2, 9))]
    assert kinds("divert(-1)\n# note: `open\n", "mc") == [("unclosed-quote", (2, 9))]
    assert kinds("divert(-1)\n# Eric's machine\n", "mc") == [("stray-close", (2, 7))]


def test_quotes_in_dnl_comments_are_ignored() -> None:
    assert kinds("dnl # don't `quote ‘this’\nFEATURE(`x')dnl\n") == []


def test_apostrophe_opening_an_argument_is_recovered() -> None:
    doc = lex("include('/etc/mail/tls/starttls.m4')dnl\n", "x.mc")
    assert [(e.kind, doc.pos(e.start)) for e in doc.events] == [("apostrophe-open", (1, 9))]
    assert doc.first_arg(doc.calls[0]) == "/etc/mail/tls/starttls.m4'" or doc.calls[0].closed


def test_typographic_quotes_get_the_role_they_play() -> None:
    doc = lex("define(‘confX’, `don’t')dnl\n", "x.mc")
    roles = [(e.char, e.role) for e in doc.events if e.kind == "typo"]
    assert roles == [("‘", "opener"), ("’", "closer"), ("’", "text")]


def test_an_early_closing_apostrophe_is_pointed_at() -> None:
    doc = lex("define(`confREJECT_MSG', `550 We don't accept')dnl\n", "x.mc")
    (event,) = doc.events
    assert event.kind == "stray-close" and doc.pos(event.ref) == (1, 37)


def test_a_quote_left_open_is_reported_where_it_opens() -> None:
    text = "define(`confX', `v)dnl\ndnl # don't\n"
    doc = lex(text, "x.mc")
    event = doc.events[0]
    assert event.kind == "open-across-line" and doc.pos(event.start) == (1, 17)
    assert doc.pos(event.ref) == (2, 10)
    never = lex("define(`confX', `v)dnl\nFEATURE(`y')dnl\n", "x.mc").events[0]
    assert never.kind == "open-across-line" and never.ref == -1


def test_multi_line_quotes_that_start_with_dnl_are_fine() -> None:
    text = "ifdef(`x', `dnl\ndefine(`y', `z')dnl\n')dnl\n"
    doc = lex(text, "x.m4", "m4")
    assert doc.events == []
    assert [c.name for c in doc.all_calls()] == ["ifdef", "define"]
    assert doc.all_calls()[1].in_quotes


def test_unclosed_call_and_dnl_in_arguments() -> None:
    assert kinds("define(`x', `y'dnl\nFEATURE(`z')dnl\n") == [
        ("dnl-in-args", (1, 16)),
        ("unclosed-call", (1, 7)),
    ]
    assert kinds("define(`x', `y'\n") == [("unclosed-call", (1, 7))]


def test_blank_before_the_parenthesis_makes_a_detached_call() -> None:
    doc = lex("FEATURE (`access_db')dnl\n", "x.mc")
    (call,) = doc.calls
    assert call.detached and call.start == 0 and call.paren == 8


def test_divert_and_section_macros_track_the_output() -> None:
    doc = lex("divert(-1)\ndefine(`a')\ndivert(0)dnl\nLOCAL_CONFIG\n", "x.mc")
    assert [(c.name, c.diversion, c.diversion_after) for c in doc.calls] == [
        ("divert", 0, -1),
        ("define", -1, -1),
        ("divert", -1, 0),
        ("LOCAL_CONFIG", 0, 1),
    ]


def test_changequote_stops_the_lexer() -> None:
    doc = lex("changequote([,])dnl\ndefine([x], [y'])dnl\n", "x.mc")
    assert [e.kind for e in doc.events] == ["changequote"]
    assert doc.stopped_at == 0
    assert kinds("changequote`'dnl\ndefine(`x')dnl\n") == []


def test_changecom_is_followed() -> None:
    text = "changecom(`;')dnl\n; it's a comment now\n# don't\n"
    doc = lex(text, "x.m4", "m4")
    assert doc.comments == [(18, 39)]
    assert [(e.kind, e.context) for e in doc.events] == [("stray-close", "hash")]


def test_crlf_line_ends() -> None:
    assert kinds(CF.replace("\n", "\r\n") + "FEATURE(`x')dnl\r\n") == []
