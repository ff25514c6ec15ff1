"""Run the real sendmail tools on compiled output: m4 with cf.m4, and makemap.

The tests that import this module prove that the bytes tlsc writes do what
they claim once sendmail's own tools read them:

* `m4_build` builds a `.cf` from a compiled `sendmail.mc`, with its include of
  the starttls path pointed at the compiled `starttls.m4`, exactly the way
  `tlsc apply` will (`m4 -D_NO_MAKEINFO_`, so the output is reproducible).
* `makemap_roundtrip` loads a compiled access file with `makemap hash` and
  dumps the db again with `makemap -u hash`.

Both take a `SendmailRelease`: this machine's sendmail (8.17.1.9) by
default, or `sendmail_818()`, the 8.18.1 tree scripts/fetch-sendmail-818
unpacks (tests/releases.py runs a test with each).

makemap prints `WARNING: World writable directory /tmp` (and still exits 0)
for a map whose path passes through a world-writable directory such as
/tmp, so the scratch directories live under the repository's `build/`
(git-ignored), created with mode 0755, or under ~/.cache when the checkout
itself lies below /tmp. Set TLSC_TEST_TMPDIR to use another
base directory; it and every directory above it must not be world-writable.

The spec helpers at the end build small specs as dicts and compile them from
their JSON text (JSON is valid YAML), for the renderer and property tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from compiler.compile import Compiled, compile_text
from compiler.resolve import resolve
from compiler.sendmail.m4text import widen_guard
from compiler.spec.loader import load_text
from compiler.spec.model import HostSettings
from compiler.spec.validate import validate

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
CF_DIR = Path("/usr/share/sendmail/cf")
PROTO_M4 = CF_DIR / "m4" / "proto.m4"

#: an include line as tlsc writes it: include(`PATH')dnl
_INCLUDE = re.compile(r"^include\(`([^`']*)'\)dnl$", re.MULTILINE)
#: _OPTION(Name, `confNAME', ...) in proto.m4
_PROTO_OPTION = re.compile(r"^_OPTION\(([^,]+), `([A-Za-z0-9_]+)'", re.MULTILINE)


# -- sendmail releases -------------------------------------------------------


@dataclass(frozen=True)
class SendmailRelease:
    """One sendmail release's binaries and cf tree, as the real-tool tests run them."""

    #: what `sendmail -d0.1` prints after "Version"
    version: str
    sendmail: Path
    makemap: Path
    #: sendmail-cf's tree (m4/cf.m4, feature/, ostype/...)
    cf_dir: Path

    @property
    def family(self) -> str:
        """The release as the spec's `sendmail:` names it: 8.17, 8.18."""
        return ".".join(self.version.split(".")[:2])

    @property
    def cf_m4(self) -> Path:
        """The tree's cf.m4, as a .mc includes it (spec key mc.cf_m4)."""
        return self.cf_dir / "m4" / "cf.m4"


#: this machine's own sendmail (Debian 12: 8.17.1.9), installed by scripts/install-sysdeps
SYSTEM_SENDMAIL = SendmailRelease(
    "8.17.1.9", Path("/usr/sbin/sendmail"), Path("/usr/sbin/makemap"), CF_DIR
)
#: the version scripts/fetch-sendmail-818 fetches
VERSION_818 = "8.18.1"
FETCH_818 = REPO / "scripts" / "fetch-sendmail-818"


def sendmail_818_dir() -> Path:
    """Where scripts/fetch-sendmail-818 unpacks sendmail 8.18.1 (same rule as the script)."""
    env = os.environ.get("TLSC_SENDMAIL_818_DIR")
    if env:
        return Path(env)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "tlsc" / "sendmail-8.18.1"


