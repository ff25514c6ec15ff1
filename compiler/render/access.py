"""Render the access file: one `KEY<TAB>VALUE` line per entry, LF endings.

Order: the spec's `access:` entries as written, then `domains:` rules sorted
by key (the bare `*` default first), `recipients:`, and `issuer_tags:`, each
section under a `#` comment (only a `#` in column 1 is a comment to
makemap). With `ownership: block` the text is the block tlsc owns, between
`# BEGIN tlsc` and `# END tlsc`; apply splices it into the host's file.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

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

#: The entry lines below the header depend on nothing but the cluster's rules and
#: whether the host requests client certificates, so they are rendered once per
#: (rules, request_client_cert) and shared by every host with that variant: a large
#: cluster's hosts would otherwise each build the same 100k lines again. They are
#: kept as parts (the `access:` entries are rules.user_texts.body itself), not
#: joined: a host's file is joined once, with its header, and no second copy of a
#: million lines is kept.
_BODIES: WeakKeyDictionary[ClusterRules, dict[bool, tuple[str, ...]]] = WeakKeyDictionary()


def access_parts(rules: ClusterRules, request_client_cert: bool) -> tuple[str, ...]:
    """The section comments and entry lines of an access file (no header), in parts."""
    bodies = _BODIES.setdefault(rules, {})
    body = bodies.get(request_client_cert)
    if body is None:
        user = rules.user_texts.body  # one text, shared by both variants
        parts = [f"# {_SECTIONS['access']}\n", user] if user else []
        generated: list[str] = []
        section = None
        for item in rules.generated(request_client_cert):
            if item.section != section:
                section = item.section
                generated.append(f"# {_SECTIONS[section]}\n")
            generated.append(item.entry.line() + "\n")
        body = bodies[request_client_cert] = (*parts, "".join(generated))
    return body


def lend_body(rules: ClusterRules, parts: tuple[str, ...], text: str) -> None:
    """Let the `access:` entries' body live in `text`, the access file of the one host
    with these rules, joined from `parts`: else a million entries would be held twice,
    once in the body and once in the file (AccessTexts.lend)."""
    texts = rules.user_texts
    body = texts.body
    for k, part in enumerate(parts):
        if part is body and body:
            _BODIES.pop(rules, None)
            texts.lend(text, sum(map(len, parts[:k])))
            return


def access_body(rules: ClusterRules, request_client_cert: bool) -> str:
    """The section comments and entry lines of an access file (no header)."""
    return "".join(access_parts(rules, request_client_cert))


def render_access(host: HostConfig, source: str, rules: ClusterRules) -> str:
    """The exact text of the host's access file (or of its tlsc block)."""
    return "".join(render_access_parts(host, source, rules))


def render_access_parts(host: HostConfig, source: str, rules: ClusterRules) -> tuple[str, ...]:
    """render_access's text in the parts it is joined from: the host's header, then the
    parts every host with the same rules shares (access_parts), each ending in a line
    break; the planner compares a host's file with the shared parts without a copy of
    its own (plan/planner.py)."""
    s = host.settings
    header = "".join(f"# {line}\n" for line in header_lines(source, host.name, host.fqdn, "access"))
    body = access_parts(rules, s.tls.request_client_cert)
    if s.ownership in ("block", "tls"):
        return (f"{BLOCK_BEGIN}\n{header}", *body, f"{BLOCK_END}\n")
    return (header, *body)
