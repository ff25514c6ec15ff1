"""Render tls/starttls.m4: one define for each `tls:` setting, nothing else.

It is included after the .mc's own defines, so what it sets wins; validation
therefore refuses the same names in `mc.defines`. `group_readable_key`
appends GroupReadableKeyFile to DontBlameSendmail the way Debian's file does,
keeping whatever the .mc already put there. `min_protocol` adds the
SSL_OP_NO_* options of the older versions after the server and client
options; `dane` writes confDANE (validation keeps it to sendmail 8.18); `ciphersuites`
writes the `O CipherSuites=` line itself, which no conf* define reaches; `mta_sts`
writes FEATURE(`sts') with the resolver's socket map. FEATURE works here: the .mc
includes this file after its own FEATUREs and before its MAILER lines (cf.m4 wants
every FEATURE before the first MAILER), in the .mc tlsc writes and in Debian's own.

The file leaves m4 in the diversion it was included in (`RESUME`), not in 0: a
host's own .mc (ownership: tls) may include it inside a LOCAL_CONFIG or
LOCAL_RULESETS section, and with a plain divert(0)dnl the section's later lines
went to the top of the .cf, before its V line (sendmail then warned that
OperatorChars was redefined after rulesets, and read those rules with the
default operators).
"""

from __future__ import annotations

from compiler.render.header import header_lines
from compiler.resolve import HostConfig
from compiler.sendmail import PROTOCOL_FLOOR_OPTIONS
from compiler.sendmail import m4quote as q

#: cf.m4's PUSHDIVERT keeps the diversion m4 is in (divnum) and switches to another;
#: POPDIVERT goes back to the one kept (sendmail's FEATURE and MAILER work so)
HIDE = "PUSHDIVERT(-1)dnl"
#: the local section of the .cf (LOCAL_CONFIG is divert(6), which keeps nothing)
LOCAL = "PUSHDIVERT(6)dnl"
RESUME = "POPDIVERT`'dnl"

_DONT_BLAME = (
    "define(`confDONT_BLAME_SENDMAIL', ifdef(`confDONT_BLAME_SENDMAIL',"
    " `defn(`confDONT_BLAME_SENDMAIL')`,'')``GroupReadableKeyFile'')dnl"
)


def mta_sts_feature(socket: str) -> str:
    """FEATURE(`sts') with the resolver's socket map written out: without the argument
    sendmail asks inet:5461@127.0.0.1 and defers every recipient when nothing answers."""
    return q.call("FEATURE", q.name("sts"), q.value(f"socket -d5 -T<TMPF> {socket}"))


def render_starttls(host: HostConfig, source: str) -> str:
    """The exact text of the host's starttls.m4."""
    t = host.settings.tls
    lines = [HIDE]
    what = "STARTTLS settings (tls/starttls.m4)"
    lines += [f"dnl # {text}" for text in header_lines(source, host.name, host.fqdn, what)]
    lines.append(RESUME)
    paths = [
        ("confCACERT_PATH", t.ca_cert_path),
        ("confCACERT", t.ca_cert),
        ("confSERVER_CERT", t.server_cert),
        ("confSERVER_KEY", t.server_key),
        ("confCLIENT_CERT", t.client_cert),
        ("confCLIENT_KEY", t.client_key),
        ("confDH_PARAMETERS", t.dh_params),
        ("confCRL", t.crl),
    ]
    lines += [q.define(name, value) for name, value in paths if value]
    if not t.request_client_cert:
        lines.append(q.define("confTLS_SRV_OPTIONS", "V"))
    if t.timeout:
        lines.append(q.define("confTO_STARTTLS", t.timeout))
    if t.cipher_list:
        lines.append(q.define("confCIPHER_LIST", t.cipher_list))
    # the protocol floor comes last: sendmail applies the options in order, so it wins
    floor = list(PROTOCOL_FLOOR_OPTIONS[t.min_protocol]) if t.min_protocol else []
    if t.server_ssl_options or floor:
        options = [*t.server_ssl_options, *floor]
        lines.append(q.define("confSERVER_SSL_OPTIONS", " ".join(options)))
    if t.client_ssl_options or floor:
        options = [*t.client_ssl_options, *floor]
        lines.append(q.define("confCLIENT_SSL_OPTIONS", " ".join(options)))
    if t.dane:
        lines.append(q.define("confDANE", "true"))
    if t.mta_sts is not None:
        lines.append(mta_sts_feature(t.mta_sts.socket))
    if t.ciphersuites:
        # no conf* define reaches CipherSuites: the option line itself, quoted, in the
        # .cf's local section, then back to the .mc's own diversion
        lines += [LOCAL, f"`O CipherSuites={t.ciphersuites}'", RESUME]
    if t.group_readable_key:
        lines.append(_DONT_BLAME)
    return "".join(line + "\n" for line in lines)
