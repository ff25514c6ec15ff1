r"""Render sendmail.mc from `mc:`, in a fixed, documented order.

    divert header, include(cf.m4), the switch-off line, the include guard,
    VERSIONID, OSTYPE, DOMAIN, defines (by name), FEATUREs (as listed),
    DAEMON_OPTIONS, extra lines, the starttls include, MAILER lines. Right
    after the cf.m4 include, one line undefines the m4 builtins that run
    commands or make files, and the include guard (a comment and one line)
    makes include, sinclude and undivert refuse any file outside the cf
    tree, /etc/mail and the managed directories.

`FEATURE(\`access_db')` is added first when the host's access file has
entries or a FEATURE reads the access map and the spec did not list it:
without it sendmail ignores every access entry, TLS rules included. When
`paths.access_db` is not Debian's /etc/mail/access.db, the added FEATURE
names that map, so sendmail reads the file tlsc writes.
"""

from __future__ import annotations

from compiler.render.header import header_lines
from compiler.resolve import HostConfig
from compiler.sendmail import DEFAULT_ACCESS_DB, NEEDS_ACCESS_DB, access_map_arg
from compiler.sendmail import m4quote as q
from compiler.sendmail.m4text import (
    SWITCH_OFF_COMMENT,
    SWITCH_OFF_LINE,
    include_guard,
    read_prefixes,
)
from compiler.spec.model import Feature

#: the markers of the lines tlsc owns in a host's own sendmail.mc (ownership: tls)
MC_BEGIN = "dnl # BEGIN tlsc"
MC_END = "dnl # END tlsc"


def mc_block(starttls_path: str) -> str:
    """The lines tlsc owns in a host's own sendmail.mc: the STARTTLS include, marked."""
    return f"{MC_BEGIN}\ninclude({q.name(starttls_path)})dnl\n{MC_END}\n"


def effective_features(
    features: list[Feature], access_in_use: bool, access_db: str = DEFAULT_ACCESS_DB
) -> list[Feature]:
    """The FEATURE list, with access_db added when something needs it."""
    names = [f.name for f in features]
    needs = access_in_use or any(n in NEEDS_ACCESS_DB for n in names)
    if needs and "access_db" not in names:
        args = [] if access_db == DEFAULT_ACCESS_DB else [access_map_arg(access_db)]
        return [Feature(name="access_db", args=args), *features]
    return list(features)


def _feature(feature: Feature) -> str:
    args = [q.value(a) if a else "" for a in feature.args]
    return q.call("FEATURE", q.name(feature.name), *args)


def render_mc(host: HostConfig, source: str, access_in_use: bool) -> str:
    """The exact text of the host's sendmail.mc."""
    s = host.settings
    mc = s.mc
    lines = ["divert(-1)dnl"]
    lines += [f"dnl # {text}" for text in header_lines(source, host.name, host.fqdn, "sendmail.mc")]
    lines += [
        "divert(0)dnl",
        f"include({q.name(mc.cf_m4)})dnl",
        # cf.m4's own syscmd has run; from here nothing may run a command or make a
        # file: FEATURE arguments and some defines are rescanned, extra lines are raw m4
        SWITCH_OFF_COMMENT,
        SWITCH_OFF_LINE,
        # include/sinclude/undivert read only the cf tree, /etc/mail and the managed dirs
        *include_guard(read_prefixes(mc.cf_m4, list(s.paths.model_dump().values()))),
        # VERSIONID quotes its argument itself and writes it as a .cf comment line,
        # so it takes one level of quotes and no dnl.
        f"VERSIONID({q.name(f'tlsc {host.cluster}/{host.name}')})",
        q.call("OSTYPE", q.name(mc.ostype)),
    ]
    if mc.domain:
        lines.append(q.call("DOMAIN", q.name(mc.domain)))
    lines += [q.define(name, mc.defines[name]) for name in sorted(mc.defines)]
    lines += [
        _feature(f) for f in effective_features(mc.features, access_in_use, s.paths.access_db)
    ]
    lines += [q.call("DAEMON_OPTIONS", q.value(opt)) for opt in mc.daemon_options]
    lines += list(mc.extra)
    if s.tls.enabled:
        lines.append(f"include({q.name(s.paths.starttls_m4)})dnl")
    lines += [q.call("MAILER", q.name(m)) for m in mc.mailers]
    return "".join(line + "\n" for line in lines)
