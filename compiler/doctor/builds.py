"""Built files that lag behind their sources, and a sendmail.cf that ignores the spec."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from compiler.doctor.finding import Finding
from compiler.fileio import kind_of, read_regular_text
from compiler.resolve import HostConfig
from compiler.sendmail.cfread import cf_values

#: cf option -> the tls: setting it must equal
_TLS_OPTIONS = {
    "ServerCertFile": "server_cert",
    "ServerKeyFile": "server_key",
    "CACertFile": "ca_cert",
    "CACertPath": "ca_cert_path",
}


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def check_builds(host: HostConfig, on_disk: dict[str, Path]) -> list[Finding]:
    """The files tlsc writes exist (D001), sendmail.cf is newer than sendmail.mc and
    starttls.m4 (D020, D021), access.db than access (D022), and the cf's TLS options
    equal the spec's (D023).

    `on_disk` maps each paths.* name to where it is on this machine (under --root).
    """
    s = host.settings
    out: list[Finding] = []
    cf, mc, m4 = on_disk["sendmail_cf"], on_disk["sendmail_mc"], on_disk["starttls_m4"]
    managed = [("sendmail_mc", mc), ("access", on_disk["access"])]
    if s.tls.enabled:
        managed.insert(1, ("starttls_m4", m4))
    for name, path in managed:
        if _mtime(path) is None:
            out.append(
                Finding(
                    str(path),
                    "D001",
                    "warning",
                    f"{path.name} (paths.{name}) does not exist, so this host does not run"
                    " what the spec says",
                    "run tlsc apply on this host",
                )
            )
    try:
        cf_stat: os.stat_result | None = cf.stat()
    except OSError:
        cf_stat = None
    if cf_stat is None:
        out.append(
            Finding(
                str(cf),
                "D020",
                "error",
                "sendmail.cf does not exist, so sendmail has no configuration to run",
                "build it: tlsc apply (or m4 sendmail.mc > sendmail.cf), then restart sendmail",
            )
        )
    elif not stat.S_ISREG(cf_stat.st_mode):
        out.append(
            Finding(
                str(cf),
                "D020",
                "error",
                f"sendmail.cf is {kind_of(cf_stat.st_mode)}, not a regular file, so sendmail has"
                " no configuration to run",
                f"remove it and build it: tlsc apply (or m4 {mc} > {cf}), then restart sendmail",
            )
        )
    else:
        sources = [mc] + ([m4] if s.tls.enabled else [])
        for source in sources:
            source_time = _mtime(source)
            if source_time is not None and source_time > cf_stat.st_mtime:
                out.append(
                    Finding(
                        str(cf),
                        "D021",
                        "error",
                        f"sendmail.cf is older than {source}, so sendmail does not run what"
                        f" {source.name} says (someone forgot to rebuild)",
                        f"rebuild it: tlsc apply (or m4 {mc} > {cf}), then restart sendmail",
                    )
                )
        if s.tls.enabled:
            out += _check_tls_options(host, cf)
    access, access_db = on_disk["access"], on_disk["access_db"]
    access_time, db_time = _mtime(access), _mtime(access_db)
    rebuild = f"makemap hash {access_db.with_suffix('')} < {access} (tlsc apply does this)"
    if access_time is not None and db_time is None:
        out.append(
            Finding(
                str(access_db),
                "D022",
                "error",
                f"access.db does not exist, so sendmail ignores every entry of {access},"
                " TLS rules included",
                rebuild,
            )
        )
    elif access_time is not None and db_time is not None and access_time > db_time:
        out.append(
            Finding(
                str(access_db),
                "D022",
                "error",
                f"access.db is older than {access}, so sendmail still uses the old entries"
                " (someone forgot to rebuild)",
                rebuild,
            )
        )
    return out


def _check_tls_options(host: HostConfig, cf: Path) -> list[Finding]:
    try:
        options = cf_values(read_regular_text(cf))
    except OSError:
        return []
    out = []
    tls = host.settings.tls
    for option, setting in _TLS_OPTIONS.items():
        wanted = getattr(tls, setting)
        have = options.get(option)
        if wanted and have != wanted:
            now = f"sets {have}" if have else "does not set it"
            out.append(
                Finding(
                    str(cf),
                    "D023",
                    "error",
                    f"sendmail.cf should set {option}={wanted} (tls.{setting}) but {now},"
                    " so the daemon does not use the spec's TLS files",
                    "check that sendmail.mc includes starttls.m4, then rebuild sendmail.cf"
                    " (tlsc apply) and restart sendmail",
                )
            )
    return out
