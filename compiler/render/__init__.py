"""Renderers: pure functions from a resolved host to the exact text of each file."""

from __future__ import annotations

from compiler.render.access import lend_body, render_access_parts
from compiler.render.mc import mc_block, render_mc
from compiler.render.starttls import render_starttls
from compiler.resolve import HostConfig
from compiler.rules import ClusterRules


def render_host(
    host: HostConfig,
    source: str,
    rules: ClusterRules,
    parts: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, str]:
    """{absolute path on the host: exact file text} for every managed file.

    `parts`, when given, gets the parts the access file's text is joined from
    (render_access_parts), when other hosts share them."""
    s = host.settings
    rules = rules.for_host(host.name)
    in_use = rules.count(s.tls.request_client_cert) > 0
    # with ownership: tls the host's sendmail.mc is kept and only the STARTTLS include
    # is tlsc's; the planner splices it in (plan/ownership.py)
    if s.ownership != "tls":
        mc = render_mc(host, source, access_in_use=in_use)
    else:
        mc = mc_block(s.paths.starttls_m4) if s.tls.enabled else ""
    access = render_access_parts(host, source, rules)
    text = "".join(access)
    if rules.single_use:
        lend_body(rules, access, text)  # no other host joins these parts
    elif parts is not None:
        parts[s.paths.access] = access
    del access
    files = {s.paths.access: text}
    if mc:
        files[s.paths.sendmail_mc] = mc
    if s.tls.enabled:
        files[s.paths.starttls_m4] = render_starttls(host, source)
    return dict(sorted(files.items()))