def system_sendmail_version() -> str | None:
    """The Debian version of this machine's sendmail-bin (8.17.1.9-2+deb12u2), or None."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "sendmail-bin"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def sendmail_818() -> SendmailRelease:
    """sendmail 8.18.1: the tree scripts/fetch-sendmail-818 unpacked, or the system's own
    when it is 8.18.1 (Debian 13). Fails, naming the script, when neither is there."""
    system = system_sendmail_version() or ""
    if system.startswith(VERSION_818 + "-"):
        return SendmailRelease(
            VERSION_818, Path("/usr/sbin/sendmail"), Path("/usr/sbin/makemap"), CF_DIR
        )
    root = sendmail_818_dir() / "root"
    release = SendmailRelease(
        VERSION_818,
        root / "usr/libexec/sendmail/sendmail",
        root / "usr/libexec/sendmail/makemap",
        root / "usr/share/sendmail/cf",
    )
    stamp = sendmail_818_dir() / "stamp"
    if not stamp.is_file() or not release.sendmail.is_file() or not release.cf_m4.is_file():
        raise AssertionError(
            f"sendmail {VERSION_818} is not unpacked in {root}: run {FETCH_818}"
            " (make sysdeps runs it; it needs Debian's package archive once)"
        )
    return release


# -- scratch directories ---------------------------------------------------


def _world_writable_ancestor(path: Path) -> Path | None:
    for p in [path, *path.parents]:
        try:
            mode = p.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & stat.S_IWOTH:
            return p
    return None


def _make_safe(base: Path) -> Path | None:
    """`base`, created 0755, if no directory at or above it is world-writable."""
    base = base.resolve()
    if _world_writable_ancestor(base) is not None:
        return None
    for p in reversed([base, *base.parents]):
        if not p.exists():
            p.mkdir(mode=0o755)
            p.chmod(0o755)  # whatever the umask says
    return base


def scratch_base() -> Path:
    """A base directory makemap trusts (no world-writable directory above it).

    TLSC_TEST_TMPDIR if set; else the checkout's build/test-tmp; else, for a
    checkout below /tmp (as a CI clone may be), ~/.cache/tlsc-test-tmp.
    """
    env = os.environ.get("TLSC_TEST_TMPDIR")
    candidates = [Path(env)] if env else [REPO / "build" / "test-tmp"]
    if not env:
        candidates.append(Path.home() / ".cache" / "tlsc-test-tmp")
    for candidate in candidates:
        base = _make_safe(candidate)
        if base is not None:
            return base
    raise RuntimeError(
        f"every directory tried ({', '.join(map(str, candidates))}) lies below a"
        " world-writable one, so makemap would warn about every map there;"
        " set TLSC_TEST_TMPDIR to a directory under a safe parent"
    )


@contextmanager
def scratch_dir(prefix: str = "t") -> Iterator[Path]:
    """A fresh 0755 directory under `scratch_base()`, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=scratch_base()))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- m4 ----------------------------------------------------------------------


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def point_include(mc_text: str, starttls_path: str | None) -> str:
    """The .mc with its starttls include pointed at `starttls_path`.

    The first include() is cf.m4; any other include() line is the starttls
    one. With `starttls_path` None the .mc must not have one (tls disabled).
    Anything else is an error rather than a silent build against whatever
    /etc/mail/tls/starttls.m4 this machine happens to hold.
    """
    includes = list(_INCLUDE.finditer(mc_text))
    if not includes or not includes[0].group(1).endswith("/cf.m4"):
        raise AssertionError("the .mc does not start by including cf.m4")
    others = includes[1:]
    if starttls_path is None:
        if others:
            raise AssertionError(f"unexpected include of {others[0].group(1)} in the .mc")
        return mc_text
    if len(others) != 1:
        raise AssertionError(f"expected one starttls include in the .mc, found {len(others)}")
    m = others[0]
    pointed = mc_text[: m.start()] + f"include(`{starttls_path}')dnl" + mc_text[m.end() :]
    # the .mc's include guard reads only the managed directories: allow the copy's too
    return widen_guard(pointed, [os.path.dirname(starttls_path) + "/"])


def point_cf_m4(mc_text: str, release: SendmailRelease) -> str:
    """The .mc with its include of cf.m4 pointed at `release`'s cf tree (and its guard
    allowing that tree), as a spec with `mc.cf_m4` set to it would have it."""
    first = _INCLUDE.search(mc_text)
    if first is None or not first.group(1).endswith("/cf.m4"):
        raise AssertionError("the .mc does not start by including cf.m4")
    if first.group(1) == str(release.cf_m4):
        return mc_text
    pointed = mc_text[: first.start()] + f"include(`{release.cf_m4}')dnl" + mc_text[first.end() :]
    return widen_guard(pointed, [str(release.cf_dir) + "/"])


