"""compiler/plan/ownership.py: splicing tlsc's parts into a host's own files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.plan.ownership import BlockError, splice_block, splice_mc, splice_tls_access
from compiler.render.mc import mc_block

BLOCK = "# BEGIN tlsc\nTLS_Srv:a.example\tVERIFY\n# END tlsc\n"


def test_no_file_is_just_the_block() -> None:
    assert splice_block(None, BLOCK).text == BLOCK
    assert splice_block("", BLOCK).text == BLOCK


def test_block_replaces_the_old_one_and_keeps_every_other_byte() -> None:
    observed = "A\tOK\r\n# BEGIN tlsc\nold\tOK\n# END tlsc\nB\tOK   \n"
    spliced = splice_block(observed, BLOCK)
    assert spliced.replaced
    assert spliced.text == "A\tOK\r\n" + BLOCK + "B\tOK   \n"


def test_block_is_appended_when_absent() -> None:
    assert splice_block("A\tOK\n", BLOCK).text == "A\tOK\n" + BLOCK
    assert splice_block("A\tOK", BLOCK).text == "A\tOK\n" + BLOCK
    assert not splice_block("A\tOK\n", BLOCK).replaced


@pytest.mark.parametrize(
    ("observed", "message"),
    [
        ("# BEGIN tlsc\nx\n", "has '# BEGIN tlsc' on line 1 but no '# END tlsc'"),
        ("x\n# END tlsc\n", "has '# END tlsc' on line 2 but no '# BEGIN tlsc'"),
        ("# END tlsc\n# BEGIN tlsc\n", "'# END tlsc' on line 1 before '# BEGIN tlsc' on line 2"),
        (
            "# BEGIN tlsc\n# END tlsc\n# BEGIN tlsc\n# END tlsc\n",
            "'# BEGIN tlsc' on lines 1 and 3",
        ),
    ],
)
def test_broken_markers_are_refused(observed: str, message: str) -> None:
    with pytest.raises(BlockError, match=message):
        splice_block(observed, BLOCK, "/etc/mail/access")


#: every character str.splitlines() ends a line at, \n aside: makemap and m4 (and so
#: tlsc) end a line at \n alone (a CR before \n is a CRLF line end, kept in its line)
EDITOR_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


@pytest.mark.parametrize("ch", EDITOR_BREAKS, ids=ascii)
@pytest.mark.parametrize(
    "host",
    [
        "# mine{c}TLS_Srv:x.example\tVERIFY\n# BEGIN tlsc\nold\tOK\n# END tlsc\nB{c}c\tOK\n",
        "A\tOK\n# BEGIN tlsc\nold{c}x\tOK\n# a{c}b\n# END tlsc\nFrom:q\tOK # {c}\n",
        "A\tOK{c}\nFrom:q{c}\tREJECT\n",  # no block: one is appended
    ],
    ids=["before-and-after", "inside", "no-block"],
)
def test_a_line_break_of_editors_alone_stays_in_its_line(host: str, ch: str) -> None:
    """The block is found at \\n lines only, and every host byte outside it is kept."""
    observed = host.format(c=ch)
    out = splice_block(observed, BLOCK, "/etc/mail/access").text
    lines, old = out.split("\n"), observed.split("\n")
    begin, end = lines.index("# BEGIN tlsc"), lines.index("# END tlsc")
    assert "\n".join(lines[begin : end + 1]) + "\n" == BLOCK
    if "# BEGIN tlsc" in old:
        assert lines[:begin] == old[: old.index("# BEGIN tlsc")]
        assert lines[end + 1 :] == old[old.index("# END tlsc") + 1 :]
    else:
        assert out == observed + BLOCK
    assert splice_block(out, BLOCK, "/etc/mail/access").text == out


@pytest.mark.parametrize("ch", EDITOR_BREAKS, ids=ascii)
@pytest.mark.parametrize(
    ("host", "line", "col"),
    [
        ("A\tOK\n# note{c}# BEGIN tlsc\nB\tOK\n# END tlsc\n", 2, 7),
        ("# BEGIN tlsc\nold\tOK\nFrom:q\tOK{c}# END tlsc\n", 3, 10),
        ("# BEGIN tlsc{c} \nold\tOK\n# END tlsc\n", 1, 13),
        ("# BEGIN tlsc\n# END tlsc{c}x\n", 2, 11),
    ],
    ids=["fake-begin", "fake-end", "begin-tail", "end-tail"],
)
def test_a_marker_set_apart_by_an_editors_line_break_is_refused(
    host: str, line: int, col: int, ch: str
) -> None:
    """An editor shows a marker there that makemap and tlsc do not read as one: the
    file is not edited around a block its reader does not see."""
    with pytest.raises(BlockError) as err:
        splice_block(host.format(c=ch), BLOCK, "/etc/mail/access")
    assert str(err.value).startswith("/etc/mail/access has ")
    assert f" on line {line}, column {col}, where an editor breaks the line" in str(err.value)
    assert "\n" not in str(err.value)


# -- ownership: tls -------------------------------------------------------------------

TLS_PATH = "/etc/mail/tls/starttls.m4"
INCLUDE = f"include(`{TLS_PATH}')dnl\n"
MC_HEAD = "divert(0)dnl\ninclude(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
MAILERS = "dnl # mailers\nMAILER_DEFINITIONS\nMAILER(`local')dnl\nMAILER(`smtp')dnl\n"
MARKED = mc_block(TLS_PATH)
CERT = "define(`confSERVER_CERT', `/x.pem')dnl\n"


def test_the_include_block_goes_right_before_the_first_mailer_line() -> None:
    mc = MC_HEAD + "FEATURE(`access_db')dnl\n" + MAILERS
    out = splice_mc(mc, TLS_PATH, True, "sendmail.mc")
    assert out == MC_HEAD + "FEATURE(`access_db')dnl\ndnl # mailers\n" + MARKED + MAILERS[14:]
    # the host's bytes are all still there, in order; only the block was added
    assert out.replace(MARKED, "") == mc


@pytest.mark.parametrize(
    "mc",
    [
        MC_HEAD + INCLUDE + MAILERS,  # the vendor page's line, where it belongs
        MC_HEAD + "include(`/etc/mail/tls/starttls.m4')dnl # TLS\n" + MAILERS,
        MC_HEAD + "dnl # BEGIN tlsc\n" + INCLUDE + "dnl # END tlsc\n" + MAILERS,
        MC_HEAD + "FEATURE(`x')dnl\n",  # no MAILER at all: the end will do
    ],
    ids=["vendor-line", "trailing-comment", "tlsc-block", "no-mailer"],
)
def test_a_host_that_already_has_it_is_left_alone(mc: str) -> None:
    if "MAILER" not in mc:
        mc = splice_mc(mc, TLS_PATH, True, "sendmail.mc")
        assert mc.endswith(MARKED)
    assert splice_mc(mc, TLS_PATH, True, "sendmail.mc") == mc


def test_an_include_after_the_mailers_is_moved_before_them() -> None:
    mc = MC_HEAD + MAILERS + INCLUDE
    out = splice_mc(mc, TLS_PATH, True, "sendmail.mc")
    assert out == MC_HEAD + "dnl # mailers\n" + MARKED + MAILERS[14:]


def test_tls_off_takes_out_every_include_of_the_file_and_nothing_else() -> None:
    other = "include(`/etc/mail/m4/dialup.m4')dnl\n"
    mc = MC_HEAD + other + INCLUDE + "dnl # BEGIN tlsc\n" + INCLUDE + "dnl # END tlsc\n" + MAILERS
    assert splice_mc(mc, TLS_PATH, False, "sendmail.mc") == MC_HEAD + other + MAILERS
    plain = MC_HEAD + other + MAILERS
    assert splice_mc(plain, TLS_PATH, False, "sendmail.mc") is plain
    # a commented-out include is not an include
    commented = MC_HEAD + "dnl " + INCLUDE + MAILERS
    assert splice_mc(commented, TLS_PATH, False, "sendmail.mc") == commented


def test_broken_mc_markers_stop_the_plan() -> None:
    with pytest.raises(
        BlockError, match="has 'dnl # BEGIN tlsc' on line 4 but no 'dnl # END tlsc'"
    ):
        splice_mc(MC_HEAD + "dnl # BEGIN tlsc\n" + MAILERS, TLS_PATH, True, "sendmail.mc")


def test_tls_access_leaves_a_file_alone_until_there_is_something_to_own() -> None:
    empty_block = "# BEGIN tlsc\n# access for host h1.\n# END tlsc\n"
    host = "# Debian's comments\nConnect:127\tRELAY\n"
    assert splice_tls_access(host, empty_block, "access").text == host
    # once there is a block, it is kept (and emptied) rather than left stale
    had = host + "# BEGIN tlsc\nTLS_Srv:a.example\tENCR:128\n# END tlsc\n"
    assert splice_tls_access(had, empty_block, "access").text == host + empty_block


def test_tls_access_makes_no_file_while_it_would_hold_no_entry() -> None:
    """No access file (or an empty one) and nothing to own: none is made, none is filled."""
    empty_block = "# BEGIN tlsc\n# access for host h1.\n# END tlsc\n"
    assert splice_tls_access(None, empty_block, "access").text == ""
    assert splice_tls_access("", empty_block, "access").text == ""
    block = "# BEGIN tlsc\nTLS_Srv:a.example\tVERIFY\n# END tlsc\n"
    assert splice_tls_access(None, block, "access").text == block


def test_tls_access_keeps_a_host_line_that_already_says_what_the_block_would() -> None:
    """An adopted host's own TLS rule stays where it is: no block while nothing is missing."""
    host = "# rules\nTLS_Srv:a.example ENCR:128\nConnect:127\tRELAY\n"
    block = "# BEGIN tlsc\n# domains\nTLS_Srv:a.example\tENCR:128\n# END tlsc\n"
    assert splice_tls_access(host, block, "access").text == host
    more = block.replace("# END", "TLS_Srv:b.example\tVERIFY\n# END")
    out = splice_tls_access(host, more, "access").text
    assert out == host + "# BEGIN tlsc\n# domains\nTLS_Srv:b.example\tVERIFY\n# END tlsc\n"
    assert splice_tls_access(out, more, "access").text == out  # and it stays so


