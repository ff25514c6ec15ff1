"""What m4 may read and run when tlsc builds, lints or imports a .mc (issue 11, 3 and 4).

3. m4 copies every file it includes into the world-readable sendmail.cf, so
   `mc.cf_m4` must be sendmail-cf's cf.m4 and an include in `mc.extra` must
   name a file below the cf tree, /etc/mail or a managed directory (S219);
   and the rendered .mc makes m4 itself refuse any other file (the include
   guard right after the switch-off line), whatever spelling slipped past.
4. `lint --deep` and `import` build a .mc tlsc did not write: m4 reads a
   prefix that switches off the builtins that run commands before it reads
   the file, and runs under time and memory limits.

Every claim is checked with the real m4 and sendmail's cf.m4, each with a
control showing the real m4 does the harmful thing without the fix. The
builds of a compiled .mc run with the cf tree of each release
(tests/releases.py: 8.17.1.9's and 8.18.1's).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from import_helpers import PLAIN_MC, PLAIN_STARTTLS, imported, write_tree
from realtools import (
    EXAMPLES,
    SendmailRelease,
    cf_version,
    compile_dict,
    m4_build,
    scratch_dir,
    spec,
    with_cf_tree,
)
from releases import release

from compiler.apply import confine
from compiler.apply.build import BuildError, build_cf
from compiler.cli import main
from compiler.compile import compile_file
from compiler.m4run import CPU_SECONDS, PREFIX_NAME, m4_argv, stopped_by_limit, write_prefix
from compiler.sendmail.m4text import (
    INCLUDE_GUARD_COMMENT,
    SWITCH_OFF_LINE,
    include_guard,
    read_prefixes,
)

MC = "/etc/mail/sendmail.mc"
ST = "/etc/mail/tls/starttls.m4"
CF_M4 = "/usr/share/sendmail/cf/m4/cf.m4"
SECRET = "tlsc-test-secret-line"
REFUSED = "tlsc: m4 refuses to read "
M4 = ["m4", "-D_NO_MAKEINFO_", "-"]

__all__ = ["release"]  # a fixture, imported for pytest


def codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.code, p.message) for p in compile_dict(data).problems]


def secret_file(tmp: Path) -> Path:
    path = tmp / "private" / "shadow"
    path.parent.mkdir()
    path.write_text(f"root:{SECRET}:19000:0:99999:7:::\n")
    path.chmod(0o600)
    return path


def compiled(extra: list[str] | None = None) -> dict[str, str]:
    data = spec(defaults={"mc": {"extra": extra or []}})
    result = compile_dict(data)
    assert result.ok, result.problems
    return result.hosts["h1"]


def with_line(mc_text: str, line: str) -> str:
    """The .mc with a raw line before the starttls include: validation bypassed."""
    anchor = f"include(`{ST}')dnl\n"
    assert anchor in mc_text
    # a trailing comment, so that m4_build does not take the line for the starttls include
    return mc_text.replace(anchor, line + " dnl by hand\n" + anchor)


def without_guard(mc_text: str) -> str:
    lines = mc_text.split("\n")
    at = lines.index(INCLUDE_GUARD_COMMENT)
    return "\n".join(lines[:at] + lines[at + 2 :])


# -- 3: cf_m4 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cf_m4",
    [
        "/etc/shadow",
        "/home/user/m4/cf.m4",
        "/tmp/m4/cf.m4",
        "/usr/share/sendmail/cf/m4/proto.m4",
    ],
)
def test_cf_m4_must_be_the_cf_m4_of_a_sendmail_cf_tree(cf_m4: str) -> None:
    got = codes(spec(defaults={"mc": {"cf_m4": cf_m4}}))
    assert [c for c, _ in got] == ["S219"], got
    assert got[0][1].startswith(f"mc.cf_m4 is '{cf_m4}', but it can only be sendmail-cf's cf.m4")
    assert "world-readable sendmail.cf" in got[0][1]


@pytest.mark.parametrize(
    "cf_m4",
    [
        CF_M4,
        "/usr/share/sendmail-cf/m4/cf.m4",
        "/etc/mail/cf/m4/cf.m4",
        "/opt/sendmail/cf/m4/cf.m4",
    ],
)
def test_cf_m4_of_any_cf_tree_is_accepted(cf_m4: str) -> None:
    assert codes(spec(defaults={"mc": {"cf_m4": cf_m4}})) == []


@pytest.mark.realtools
def test_the_real_m4_copies_the_file_cf_m4_names_into_the_cf() -> None:
    """The control for S219 on cf_m4: m4 includes whatever file it is given."""
    with scratch_dir("cfm4") as tmp:
        secret = secret_file(tmp)
        mc = compiled()[MC].replace(CF_M4, str(secret), 1)
        (tmp / "x.mc").write_text(mc)
        proc = subprocess.run(["m4", "x.mc"], cwd=tmp, capture_output=True, text=True)
    assert SECRET in proc.stdout
    got = codes(spec(defaults={"mc": {"cf_m4": str(secret)}}))
    assert [c for c, _ in got] == ["S219"]


# -- 3: includes in mc.extra, at validation ---------------------------------------------


@pytest.mark.parametrize("macro", ["include", "sinclude"])
def test_an_include_of_a_secret_in_extra_is_refused(macro: str) -> None:
    with scratch_dir("extra") as tmp:
        secret = secret_file(tmp)
        got = codes(spec(defaults={"mc": {"extra": [f"{macro}(`{secret}')dnl"]}}))
    assert got == [
        (
            "S219",
            f"mc.extra: '{secret}' is not below /usr/share/sendmail/cf/ or /etc/mail/; m4"
            " copies an included file into the world-readable sendmail.cf, so only m4 files"
            " (.m4) below sendmail's cf tree, /etc/mail and the directories of the managed"
            " files may be included",
        )
    ]


@pytest.mark.parametrize(
    ("line", "start"),
    [
        ("include(`/usr/share/sendmail/cf/../../../etc/shadow')dnl", "mc.extra: '/usr/share"),
        ("include(`etc/shadow')dnl", "mc.extra: 'etc/shadow' is not an absolute path"),
        ("define(`x', defn(`include'))dnl", "mc.extra: include and sinclude are allowed only"),
        ("define(`x', `include($1)')x(`/etc/shadow')dnl", "mc.extra: include and sinclude"),
        ("`incl'`ude(/etc/shadow)'dnl", "mc.extra: include and sinclude are allowed only"),
    ],
)
def test_every_other_spelling_of_an_include_is_refused(line: str, start: str) -> None:
    got = codes(spec(defaults={"mc": {"extra": [line]}}))
    assert [c for c, _ in got] == ["S219"], got
    assert got[0][1].startswith(start), got


@pytest.mark.parametrize(
    "path", ["/etc/mail/tls/sendmail-common.key", "/etc/mail/sasl/sasl.pw", "/etc/mail/access"]
)
def test_an_include_of_what_is_no_m4_file_is_refused(path: str) -> None:
    """Below /etc/mail sit keys, password files and maps beside the m4 files: only an
    m4 file (.m4) may be included, or m4 copies the key into the 0644 sendmail.cf."""
    got = codes(spec(defaults={"mc": {"extra": [f"include(`{path}')dnl"]}}))
    assert [c for c, _ in got] == ["S219"], got
    assert got[0][1].startswith(f"mc.extra: '{path}' is no m4 file (.m4);"), got


def test_the_names_of_the_guard_are_refused_in_extra() -> None:
    got = codes(spec(defaults={"mc": {"extra": ["_tlsc_include(`/etc/shadow')dnl"]}}))
    assert [c for c, _ in got] == ["S209"], got
    assert "_tlsc_include is not allowed in mc.extra" in got[0][1]


def test_debian_includes_and_the_managed_directories_are_accepted() -> None:
    extra = [
        "include(`/etc/mail/m4/dialup.m4')dnl",
        "include(`/etc/mail/m4/provider.m4')dnl",
        "sinclude(`/usr/share/sendmail/cf/hack/cssubdomain.m4')dnl",
        "include(`/srv/mail/tls/extra.m4')dnl",
        "dnl # include(`/etc/shadow') is only a comment here",
    ]
    data = spec(defaults={"mc": {"extra": extra}, "paths": {"starttls_m4": "/srv/mail/tls/st.m4"}})
    assert codes(data) == []


# -- 3: the include guard, with the real m4 ---------------------------------------------


@pytest.mark.realtools
@pytest.mark.parametrize(
    "line",
    [
        "include(`{secret}')dnl",
        "sinclude(`{secret}')dnl",
        "define(`x', defn(`include'))x(`{secret}')dnl",
        "define(`x', defn(`sinclude'))x(`{secret}')dnl",
        "pushdef(`include', `x')popdef(`include')include(`{secret}')dnl",
        "include(`/usr/share/sendmail/cf/../../../..{secret}')dnl",
        "include(`/etc/mail/../..{secret}')dnl",
        "define(`x', `incl'`ude($@)')x(`{secret}')dnl",
        "undivert(`{secret}')dnl",
        "undivert(`1', `{secret}')dnl",
    ],
)
def test_m4_refuses_an_include_outside_the_allowed_directories(
    line: str, release: SendmailRelease
) -> None:
    """The .mc written by hand with a line validation would refuse: m4 itself refuses."""
    files = compiled()
    # the secret lies outside the build directory, which m4_build allows (starttls.m4)
    with scratch_dir("secret") as private, scratch_dir("guard") as tmp:
        secret = secret_file(private)
        evil = with_line(files[MC], line.format(secret=secret))
        # the control: without the guard the real m4 copies the secret into the .cf
        rc, cf, err = m4_build(without_guard(evil), files[ST], tmp, release)
        assert SECRET in cf, (rc, err)
        rc, cf, err = m4_build(evil, files[ST], tmp, release)
    assert SECRET not in cf
    assert rc == 1
    assert err.startswith(REFUSED), err
    assert "only files below the sendmail cf tree and the managed directories" in err


@pytest.mark.realtools
@pytest.mark.parametrize(
    "line", ["indir(`include', `{secret}')dnl", "builtin(`include', `{secret}')dnl"]
)
def test_indir_and_builtin_cannot_reach_m4s_own_include(
    line: str, release: SendmailRelease
) -> None:
    files = compiled()
    evil = with_line(files[MC], line.format(secret="{secret}"))
    with scratch_dir("secret") as private, scratch_dir("guard") as tmp:
        secret = secret_file(private)
        rc, cf, err = m4_build(evil.format(secret=secret), files[ST], tmp, release)
    assert SECRET not in cf
    assert rc == 0 and cf_version(cf) == release.version, err


@pytest.mark.realtools
def test_apply_build_fails_in_one_sentence_and_installs_nothing() -> None:
    files = compiled()
    with scratch_dir("guard-apply") as tmp:
        secret = secret_file(tmp)
        mc = tmp / "sendmail.mc"
        mc.write_text(with_line(files[MC], f"include(`{secret}')dnl").replace(ST, "/dev/null"))
        cf = tmp / "sendmail.cf"
        with pytest.raises(BuildError) as caught:
            build_cf(mc, cf, {})
        assert not cf.exists()
    assert f"(exit 1): {REFUSED}{secret}: only files below" in str(caught.value)


@pytest.mark.realtools
def test_the_guard_reads_the_allowed_directories(release: SendmailRelease) -> None:
    """A file below an allowed directory goes into the .cf; a bare `include` stays a word."""
    cf_m4 = CF_M4  # the release's tree is there (with_cf_tree)
    with scratch_dir("guard-ok") as tmp:
        allowed = tmp / "allowed"
        allowed.mkdir()
        (allowed / "local.m4").write_text("LOCAL_CONFIG\nCw tlsc-included.example\n")
        secret = secret_file(tmp)
        guard = "\n".join(include_guard(read_prefixes(cf_m4, [f"{allowed}/x"])))
        mc = (
            f"divert(-1)dnl\ndivert(0)dnl\ninclude(`{cf_m4}')dnl\n{SWITCH_OFF_LINE}\n{guard}\n"
            "OSTYPE(`debian')dnl\nDOMAIN(`debian-mta')dnl\nFEATURE(`access_db')dnl\n"
            f"include(`{allowed}/local.m4')dnl\nsinclude(`{allowed}/missing.m4')dnl\n"
            "LOCAL_CONFIG\n# the word include stays a word\n"
            "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
        )
        proc = subprocess.run(with_cf_tree(release, M4), input=mc, capture_output=True, text=True)
        assert (proc.returncode, proc.stderr) == (0, "")
        assert cf_version(proc.stdout) == release.version
        assert "Cw tlsc-included.example" in proc.stdout.split("\n")
        assert "# the word include stays a word" in proc.stdout.split("\n")
        bad = mc.replace(f"{allowed}/local.m4", str(secret))
        proc = subprocess.run(with_cf_tree(release, M4), input=bad, capture_output=True, text=True)
    assert SECRET not in proc.stdout and proc.stderr.startswith(REFUSED)


@pytest.mark.realtools
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_guard_leaves_every_example_cf_byte_identical(
    example: Path, release: SendmailRelease
) -> None:
    result = compile_file(example)
    assert result.ok
    for host, files in result.hosts.items():
        st = next((t for p, t in files.items() if p.endswith("starttls.m4")), None)
        mc = next(t for p, t in files.items() if p.endswith("sendmail.mc"))
        with scratch_dir("guard-same") as tmp:
            guarded = m4_build(mc, st, tmp, release)
            plain = m4_build(without_guard(mc), st, tmp, release)
        assert guarded[0] == 0 and guarded[2] == "", (host, guarded[2])
        assert guarded == plain, host


# -- 4: lint --deep and import run no command from the file ----------------------------


def evil_mc(before: Path, after: Path) -> str:
    return (
        "divert(-1)dnl\n"
        f"esyscmd(`touch {before}')dnl\n"
        "divert(0)dnl\n"
        f"include(`{CF_M4}')dnl\n"
        f"syscmd(`touch {after}')dnl\n"
        f"builtin(`syscmd', `touch {after}')dnl\n"
        "OSTYPE(`debian')dnl\n"
        "DOMAIN(`debian-mta')dnl\n"
        "FEATURE(`access_db')dnl\n"
        "MAILER(`local')dnl\n"
        "MAILER(`smtp')dnl\n"
    )


def tlsc(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.realtools
def test_the_control_plain_m4_runs_the_commands() -> None:
    with scratch_dir("cmd") as tmp:
        before, after = tmp / "ran-before", tmp / "ran-after"
        subprocess.run(
            ["m4", "-D_NO_MAKEINFO_", "-"],
            input=evil_mc(before, after),
            text=True,
            capture_output=True,
            check=False,
        )
        assert before.exists() and after.exists()


@pytest.mark.realtools
def test_lint_deep_runs_no_command_from_the_file() -> None:
    with scratch_dir("cmd-lint") as tmp:
        before, after = tmp / "ran-before", tmp / "ran-after"
        mc = tmp / "sendmail.mc"
        mc.write_text(evil_mc(before, after))
        _rc, out = tlsc("lint", "--deep", mc)
        assert not before.exists() and not after.exists(), out
        assert list(tmp.iterdir()) == [mc]


@pytest.mark.realtools
def test_import_runs_no_command_from_the_host_mc() -> None:
    with scratch_dir("cmd-import") as tmp:
        before, after = tmp / "ran-before", tmp / "ran-after"
        root = write_tree(tmp / "root", {MC: evil_mc(before, after), ST: PLAIN_STARTTLS})
        _rc, out = tlsc("import", root, "--host", "h1", "--ownership", "file")
        result = imported(root)
        assert result.notes is not None
        assert not before.exists() and not after.exists(), out


RECURSION = f"include(`{CF_M4}')dnl\ndefine(`r', `r()')r()\n"


@pytest.mark.realtools
def test_an_endless_recursion_ends_lint_deep_in_one_sentence() -> None:
    with scratch_dir("loop-lint") as tmp:
        mc = tmp / "sendmail.mc"
        mc.write_text(RECURSION)
        start = time.monotonic()
        rc, out = tlsc("lint", "--deep", "--format", "json", mc)
        took = time.monotonic() - start
    assert took < 10, took
    assert rc == 1
    assert "m4 was stopped after 4 s of CPU time: the file never finishes expanding" in out


@pytest.mark.realtools
def test_an_endless_recursion_ends_import_in_one_sentence() -> None:
    with scratch_dir("loop-import") as tmp:
        root = write_tree(tmp / "root", {MC: RECURSION, ST: PLAIN_STARTTLS})
        start = time.monotonic()
        result = imported(root)
        took = time.monotonic() - start
    assert took < 10, took
    said = [n.message for n in [*result.notes.errors, *result.notes.losses, *result.notes.warnings]]
    assert any("m4 was stopped after 4 s of CPU time" in m for m in said), said


@pytest.mark.realtools
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_prefix_leaves_the_cf_byte_identical(example: Path, release: SendmailRelease) -> None:
    result = compile_file(example)
    for files in result.hosts.values():
        mc = next(t for p, t in files.items() if p.endswith("sendmail.mc"))
        with scratch_dir("prefix") as tmp:
            (tmp / "x.mc").write_text(mc)
            argv = m4_argv(write_prefix(tmp))
            assert argv[-1].endswith(PREFIX_NAME)
            plain_argv = with_cf_tree(release, ["m4", "-D_NO_MAKEINFO_", "x.mc"])
            plain = subprocess.run(plain_argv, cwd=tmp, capture_output=True)
            safe = subprocess.run(
                with_cf_tree(release, [*argv, "x.mc"]), cwd=tmp, capture_output=True
            )
        assert cf_version(plain.stdout.decode()) == release.version
        assert safe.returncode == plain.returncode
        assert safe.stdout == plain.stdout and safe.stderr == plain.stderr


@pytest.mark.realtools
def test_import_reports_an_include_tlsc_would_refuse_and_keeps_debians() -> None:
    with scratch_dir("imp-include") as tmp:
        mc = PLAIN_MC.replace(
            "MAILER(`local')dnl\n",
            "include(`/usr/local/etc/mail/local.m4')dnl\n"
            "include(`/etc/mail/m4/dialup.m4')dnl\nMAILER(`local')dnl\n",
        )
        files = {MC: mc, ST: PLAIN_STARTTLS, "/usr/local/etc/mail/local.m4": "dnl\n"}
        files["/etc/mail/m4/dialup.m4"] = ""
        result = imported(write_tree(tmp / "root", files))
    losses = [(p.code, p.line, p.message) for p in result.notes.losses]
    assert losses == [
        (
            "I116",
            6,
            "cannot keep this include in mc.extra: '/usr/local/etc/mail/local.m4' is not an"
            " m4 file (.m4) below /usr/share/sendmail/cf/ or /etc/mail/ and tlsc includes no"
            " other file"
            " (S219: m4 copies it into the world-readable sendmail.cf); move the file below"
            " /etc/mail or its lines into the .mc",
        )
    ]
    assert result.text is not None
    assert "include(`/etc/mail/m4/dialup.m4')dnl" in result.text


@pytest.mark.realtools
@pytest.mark.parametrize("cf_m4", [CF_M4, "/usr/share/sendmail-cf/m4/cf.m4"])
def test_lint_deep_builds_a_guarded_mc_with_this_machines_cf_tree(cf_m4: str) -> None:
    """A tlsc .mc written for Red Hat's cf tree: --deep builds it with the local tree,
    and the guard is widened to that tree, so its includes pass."""
    data = spec(defaults={"mc": {"cf_m4": cf_m4}, "tls": {"enabled": False}})
    result = compile_dict(data)
    assert result.ok, result.problems
    with scratch_dir("deep-guard") as tmp:
        mc = tmp / "sendmail.mc"
        mc.write_text(result.hosts["h1"][MC])
        rc, out = tlsc("lint", "--deep", "--format", "json", mc)
    assert REFUSED not in out
    assert rc == 0, out


@pytest.mark.realtools
def test_an_endless_recursion_ends_the_apply_build_in_one_sentence() -> None:
    files = compiled()
    with scratch_dir("loop-apply") as tmp:
        mc = tmp / "sendmail.mc"
        mc.write_text(with_line(files[MC], "define(`r', `r()')r()").replace(ST, "/dev/null"))
        start = time.monotonic()
        with pytest.raises(BuildError) as caught:
            # as apply calls it: the .mc through a held directory, its name for messages
            build_cf(mc, tmp / "sendmail.cf", {}, shown=Path("/etc/mail/sendmail.mc"))
        took = time.monotonic() - start
        assert not (tmp / "sendmail.cf").exists()
    assert took < 10, took
    assert str(caught.value) == (
        "cannot build sendmail.cf from /etc/mail/sendmail.mc: m4 was stopped after 4 s of"
        " CPU time: the file never finishes expanding (an endless macro recursion?)"
    )


@pytest.mark.realtools
def test_m4_killed_by_someone_else_is_not_said_to_have_hit_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SIGKILL that is not the CPU limit's (the OOM killer, an admin: here m4 kills
    itself at once) is said as what it is, not as 4 s of CPU time."""
    files = compiled()
    with scratch_dir("killed-m4") as tmp:
        fake = tmp / "bin" / "m4"
        fake.parent.mkdir()
        fake.write_text("#!/bin/sh\nkill -KILL $$\n")
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
        mc = tmp / "sendmail.mc"
        mc.write_text(files[MC].replace(ST, "/dev/null"))
        with pytest.raises(BuildError) as caught:
            build_cf(mc, tmp / "sendmail.cf", {}, shown=Path("/etc/mail/sendmail.mc"))
        assert not (tmp / "sendmail.cf").exists()
    said = str(caught.value)
    assert said.startswith("m4 could not build sendmail.cf from /etc/mail/sendmail.mc"), said
    assert "SIGKILL" in said and "CPU time" not in said, said


