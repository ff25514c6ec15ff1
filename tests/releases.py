"""Run a real-tool test once for each sendmail release tlsc targets: 8.17 and 8.18.

8.17 is this machine's sendmail (Debian 12's 8.17.1.9, `realtools.SYSTEM_SENDMAIL`);
8.18 is the 8.18.1 tree scripts/fetch-sendmail-818 unpacks into a cache
directory (`realtools.sendmail_818()`, which fails, naming the script, when it
is missing: these tests never skip). Import the fixture and list it in
`__all__`, as sendmail_fixture.py's are:

    from releases import release
    from realtools import SendmailRelease

    __all__ = ["release"]

    def test_x(release: SendmailRelease) -> None:   # test_x[8.17] and test_x[8.18]
        ...release.sendmail, release.makemap, release.cf_dir, release.family...

A test that takes `release` together with `sendmail_daemon` gets daemons of
that release (built with its cf tree, run with its binary, and with the spec
key `sendmail:` naming it), unless it passes `release=` itself; a whole
module runs on both with `pytestmark = pytest.mark.usefixtures("release")`.
"""

from __future__ import annotations

import pytest
from realtools import SYSTEM_SENDMAIL, SendmailRelease, sendmail_818

#: the test ids, one a release: the spec's `sendmail:` family
RELEASE_IDS = ("8.17", "8.18")


def release_of(family: str) -> SendmailRelease:
    """The binaries and cf tree of release `family` (8.17 or 8.18) on this machine."""
    if family == "8.17":
        return SYSTEM_SENDMAIL
    if family == "8.18":
        return sendmail_818()
    raise KeyError(family)


@pytest.fixture(params=RELEASE_IDS)
def release(request: pytest.FixtureRequest) -> SendmailRelease:
    """Each release in turn (ids 8.17, 8.18)."""
    return release_of(request.param)