def test_tls_access_takes_over_host_lines_for_the_keys_it_writes() -> None:
    """...and the TLS rules an import reads into the spec: b.example's, which the spec
    no longer has, goes; a line tlsc cannot model (c.example's) stays the host's."""
    host = "Connect:127\tRELAY\nTLS_Srv:a.example\tENCR:112\ntls_srv:b.example\tVERIFY\n"
    host += "TLS_Srv:c.example\tVERIFY:bits\n"
    block = "# BEGIN tlsc\nTLS_Srv:A.example\tENCR:128\n# END tlsc\n"
    out = splice_tls_access(host, block, "access").text
    assert out == "Connect:127\tRELAY\nTLS_Srv:c.example\tVERIFY:bits\n" + block


@given(
    before=st.lists(
        st.sampled_from(["dnl # c\n", "FEATURE(`x')dnl\n", INCLUDE, "\n", CERT]), max_size=4
    ),
    after=st.lists(st.sampled_from(["MAILER(`smtp')dnl\n", INCLUDE, "dnl # c\n"]), max_size=4),
    enabled=st.booleans(),
)
def test_splicing_twice_changes_nothing_more(
    before: list[str], after: list[str], enabled: bool
) -> None:
    mc = MC_HEAD + "".join(before) + "".join(after)
    once = splice_mc(mc, TLS_PATH, enabled, "sendmail.mc")
    assert splice_mc(once, TLS_PATH, enabled, "sendmail.mc") == once
    assert once.count(f"include(`{TLS_PATH}')") == (1 if enabled else 0)
    if enabled and "MAILER(" in once:
        assert once.index(f"include(`{TLS_PATH}')") < once.index("MAILER(")
    if enabled and CERT in once:
        assert once.rindex(CERT) < once.index(f"include(`{TLS_PATH}')")