def test_a_sigkill_is_the_cpu_limit_only_after_the_limit() -> None:
    assert stopped_by_limit(-signal.SIGXCPU, 0.0)
    assert stopped_by_limit(-signal.SIGKILL, CPU_SECONDS + 0.2)
    assert not stopped_by_limit(-signal.SIGKILL, 0.01)
    assert not stopped_by_limit(1, CPU_SECONDS + 1)


@pytest.mark.realtools
def test_an_m4_error_under_a_root_names_the_mc_line_and_the_host_path() -> None:
    """m4 reads the .mc on stdin and, under --root, each include of the root's files at
    where it is here: its complaint names neither `stdin` nor that path, but the .mc's
    line and the include as the .mc writes it."""
    with scratch_dir("m4-names") as tmp:
        mc = tmp / "sendmail.mc"
        mc.write_text("divert(-1)dnl\ndnl a comment\ninclude(`/etc/mail/m4/dialup.m4')dnl\n")
        here = tmp / "root/etc/mail/m4/dialup.m4"  # not there
        with pytest.raises(BuildError) as caught:
            build_cf(
                mc, tmp / "sendmail.cf", {"/etc/mail/m4/dialup.m4": here},
                shown=Path("/srv/mx1/etc/mail/sendmail.mc"),
            )  # fmt: skip
    said = str(caught.value)
    assert said.endswith(
        "/srv/mx1/etc/mail/sendmail.mc:3: cannot open `/etc/mail/m4/dialup.m4':"
        " No such file or directory"
    ), said
    assert "stdin" not in said and str(here) not in said


