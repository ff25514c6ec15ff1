"""Render the access file: one `KEY<TAB>VALUE` line per entry, LF endings.

Order: the spec's `access:` entries as written, then `domains:` rules sorted
by key (the bare `*` default first), `recipients:`, and `issuer_tags:`, each
section under a `#` comment (only a `#` in column 1 is a comment to
makemap). With `ownership: block` the text is the block tlsc owns, between
`# BEGIN tlsc` and `# END tlsc`; apply splices it into the host's file.
"""

from __future__ import annotations

from compiler.render.header import header_lines
from compiler.resolve import HostConfig
from compiler.rules import ClusterRules

BLOCK_BEGIN = "# BEGIN tlsc"
BLOCK_END = "# END tlsc"

_SECTIONS = {
    "access": "access: entries",
    "domains": "domains: TLS rules per peer",
    "recipients": "recipients: TLS rules per recipient (TLS_Rcpt)",
    "issuer_tags": "issuer_tags: certificate issuers for CITag checks",
}


def render_access(host: HostConfig, source: str, rules: ClusterRules) -> str:
    """The exact text of the host's access file (or of its tlsc block)."""
    s = host.settings
    lines = [f"# {text}" for text in header_lines(source, host.name, host.fqdn, "access")]
    section = None
    for item in rules.all(s.tls.request_client_cert):
        if item.section != section:
            section = item.section
            lines.append(f"# {_SECTIONS[section]}")
        lines.append(item.entry.line())
    if s.ownership == "block":
        lines = [BLOCK_BEGIN, *lines, BLOCK_END]
    return "".join(line + "\n" for line in lines)