def test_the_include_goes_after_the_hosts_own_tls_defines() -> None:
    """A later define wins: tlsc's starttls.m4 is included after every TLS option the
    host's .mc sets itself, so the spec's tls: has the last word."""
    mc = MC_HEAD + CERT + "FEATURE(`access_db')dnl\n" + MAILERS
    out = splice_mc(mc, TLS_PATH, True, "sendmail.mc")
    assert out.index(CERT) < out.index(MARKED) < out.index("MAILER_DEFINITIONS")
    # the host's own include before its define is moved after it, still before the MAILERs
    mc = MC_HEAD + INCLUDE + CERT + MAILERS
    out = splice_mc(mc, TLS_PATH, True, "sendmail.mc")
    assert out == MC_HEAD + CERT + "dnl # mailers\n" + MARKED + MAILERS[14:]
    # one inside an ifdef counts too
    guarded = "ifdef(`x', `define(`confCACERT', `/ca.pem')')dnl\n"
    out = splice_mc(MC_HEAD + INCLUDE + guarded + MAILERS, TLS_PATH, True, "sendmail.mc")
    assert out.index(guarded) < out.index(MARKED)


def test_tls_defines_after_the_mailers_get_the_include_right_after_them() -> None:
    """m4 writes the options at the end of input (proto.m4 by m4wrap), so an include after
    the MAILER lines still sets them; a FEATURE there would not work, and is refused."""
    mc = MC_HEAD + MAILERS + CERT + "dnl # the end\n"
    out = splice_mc(mc, TLS_PATH, True, "sendmail.mc")
    assert out == MC_HEAD + MAILERS + CERT + MARKED + "dnl # the end\n"
    assert splice_mc(out, TLS_PATH, True, "sendmail.mc") == out
    with pytest.raises(BlockError, match="on line 8, after its MAILER lines"):
        splice_mc(mc, TLS_PATH, True, "sendmail.mc", features=True)
    # off: the host's lines stay, only tlsc's include goes
    assert splice_mc(out, TLS_PATH, False, "sendmail.mc") == mc


