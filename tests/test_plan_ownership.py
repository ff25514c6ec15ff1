"""compiler/plan/ownership.py: splicing tlsc's block into a host's access file."""

from __future__ import annotations

import pytest

from compiler.plan.ownership import BlockError, splice_block

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
