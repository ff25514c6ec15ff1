"""Run the real sendmail tools on compiled output: m4 with cf.m4, and makemap.

The tests that import this module prove that the bytes tlsc writes do what
they claim once sendmail's own tools read them:

* `m4_build` builds a `.cf` from a compiled `sendmail.mc`, with its include of
  the starttls path pointed at the compiled `starttls.m4`, exactly the way
  `tlsc apply` will (`m4 -D_NO_MAKEINFO_`, so the output is reproducible).
* `makemap_roundtrip` loads a compiled access file with `makemap hash` and
  dumps the db again with `makemap -u hash`.

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
from functools import cache
from pathlib import Path
from typing import Any

from compiler.compile import Compiled, compile_text
from compiler.m4text import widen_guard
from compiler.resolve import resolve
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


def m4_build(mc_text: str, starttls_text: str | None, tmpdir: Path) -> tuple[int, str, str]:
    """Build a .cf from `mc_text` the way `tlsc apply` does; (rc, cf text, stderr).

    The compiled starttls.m4 is written into `tmpdir` and the .mc's include of
    the starttls path is rewritten to it. `starttls_text` None means the host
    has TLS disabled, and the .mc then must not include anything but cf.m4.
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
        ["m4", "-D_NO_MAKEINFO_", mc_file.name],
        cwd=tmpdir,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    return proc.returncode, _decode(proc.stdout), _decode(proc.stderr)


@cache
def proto_options() -> dict[str, str]:
    """conf macro name -> sendmail option name, from proto.m4's _OPTION lines."""
    text = PROTO_M4.read_text(encoding="utf-8", errors="replace")
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
    cf: str, files: dict[str, str], settings: HostSettings, host: str, cluster: str
) -> None:
    """Everything the spec configures for `host` is in its .cf with exactly its value."""
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

    known = proto_options()
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


def makemap_roundtrip(access_text: str, tmpdir: Path) -> tuple[int, str, list[str]]:
    """Load `access_text` with `makemap hash`, dump it with `makemap -u hash`.

    Returns (rc, stderr, dumped lines): rc is the first non-zero exit status
    of the two runs (0 when both succeed), stderr both runs' stderr, and the
    dump's lines in makemap's (hash) order, each `key<TAB>value`.
    """
    tmpdir = Path(tmpdir).resolve()
    src = tmpdir / "access"
    db = tmpdir / "access.db"
    src.write_bytes(access_text.encode("utf-8"))
    db.unlink(missing_ok=True)
    env = {**os.environ, "LC_ALL": "C"}
    with src.open("rb") as stdin:
        load = subprocess.run(
            [*MAKEMAP, "hash", str(db)], stdin=stdin, capture_output=True, env=env, check=False
        )
    stderr = _decode(load.stderr)
    if load.returncode != 0 and not db.exists():
        return load.returncode, stderr, []
    dump = subprocess.run(
        [*MAKEMAP, "-u", "hash", str(db)], capture_output=True, env=env, check=False
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