#: mc.extra lines that reach m4's own include under a name built while m4 runs, past
#: the guard (no check of the text can see the name)
BUILT_NAMES = [
    "define(`P', `_tlsc')dnl\ndefine(`Z', defn(P`'_include))dnl\nZ(`{secret}')dnl",
    "define(`P', `_tl'`sc')dnl\ndefine(`Q', P`'_in`'clude(``{secret}''))dnl\nQ",
]


@pytest.mark.realtools
@pytest.mark.skipif(not confine.available(), reason="this kernel has no Landlock")
@pytest.mark.parametrize("lines", BUILT_NAMES)
def test_apply_m4_reads_no_file_the_mc_does_not_include(lines: str) -> None:
    """What the m4 of apply may read is confined (Landlock) to the system, the cf tree
    and the files the .mc includes by name: a secret reached through a name m4 builds
    at run time is "Permission denied", the build fails and no .cf is installed. The
    control: the same .mc built by a plain m4 copies the secret into the .cf."""
    with scratch_dir("built-names") as tmp:
        secret = secret_file(tmp)
        extra = lines.format(secret=secret).split("\n")
        result = compile_dict(spec(defaults={"mc": {"extra": extra}, "tls": {"enabled": False}}))
        assert result.ok, result.problems  # validation cannot see it
        mc = tmp / "sendmail.mc"
        mc.write_text(result.hosts["h1"][MC])
        plain = subprocess.run(
            ["m4", "-D_NO_MAKEINFO_", mc], capture_output=True, text=True, check=False
        )
        assert secret.read_text().strip() in plain.stdout  # the control
        with pytest.raises(BuildError) as caught:
            build_cf(mc, tmp / "sendmail.cf", {}, shown=Path("/etc/mail/sendmail.mc"))
        assert not (tmp / "sendmail.cf").exists()
    assert f"`{secret}': Permission denied" in str(caught.value)