def with_cf_tree(release: SendmailRelease, argv: list[str]) -> list[str]:
    """`argv` run where /usr/share/sendmail/cf is `release`'s cf tree, as on a host of it.

    The Debian OSTYPE and DOMAIN files of both releases include
    /usr/share/sendmail/cf/debian/autoconf.m4 by that absolute path, so a build
    with the unpacked 8.18.1 tree elsewhere would read this machine's 8.17.1.9
    autoconf.m4 (its sm_version). So for a release whose tree lies elsewhere
    `argv` runs in a private mount namespace with that tree bind-mounted over
    /usr/share/sendmail/cf (needs root, as `sendmail_bt`); the .mc is left as
    tlsc wrote it.
    """
    if release.cf_dir == CF_DIR:
        return list(argv)
    script = 'mount --bind "$0" "$1" && shift && exec "$@"'
    unshare = ["unshare", "--mount", "--propagation", "private"]
    return [*unshare, "sh", "-c", script, str(release.cf_dir), str(CF_DIR), *argv]


def m4_build(
    mc_text: str,
    starttls_text: str | None,
    tmpdir: Path,
    release: SendmailRelease = SYSTEM_SENDMAIL,
) -> tuple[int, str, str]:
    """Build a .cf from `mc_text` the way `tlsc apply` does; (rc, cf text, stderr).

    The compiled starttls.m4 is written into `tmpdir` and the .mc's include of
    the starttls path is rewritten to it. `starttls_text` None means the host
    has TLS disabled, and the .mc then must not include anything but cf.m4.
    With `release` m4 reads that release's cf tree at /usr/share/sendmail/cf
    (`with_cf_tree`).
    """
    tmpdir = Path(tmpdir)
    starttls_path = None
    if starttls_text is not None:
        st_file = tmpdir / "starttls.m4"
        st_file.write_bytes(starttls_text.encode("utf-8"))
        starttls_path = str(st_file.resolve())
    mc_file = tmpdir / "sendmail.mc"
    mc_file.write_bytes(point_include(mc_text, starttls_path).encode("utf-8"))
    proc = subprocess.run(
        with_cf_tree(release, ["m4", "-D_NO_MAKEINFO_", mc_file.name]),
        cwd=tmpdir,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    return proc.returncode, _decode(proc.stdout), _decode(proc.stderr)


def cf_version(cf_text: str) -> str | None:
    """The release whose cf tree built `cf_text`: its `DZ` line (8.18.1[/Debian-6~bpo12+1])."""
    m = re.search(r"^DZ([0-9.]+)(?:/|$)", cf_text, re.MULTILINE)
    return m.group(1) if m else None


@cache
def proto_options(release: SendmailRelease = SYSTEM_SENDMAIL) -> dict[str, str]:
    """conf macro name -> sendmail option name, from `release`'s proto.m4 _OPTION lines."""
    text = (release.cf_dir / "m4" / "proto.m4").read_text(encoding="utf-8", errors="replace")
    return {conf: opt.strip() for opt, conf in _PROTO_OPTION.findall(text)}


def cf_options(cf_text: str) -> dict[str, list[str | None]]:
    """Every `O Name=value` line of a .cf: name -> values (None for a bare `O Name`)."""
    out: dict[str, list[str | None]] = {}
    for line in cf_text.split("\n"):
        if not line.startswith("O "):
            continue
        name, sep, value = line[2:].partition("=")
        out.setdefault(name, []).append(value if sep else None)
    return out


#: defines that are not `O` options but whose value the .cf rules quote verbatim
VALUE_IN_RULES = frozenset({"confREJECT_MSG", "confRELAY_MSG", "confRCPTREJ_MSG"})

TLS_OPTIONS = [
    ("server_cert", "ServerCertFile"),
    ("server_key", "ServerKeyFile"),
    ("client_cert", "ClientCertFile"),
    ("client_key", "ClientKeyFile"),
    ("ca_cert", "CACertFile"),
    ("ca_cert_path", "CACertPath"),
    ("dh_params", "DHParameters"),
    ("crl", "CRLFile"),
    ("timeout", "Timeout.starttls"),
    ("cipher_list", "CipherList"),
]


def check_cf(
    cf: str,
    files: dict[str, str],
    settings: HostSettings,
    host: str,
    cluster: str,
    release: SendmailRelease = SYSTEM_SENDMAIL,
) -> None:
    """Everything the spec configures for `host` is in its .cf (built with `release`'s
    cf tree) with exactly its value."""
    opts = cf_options(cf)
    t = settings.tls
    if t.enabled:
        for field, option in TLS_OPTIONS:
            value = getattr(t, field)
            if value:
                assert opts.get(option) == [value], (option, opts.get(option))
            else:
                assert option not in opts, (option, opts[option])
        if t.request_client_cert:
            assert "TLSSrvOptions" not in opts
        else:
            assert opts.get("TLSSrvOptions") == ["V"]
        for field, option in (
            ("server_ssl_options", "ServerSSLOptions"),
            ("client_ssl_options", "ClientSSLOptions"),
        ):
            value = getattr(t, field)
            if value:
                assert opts.get(option) == [" ".join(value)]
            else:
                assert option not in opts
        blame = (opts.get("DontBlameSendmail") or [""])[0] or ""
        if t.group_readable_key:
            assert "GroupReadableKeyFile" in blame.split(","), blame
        else:
            assert "GroupReadableKeyFile" not in blame.split(","), blame
    else:
        for _, option in [*TLS_OPTIONS, ("", "TLSSrvOptions"), ("", "ServerSSLOptions")]:
            assert option not in opts, option
    assert "DANE" not in opts

    access_text = files[settings.paths.access]
    feature_names = [f.name for f in settings.mc.features]
    stem = settings.paths.access_db.removesuffix(".db")
    kaccess = [x for x in cf.split("\n") if x.startswith("Kaccess ")]
    if entry_lines(access_text) or "access_db" in feature_names:
        # sendmail reads the very map tlsc builds at paths.access_db
        assert len(kaccess) == 1 and kaccess[0].endswith(f" {stem}"), kaccess
    else:
        assert kaccess == []

    known = proto_options(release)
    for name, value in settings.mc.defines.items():
        if name in known and name != "confDONT_BLAME_SENDMAIL":
            assert opts.get(known[name]) == [value], (name, opts.get(known[name]))
        elif name in VALUE_IN_RULES:
            assert value in cf, name
    for opt in settings.mc.daemon_options:
        assert opt in (opts.get("DaemonPortOptions") or []), opt
    assert f"#####  tlsc {cluster}/{host}  #####" in cf.split("\n")


# -- makemap -----------------------------------------------------------------


#: makemap with an empty sendmail.cf: without -C it reads this machine's
#: /etc/mail/sendmail.cf (its TrustedUser, DontBlameSendmail) and fails where there is none
MAKEMAP = ("makemap", "-C", os.devnull)


def makemap_command(release: SendmailRelease = SYSTEM_SENDMAIL) -> tuple[str, ...]:
    """`MAKEMAP` with `release`'s makemap."""
    return (str(release.makemap), *MAKEMAP[1:])


def tool_path(release: SendmailRelease = SYSTEM_SENDMAIL) -> str:
    """A PATH whose sendmail and makemap are `release`'s: what a tlsc process (apply's
    builds and pre-flight, doctor) finds on a host that runs that release."""
    path = os.environ.get("PATH", os.defpath)
    if release.sendmail == SYSTEM_SENDMAIL.sendmail:
        return path
    return os.pathsep.join([str(release.sendmail.parent), path])


def makemap_roundtrip(
    access_text: str, tmpdir: Path, release: SendmailRelease = SYSTEM_SENDMAIL
) -> tuple[int, str, list[str]]:
    """Load `access_text` with `makemap hash`, dump it with `makemap -u hash`.

    Returns (rc, stderr, dumped lines): rc is the first non-zero exit status
    of the two runs (0 when both succeed), stderr both runs' stderr, and the
    dump's lines in makemap's (hash) order, each `key<TAB>value`. `release`
    names whose makemap runs (default this machine's).
    """
    tmpdir = Path(tmpdir).resolve()
    src = tmpdir / "access"
    db = tmpdir / "access.db"
    src.write_bytes(access_text.encode("utf-8"))
    db.unlink(missing_ok=True)
    env = {**os.environ, "LC_ALL": "C"}
    with src.open("rb") as stdin:
        load = subprocess.run(
            [*makemap_command(release), "hash", str(db)],
            stdin=stdin,
            capture_output=True,
            env=env,
            check=False,
        )
    stderr = _decode(load.stderr)
    if load.returncode != 0 and not db.exists():
        return load.returncode, stderr, []
    dump = subprocess.run(
        [*makemap_command(release), "-u", "hash", str(db)],
        capture_output=True,
        env=env,
        check=False,
    )
    stderr += _decode(dump.stderr)
    rc = load.returncode or dump.returncode
    lines = [line for line in _decode(dump.stdout).split("\n") if line != ""]
    return rc, stderr, lines


def access_entries(access_text: str) -> list[tuple[str, str]]:
    """(key, value) of each entry line, split the way makemap splits it."""
    out = []
    for line in access_text.split("\n"):
        if line == "" or line.startswith("#"):
            continue
        key, _, value = line.partition("\t")
        out.append((key, value))
    return out


def expected_dump(access_text: str) -> list[str]:
    """What `makemap -u` must print for `access_text`: keys folded, sorted."""
    return sorted(f"{key.lower()}\t{value}" for key, value in access_entries(access_text))


# -- specs -------------------------------------------------------------------


def spec(**top: Any) -> dict[str, Any]:
    """A minimal valid spec with one host `h1`, updated with `top`."""
    data: dict[str, Any] = {
        "version": 1,
        "cluster": "c1",
        "hosts": {"h1": {"fqdn": "h1.example.net"}},
    }
    data.update(top)
    return data


def compile_dict(data: dict[str, Any], source: str = "cluster.yaml") -> Compiled:
    """Compile a spec given as a dict (dumped as JSON, which is YAML)."""
    return compile_text(json.dumps(data, indent=1), source)


def render(data: dict[str, Any], host: str = "h1", source: str = "cluster.yaml") -> dict[str, str]:
    """{path: text} of one host of a spec that must be valid."""
    result = compile_dict(data, source)
    assert result.ok, [f"{p.code} {p.message}" for p in result.problems]
    return result.hosts[host]


def entry_lines(access_text: str) -> list[str]:
    """The access file's lines that are entries (not comments)."""
    return [line for line in access_text.split("\n") if line and not line.startswith("#")]


def host_settings(text: str, source: str = "cluster.yaml") -> dict[str, HostSettings]:
    """The resolved settings of every host of a valid spec text."""
    validated = validate(load_text(text, source))
    assert validated.cluster is not None, validated.problems
    cluster = validated.cluster
    return {name: resolve(cluster, name).settings for name in cluster.hosts}


# -- sendmail -bt --------------------------------------------------------------


def sendmail_bt(
    release: SendmailRelease,
    cf: Path,
    flags: tuple[str, ...] = ("-d0.1",),
    stdin: str = "",
    fqdn: str = "bt.tlsc.test",
) -> subprocess.CompletedProcess[str]:
    """`sendmail -bt -C cf FLAGS` of `release`, its rules read from `stdin`.

    Runs in private mount and UTS namespaces (needs root): a qualified host
    name `fqdn` (an unqualified one costs sendmail a 60 s wait), and an empty
    directory over /etc/mail, so nothing of this machine's mail configuration
    (service.switch, ...) is read.
    """
    empty = Path(cf).parent / "etc-mail"  # files a test puts there are its /etc/mail
    empty.mkdir(exist_ok=True)
    script = (
        'hostname "$0" && { [ ! -d /etc/mail ] || mount --bind "$1" /etc/mail; }'
        ' && shift && exec "$@"'
    )
    argv = [str(release.sendmail), "-bt", "-C", str(cf), *flags]
    unshare = ["unshare", "--mount", "--uts", "--propagation", "private"]
    return subprocess.run(
        [*unshare, "sh", "-c", script, fqdn, str(empty), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        errors="replace",
        env={**os.environ, "LC_ALL": "C"},
        timeout=60,
        check=False,
    )


def bt_answers(stdout: str) -> list[str]:
    """What each access lookup of a `sendmail -bt` run (`D <name> <?> <+ Tag> <>`, `F ...`)
    returned, in order: the first word of the last `returns:` before the next prompt
    (ruleset D calls itself for each prefix), sendmail's tokens joined (`ENCR:128`)."""
    return [
        query.rsplit("returns:", 1)[1].split(">")[0].strip(" <").replace(" ", "")
        for query in stdout.split("\n> ")
        if "returns:" in query
    ]


@cache
def can_mount_tmpfs() -> bool:
    """True when this process can mount a tmpfs in a private mount namespace (root and
    `unshare -m`): the full-disk tests run their command on a small one."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=8k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0
