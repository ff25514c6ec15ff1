"""tlsc doctor's release checks on the real binaries: version (D034) and build flags (D035)."""

from __future__ import annotations

from pathlib import Path

import pytest
from realtools import SYSTEM_SENDMAIL, SendmailRelease, sendmail_818

from compiler.doctor.binary import binary_version, build_flags, check_release, run_sendmail_check
from compiler.spec.model import HostSettings, Tls

pytestmark = pytest.mark.realtools


def output_of(release: SendmailRelease, tmp_path: Path) -> str:
    empty = tmp_path / "empty.cf"
    empty.touch()
    output, finished = run_sendmail_check(str(release.sendmail), empty, "mx1.example.net")
    assert finished, output
    return output


@pytest.mark.parametrize("which", ["8.17", "8.18"])
def test_version_and_flags_of_the_real_binaries(tmp_path: Path, which: str) -> None:
    release = SYSTEM_SENDMAIL if which == "8.17" else sendmail_818()
    output = output_of(release, tmp_path)
    assert binary_version(output) == release.version
    flags = build_flags(output)
    assert "STARTTLS" in flags and ("DANE" in flags) is (which == "8.18")
    # both Debian builds have MTA-STS, listed among the FFR flags (-d0.13 prints them)
    assert "_FFR_MTA_STS" in build_flags(output, "FFR Defines:")
    assert "_FFR_MTA_STS" not in flags


@pytest.mark.parametrize(
    ("which", "target", "dane", "codes"),
    [
        ("8.17", "8.17.1.9", False, []),
        ("8.17", "8.17.1.8", False, ["D034"]),
        ("8.18", "8.18", True, []),
        ("8.17", "8.17", True, ["D035"]),
    ],
)
def test_check_release(
    tmp_path: Path, which: str, target: str, dane: bool, codes: list[str]
) -> None:
    release = SYSTEM_SENDMAIL if which == "8.17" else sendmail_818()
    settings = HostSettings(sendmail=target, tls=Tls(dane=dane))
    found = check_release("sendmail", output_of(release, tmp_path), settings, "mx1")
    assert [f.code for f in found] == codes
    assert all(f.severity == "error" and f.fix for f in found)
