"""Each value the spec writes into sendmail.cf is the value sendmail reads there.

The m4 side is proved elsewhere (two quote levels keep a value as written in the
.cf: test_render_mc, test_rescanned_values). This asks the real sendmail of each
release what it read: `sendmail -bt -d37.53` prints every .cf line after
readcf's translate_dollars, the pass that makes `$x` a macro and cuts a comment.
That pass reads a `#` anywhere in a line as the start of a comment (not only in
column 1), and drops it with the rest of the line and the blanks before it:
`O SmtpGreetingMessage=$j ESMTP #1` held `$j ESMTP`, a `K` line lost its file's
name. Only `\\#` stands for the character (the backslash goes). So a value with
another `#` (a define, a DAEMON_OPTIONS line, a FEATURE argument) is refused
(S104), and `\\#` reaches sendmail as `#`; the `tls:` paths and cipher list, whose
characters are fewer, reach it as written, m4's and cf's macro names included.

A CA directory is the one path OpenSSL splits: X509_LOOKUP_hash_dir reads `:`
in it as the break between two directories, so `ca_cert_path: /etc/ssl/a:b`
had sendmail look for its CAs in `/etc/ssl/a` and `b`, never in that
directory; it is refused (checked with the real `openssl verify -CApath`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from realtools import SendmailRelease, m4_build, scratch_dir, sendmail_bt
from releases import release

from compiler.compile import compile_text
from compiler.sendmail.m4names import BUILTINS, CF_MACROS

__all__ = ["release"]  # a fixture, imported for pytest

#: where a free-text value lands in the .cf: (spec path below the host, .cf line prefix)
PLACES = [
    (("mc", "defines", "confSMTP_LOGIN_MSG"), "O SmtpGreetingMessage=$j "),
    (("mc", "defines", "confHELO_NAME"), "O HeloName="),
    (("mc", "defines", "confDOMAIN_NAME"), "Dj"),
    (("mc", "daemon_options", 0), "O DaemonPortOptions=Port=2525, Name="),
    (("mc", "features", 0, "args", 0), "Kmailertable hash -o /etc/mail/"),
]

#: values a `#` ends for sendmail (refused), and what sendmail keeps of each
CUT = {"Z1#x": "Z1", "Z1 #x": "Z1", "Z1 # x": "Z1", "Z1#": "Z1", "Z1,#x": "Z1,", "Z1\\##x": "Z1#"}
#: values sendmail reads as written (`\#` is its `#`): accepted
KEPT = [
    "Z1\\#x",
    "Z1\\#",
    "Z1 dnl x",
    "Z1 divert include undefine lower",
    "Z1,a!+:@STRENGTH=2~100%",
    "Z1 é",
]


def host_spec(value: str, release: SendmailRelease) -> dict[str, Any]:
    """A spec putting `value` at every place of PLACES."""
    mc = {
        "defines": {
            "confSMTP_LOGIN_MSG": f"$j {value}",
            "confHELO_NAME": value,
            "confDOMAIN_NAME": value,
        },
        "daemon_options": [f"Port=2525, Name={value}"],
        "features": [{"name": "mailertable", "args": [f"hash -o /etc/mail/{value}"]}],
    }
    host = {"fqdn": "h1.example.net", "sendmail": release.family, "mc": mc}
    return {"version": 1, "cluster": "c1", "hosts": {"h1": host}}


def sendmail_reads(
    files: dict[str, str], release: SendmailRelease, tmp: Path, mc_edit: tuple[str, str] = ("", "")
) -> tuple[list[str], list[str]]:
    """(the .cf's lines, each line as `release`'s sendmail read it) for a compiled host:
    built with real m4 and its cf tree, `mc_edit` (old, new) replaced in the .mc first."""
    mc = files["/etc/mail/sendmail.mc"]
    if mc_edit[0]:
        assert mc_edit[0] in mc
        mc = mc.replace(*mc_edit)
    rc, cf, err = m4_build(mc, files.get("/etc/mail/tls/starttls.m4"), tmp, release)
    assert (rc, err) == (0, "")
    (tmp / "built.cf").write_text(cf, encoding="utf-8")
    # what a line means to sendmail may still be wrong (a DaemonPortOptions word it does
    # not know): only how it read the line counts here
    done = sendmail_bt(release, tmp / "built.cf", ("-d37.53",))
    read = re.findall(r"^  translate_dollars => (.*)$", done.stdout, re.MULTILINE)
    return cf.split("\n"), read


def line_of(lines: list[str], prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(prefix)]


@pytest.mark.parametrize("value", KEPT)
def test_a_value_reaches_sendmail_as_written(release: SendmailRelease, value: str) -> None:
    result = compile_text(json.dumps(host_spec(value, release)), "cluster.yaml")
    assert result.ok, [p.message for p in result.problems]
    with scratch_dir("cfread") as tmp:
        written, read = sendmail_reads(result.hosts["h1"], release, tmp)
    held = value.replace("\\#", "#")
    for _, prefix in PLACES:
        assert line_of(written, prefix + value), prefix
        # the debug line shows é as its two bytes M-C M-)
        shown = held.replace("é", "M-CM-)")
        assert line_of(read, prefix + shown) == [prefix + shown], (prefix, line_of(read, prefix))


@pytest.mark.parametrize("value", sorted(CUT))
def test_a_hash_sendmail_reads_as_a_comment_is_refused(
    release: SendmailRelease, value: str
) -> None:
    result = compile_text(json.dumps(host_spec(value, release)), "cluster.yaml")
    assert not result.ok
    refused = {p.message.split(": ", 1)[0]: p for p in result.problems}
    for place, _ in PLACES:
        where = ".".join(map(str, ("hosts", "h1", *place)))
        problem = refused.get(where)
        assert problem is not None and problem.code == "S104", (where, sorted(refused))
        assert "start of a comment" in problem.message and "\\#" in problem.message
    # the reason, with the real sendmail: the same value written into the .mc is cut
    escaped = value.replace("\\#", "\0").replace("#", "\\#").replace("\0", "\\\\#")
    files = compile_text(json.dumps(host_spec(escaped, release)), "cluster.yaml")
    assert files.ok, [p.message for p in files.problems]
    mc = files.hosts["h1"]["/etc/mail/sendmail.mc"]
    with scratch_dir("cfread") as tmp:
        written, read = sendmail_reads(files.hosts["h1"], release, tmp, (mc, unescape(mc)))
    for _, prefix in PLACES:
        assert line_of(written, prefix + value), prefix
        assert line_of(read, prefix + "Z1") == [prefix + CUT[value]], prefix


def unescape(text: str) -> str:
    """`text` with each `\\#` of a value a plain `#` again (and `\\\\#` a `\\#`)."""
    return text.replace("\\\\#", "\0").replace("\\#", "#").replace("\0", "\\#")


#: names m4 and cf.m4 expand, as parts of paths
_WORDS = sorted(BUILTINS | CF_MACROS)
#: (tls: key, .cf option) of each path setting
TLS_PATHS = [
    ("server_cert", "ServerCertFile"),
    ("server_key", "ServerKeyFile"),
    ("client_cert", "ClientCertFile"),
    ("client_key", "ClientKeyFile"),
    ("ca_cert", "CACertFile"),
    ("ca_cert_path", "CACertPath"),
    ("dh_params", "DHParameters"),
    ("crl", "CRLFile"),
]


@pytest.mark.parametrize("start", range(0, len(_WORDS), 16))
def test_tls_paths_and_cipher_list_reach_sendmail_as_written(
    release: SendmailRelease, start: int
) -> None:
    words = [*_WORDS[start : start + 16], "a+b@c=d~e-f.g_h"]
    tls: dict[str, Any] = {
        key: "/etc/mail/" + "/".join(words[(i + k) % len(words)] for k in range(3))
        for i, (key, _) in enumerate(TLS_PATHS)
    }
    tls["cipher_list"] = "HIGH:!aNULL:+SHA1:-MD5,ECDHE:@STRENGTH:@SECLEVEL=2"
    spec = {
        "version": 1,
        "cluster": "c1",
        "hosts": {"h1": {"fqdn": "h1.example.net", "sendmail": release.family, "tls": tls}},
    }
    result = compile_text(json.dumps(spec), "cluster.yaml")
    assert result.ok, [p.message for p in result.problems]
    with scratch_dir("cfread") as tmp:
        _, read = sendmail_reads(result.hosts["h1"], release, tmp)
    for key, option in [*TLS_PATHS, ("cipher_list", "CipherList")]:
        assert line_of(read, f"O {option}=") == [f"O {option}={tls[key]}"], key


@pytest.mark.parametrize("path", ["/etc/ssl/a:b", "/etc/ssl/certs:", "/etc/ssl/:x/"])
def test_a_ca_directory_with_a_colon_is_refused(path: str) -> None:
    spec = {
        "version": 1,
        "cluster": "c1",
        "hosts": {"h1": {"fqdn": "h1.example.net", "tls": {"ca_cert_path": path}}},
    }
    result = compile_text(json.dumps(spec), "cluster.yaml")
    (problem,) = result.problems
    assert problem.code == "S104", problem.message
    assert problem.message.startswith("hosts.h1.tls.ca_cert_path: OpenSSL reads a ':'")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_splits_a_ca_directory_at_a_colon() -> None:
    """The reason for the refusal: the same CA, hashed into `c:d` and into `plain`, is
    found through -CApath plain and not through -CApath c:d (the call sendmail makes,
    SSL_CTX_load_verify_locations, reads a CA directory the same way)."""

    def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)

    with scratch_dir("capath") as tmp:
        key = ["-newkey", "rsa:2048", "-nodes", "-days", "2"]
        run("openssl", "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-subj",
            "/CN=tlsc test CA", cwd=tmp)  # fmt: skip
        run("openssl", "req", *key[:3], "-keyout", "l.key", "-out", "l.csr", "-subj", "/CN=l",
            cwd=tmp)  # fmt: skip
        run("openssl", "x509", "-req", "-in", "l.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "l.crt", "-days", "2", cwd=tmp)  # fmt: skip
        for name in ("plain", "c:d"):
            (tmp / name).mkdir()
            shutil.copy(tmp / "ca.crt", tmp / name / "ca.crt")
            assert run("openssl", "rehash", name, cwd=tmp).returncode == 0
        verify = ["openssl", "verify", "-no-CAfile", "-no-CAstore", "-CApath"]
        assert run(*verify, str(tmp / "plain"), "l.crt", cwd=tmp).returncode == 0
        split = run(*verify, str(tmp / "c:d"), "l.crt", cwd=tmp)
        assert split.returncode != 0 and "unable to get local issuer" in split.stdout + split.stderr


#: hand-written .mc lines (single quotes, as people write them), each ending in VALUE
HAND_LINES = [
    ("define(`confSMTP_LOGIN_MSG', `$j {}')dnl", "O SmtpGreetingMessage=$j "),
    ("define(`confHELO_NAME', `{}')dnl", "O HeloName="),
    ("DAEMON_OPTIONS(`Port=2525, Name={}')dnl", "O DaemonPortOptions=Port=2525, Name="),
    ("FEATURE(`mailertable', `hash -o /etc/mail/{}')dnl", "Kmailertable hash -o /etc/mail/"),
]
HAND_HEAD = (
    "divert(0)dnl\ninclude(`/usr/share/sendmail/cf/m4/cf.m4')dnl\nOSTYPE(`debian')dnl\n"
    "DOMAIN(`debian-mta')dnl\n"
)
#: values without a macro name (one quote level: m4 would rewrite those, M4011's business)
HAND_VALUES = [*sorted(CUT), *(v for v in KEPT if not re.search(r"[a-z]{3}", v))]


@pytest.mark.parametrize("value", HAND_VALUES)
def test_lint_finds_the_hash_sendmail_cuts(release: SendmailRelease, value: str) -> None:
    """M4024 on a hand-written .mc: found exactly on the lines whose value sendmail's own
    reading of the built .cf cuts (a `\\#` it reads as `#` is no cut)."""
    from compiler.lint.engine import LintContext, lint_text

    body = "".join(line.format(value) + "\n" for line, _ in HAND_LINES)
    mc = HAND_HEAD + body + "MAILER(`local')dnl\nMAILER(`smtp')dnl\n"
    report = lint_text(mc, "sendmail.mc", "mc", LintContext(release=release.family))
    flagged = {mc.count("\n", 0, f.offset) + 1 for f in report.findings if f.code == "M4024"}
    files = {"/etc/mail/sendmail.mc": mc}
    with scratch_dir("cfread") as tmp:
        _, read = sendmail_reads(files, release, tmp)
    first = HAND_HEAD.count("\n") + 1
    for n, (_, prefix) in enumerate(HAND_LINES, first):
        (got,) = line_of(read, prefix + "Z1")
        cut = got != prefix + value.replace("\\#", "#").replace("é", "M-CM-)")
        assert (n in flagged) is cut, (n, got, sorted(flagged))