def test_the_hosts_own_tls_options_and_their_undefines() -> None:
    from compiler.plan.ownership import _own_tls, with_undefines

    def _own_tls_defines(mc: str, path: str) -> dict[str, int]:
        return _own_tls(mc, path).defines

    mc = MC_HEAD + CERT + "define(`confCLIENT_KEY', `/k.pem')dnl\n" + MARKED + MAILERS
    mc += "undefine(`confCRL')dnl\ndefine(`confDONT_BLAME_SENDMAIL', `x')dnl\n"
    assert _own_tls_defines(mc, "sendmail.mc") == {"confSERVER_CERT": 4, "confCLIENT_KEY": 5}
    assert _own_tls_defines(MC_HEAD + INCLUDE + MAILERS, "sendmail.mc") == {}
    st = "PUSHDIVERT(-1)dnl\ndnl # tlsc\nPOPDIVERT`'dnl\ndefine(`confSERVER_CERT', ``/y.pem'')dnl\n"
    out = with_undefines(st, ["confSERVER_CERT", "confCLIENT_KEY"])
    assert out == st.replace("`'dnl\n", "`'dnl\nundefine(`confCLIENT_KEY')dnl\n")
    assert with_undefines(st, ["confSERVER_CERT"]) is st


def test_a_pull_request_plan_compares_tlscs_part_of_an_adopted_mc(tmp_path: Path) -> None:
    """`plan --base`/`--state` see what a spec compiled to, not a host: an adopted
    host's .mc there is tlsc's part alone, compared as such, never refused."""
    from plan_helpers import host, plan_state

    old = (
        "version: 1\ncluster: c\nhosts:\n"
        "  h1: {fqdn: h1.example.net, ownership: tls, tls: {enabled: false}}\n"
    )
    new = old.replace("tls: {enabled: false}", "tls: {ca_cert: /etc/mail/tls/ca.crt}")
    assert {f.action for f in host(plan_state(tmp_path / "a", old, old), "h1").files} <= {
        "unchanged"
    }
    h1 = host(plan_state(tmp_path / "b", old, new), "h1")
    mc = next(f for f in h1.files if f.path == "/etc/mail/sendmail.mc")
    assert mc.action == "create" and "+include(`/etc/mail/tls/starttls.m4')dnl" in mc.diff


@pytest.mark.parametrize("ch", EDITOR_BREAKS, ids=ascii)
def test_the_include_is_placed_by_m4s_lines(ch: str) -> None:
    """An .mc line holding an editor's line break is one line to m4: the include still
    goes after the host's TLS define, not one line early (where that define would win)."""
    mc = MC_HEAD + f"dnl # a note{ch}more of it\n" + CERT + MAILERS
    out = splice_mc(mc, TLS_PATH, True, "sendmail.mc")
    assert (
        out
        == MC_HEAD
        + f"dnl # a note{ch}more of it\n"
        + CERT
        + "dnl # mailers\n"
        + MARKED
        + MAILERS[14:]
    )
    with pytest.raises(BlockError, match=r"on line 4, column 6, where an editor"):
        splice_mc(MC_HEAD + f"dnl x{ch}{MARKED}" + MAILERS, TLS_PATH, True, "sendmail.mc")