def test_the_m4_of_apply_may_read_the_cf_tree_and_what_the_mc_includes() -> None:
    """The system, the cf tree of the cf.m4 included, each file included by its path
    (relative ones from m4's directory) and, through it, the files it includes."""
    with scratch_dir("readable") as tmp:
        (tmp / "chain.m4").write_text(f"include(`{tmp}/tls/starttls.m4')dnl\n")
        text = (
            b"include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n"
            b"include(`/proc/self/fd/7/starttls.m4')dnl\nsinclude(`chain.m4')dnl\n"
            b"dnl include(`/etc/mail/tls/sendmail-common.key')\ninclude(/etc/mail/m4/plain.m4)\n"
        )
        got = confine.readable(text, str(tmp), "/tmp/x")
    assert got[: len(confine.SYSTEM)] == list(confine.SYSTEM)
    assert sys.base_prefix in got and "/tmp/x" in got
    # a commented-out include is not read by m4, an unquoted one is
    assert got[-5:] == [
        "/usr/share/sendmail/cf", "/proc/self/fd/7/starttls.m4", f"{tmp}/chain.m4",
        "/etc/mail/m4/plain.m4", f"{tmp}/tls/starttls.m4",
    ]  # fmt: skip
    assert "/etc/mail" not in got and "/etc/mail/tls" not in got
