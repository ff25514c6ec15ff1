"""Helpers for the `tlsc import` tests: host trees on disk, imports, real-tool checks."""

from __future__ import annotations

import os
import time
from pathlib import Path

from realtools import SYSTEM_SENDMAIL, SendmailRelease, makemap_roundtrip, scratch_dir

from compiler.compile import Compiled, compile_text
from compiler.importer.host import Imported, import_host

MC = "/etc/mail/sendmail.mc"
STARTTLS = "/etc/mail/tls/starttls.m4"
ACCESS = "/etc/mail/access"

#: a minimal hand-written .mc that includes starttls.m4
PLAIN_MC = """\
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(`debian')dnl
DOMAIN(`debian-mta')dnl
FEATURE(`access_db', , `skip')dnl
include(`/etc/mail/tls/starttls.m4')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""
#: Debian's starttls.m4 values, without its autoconf guard
PLAIN_STARTTLS = """\
define(`confDONT_BLAME_SENDMAIL', defn(`confDONT_BLAME_SENDMAIL')`,GroupReadableKeyFile')dnl
define(`confTO_STARTTLS', `2m')dnl
define(`confCACERT_PATH', `/etc/ssl/certs')dnl
define(`confCACERT', `/etc/mail/tls/ca.crt')dnl
define(`confSERVER_CERT', `/etc/mail/tls/sendmail-server.crt')dnl
define(`confSERVER_KEY', `/etc/mail/tls/sendmail-common.key')dnl
define(`confCLIENT_CERT', `/etc/mail/tls/sendmail-client.crt')dnl
define(`confCLIENT_KEY', `/etc/mail/tls/sendmail-common.key')dnl
define(`confDH_PARAMETERS', `/etc/mail/tls/sendmail-common.prm')dnl
define(`confTLS_SRV_OPTIONS', `V')dnl
"""


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write {host path: text} under root; returns root."""
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8", newline="")
    return root


def tree(
    root: Path,
    access: str | None = None,
    mc: str = PLAIN_MC,
    starttls: str | None = PLAIN_STARTTLS,
) -> Path:
    """A host tree with the plain .mc and starttls.m4, and an access file."""
    files: dict[str, str | bytes] = {MC: mc}
    if starttls is not None:
        files[STARTTLS] = starttls
    if access is not None:
        files[ACCESS] = access
    return write_tree(root, files)


def imported(root: Path, host: str = "h1", **kw: str) -> Imported:
    """import_host with a default fqdn."""
    return import_host(
        root,
        host,
        kw.get("fqdn", f"{host}.example.net"),
        kw.get("cluster"),
        ownership=kw.get("ownership", "file"),
    )


def recompiled(result: Imported, source: str = "imported.yaml") -> Compiled:
    """The imported spec compiled again (it must be valid)."""
    assert result.ok and result.text is not None, messages(result)
    again = compile_text(result.text, source)
    assert again.ok, [p.message for p in again.problems]
    return again


def messages(result: Imported) -> list[str]:
    """Errors and losses as `CODE message`, for assertions and failure output."""
    n = result.notes
    return [f"{p.code} {p.message}" for p in [*n.errors, *n.losses]]


def makemap_dump(access_text: str, release: SendmailRelease = SYSTEM_SENDMAIL) -> list[str]:
    """What real `makemap hash` + `makemap -u hash` (`release`'s) make of an access file
    (sorted)."""
    with scratch_dir("imp") as tmp:
        _rc, _err, lines = makemap_roundtrip(access_text, tmp, release)
    return sorted(lines)


def as_built(etc_mail: Path) -> None:
    """Give a host tree the built files a running host has, each newer than its sources.

    The fixture and corpus trees hold a host's sources (copies whose times are
    the checkout's, in no order), and `plan --root` counts a `sendmail.cf` or
    `access.db` missing or older than its sources as the next apply's work (P115,
    tests/test_plan_leftover.py). Called after the import (which reads a host's
    own sendmail.cf), before the plan: a missing built file is made empty."""
    now = time.time()
    for source in ("sendmail.mc", "tls/starttls.m4", "access", "submit.mc"):
        path = etc_mail / source
        if path.is_file():
            os.utime(path, (now - 60, now - 60))
    for built, source in (("sendmail.cf", "sendmail.mc"), ("access.db", "access")):
        path = etc_mail / built
        if (etc_mail / source).is_file() or path.exists():
            if not path.exists():
                path.write_bytes(b"")
            os.utime(path, (now - 30, now - 30))