@pytest.mark.parametrize("ch", EDITOR_BREAKS, ids=ascii)
def test_tls_access_reads_a_host_line_as_makemap_does(ch: str) -> None:
    """A comment line whose tail an editor shows as the block's entry is a comment to
    makemap: the entry is still written, and the host's line kept as it is."""
    from import_helpers import makemap_dump

    host = f"Connect:127\tRELAY\n# x{ch}TLS_Srv:a.example\tENCR:128\n"
    block = "# BEGIN tlsc\nTLS_Srv:a.example\tENCR:128\n# END tlsc\n"
    out = splice_tls_access(host, block, "access").text
    assert out == host + block
    assert makemap_dump(host) == ["connect:127\tRELAY"]  # the rule is not in the host's map
    assert "tls_srv:a.example\tENCR:128" in makemap_dump(out)


#: ownership: block and a host line outside the block with a key the block writes
_SECOND_KEY_SPEC = """\
version: 1
cluster: c
defaults:
  ownership: block
hosts:
  mx1: {fqdn: mx1.example.org}
domains:
  secure.example.com: {outbound: encrypt}
access:
  - Connect:127 RELAY
"""


@pytest.mark.realtools
@pytest.mark.parametrize(
    ("host_line", "key"),
    [
        ("TLS_Srv:secure.example.com\tVERIFY:64", "TLS_Srv:secure.example.com"),
        ("TLS_Srv:secure.example.com\tENCR:128", "TLS_Srv:secure.example.com"),  # the same
        ("tls_srv:SECURE.example.com   ENCR:256", "tls_srv:SECURE.example.com"),
        ("Connect:127 REJECT", "Connect:127"),
        ("TLS_Srv:other.example\tVERIFY", None),  # another key: the host's own
    ],
)
def test_block_ownership_refuses_a_host_line_with_a_key_the_block_writes(
    tmp_path: Path, host_line: str, key: str | None
) -> None:
    from conftest import run_cli
    from realtools import makemap_roundtrip, scratch_dir

    spec = tmp_path / "cluster.yaml"
    spec.write_text(_SECOND_KEY_SPEC, encoding="utf-8")
    access = tmp_path / "state/mx1/etc/mail/access"
    access.parent.mkdir(parents=True)
    access.write_text(f"{host_line}\n# BEGIN tlsc\n# END tlsc\n", encoding="utf-8")
    rc, out, err = run_cli("plan", spec, "--state", tmp_path / "state")
    block = "TLS_Srv:secure.example.com\tENCR:128\nConnect:127\tRELAY\n"
    with scratch_dir("dupkey") as work:  # what apply would build: makemap says why
        made, stderr, _ = makemap_roundtrip(f"{host_line}\n{block}", work)
    if key is None:
        assert rc == 0 and made == 0, out + err + stderr
        return
    assert made == 65 and "duplicate key" in stderr
    assert rc == 1 and out == ""
    assert err == (
        f"tlsc plan: host mx1: /etc/mail/access line 1, outside the tlsc block, has the key"
        f" {key}, which the block writes too: makemap keeps the first of the two and fails"
        " (duplicate key); take that line out of the file, or give the host ownership: tls,"
        " which takes such lines over\n"
    )


@pytest.mark.parametrize(
    ("host_value", "kept"),
    [("ENCR:128", True), ("encr:128", True), ("Encr:128  ", True), ("ENCR:256", False)],
)
def test_tls_access_keeps_a_host_line_in_another_spelling_of_the_same_value(
    host_value: str, kept: bool
) -> None:
    """`encr:128` is ENCR:128 to sendmail's rulesets (the import says 'same meaning'):
    an adopted host's line stays where it is, so the first plan is empty."""
    host = f"Connect:127\tRELAY\nTLS_Srv:a.example\t{host_value}\n"
    block = "# BEGIN tlsc\nTLS_Srv:a.example\tENCR:128\n# END tlsc\n"
    out = splice_tls_access(host, block, "access").text
    assert (out == host) == kept, out
    if not kept:
        assert out == "Connect:127\tRELAY\n" + block
