#!/usr/bin/python
# tlsc.sendmail.apply: run tlsc apply (or, in check mode, tlsc plan) on the host.
from __future__ import annotations

DOCUMENTATION = r"""
module: apply
short_description: Make a sendmail host match a tlsc spec (tlsc apply)
version_added: "0.1.0"
description:
  - Runs C(tlsc apply SPEC --host HOST --yes --format json) on the managed host. tlsc writes
    the changed files atomically with a backup, rebuilds access.db and sendmail.cf, restarts
    sendmail when needed, verifies STARTTLS, and puts everything back itself when any of that
    fails.
  - In check mode it runs C(tlsc plan SPEC --root ROOT --host HOST --format json) instead and
    writes nothing; with C(--diff) the plan's per-file unified diffs are returned in Ansible's
    diff format.
  - C(changed) is true exactly when apply changed a file (in check mode, when the plan has
    changes). A refused, failed or rolled-back apply fails the task with tlsc's sentence as
    C(msg); the report (with the rollback steps) is still returned.
  - tlsc must be installed on the managed host (see O(tlsc)).
options:
  spec:
    description: Path of the spec file on the managed host.
    required: true
    type: path
  host:
    description: The spec's host to apply; default is the one tlsc finds is this machine.
    type: str
  root:
    description: The host's files are under this directory (as DESTDIR); nothing outside it is
      written.
    type: path
    default: /
  plan:
    description: A saved plan (C(tlsc plan --out)) to apply; tlsc refuses it when the host's
      files or the spec changed since. Ignored in check mode.
    type: path
  tlsc:
    description: The tlsc executable on the managed host (a name on PATH or a path), split
      like a shell word list, e.g. C(/opt/tlsc/bin/tlsc) or C(python3 -m compiler).
    type: str
    default: tlsc
  allow_downgrade:
    description: Apply changes that weaken TLS (tlsc refuses them otherwise).
    type: bool
    default: false
  no_restart:
    description: Never run commands.restart.
    type: bool
    default: false
  no_verify:
    description: Skip the STARTTLS probe after the restart.
    type: bool
    default: false
  backup_dir:
    description: Where tlsc keeps its backups (default /var/backups/tlsc under O(root)).
    type: path
  extra_args:
    description: More arguments for C(tlsc apply) (not for the plan of check mode),
      e.g. C([--verify-wait, "30"]).
    type: list
    elements: str
    default: []
  chdir:
    description: The directory tlsc runs in.
    type: path
notes:
  - Supports check mode and diff mode.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - tlsc developers
"""

EXAMPLES = r"""
- name: Apply the spec on this host
  tlsc.sendmail.apply:
    spec: /etc/tlsc/cluster.yaml
    host: "{{ tlsc_host }}"

- name: Apply a reviewed, saved plan
  tlsc.sendmail.apply:
    spec: /etc/tlsc/cluster.yaml
    host: "{{ tlsc_host }}"
    plan: /etc/tlsc/{{ tlsc_host }}.plan

- name: Drift report (run the play with --check --diff)
  tlsc.sendmail.apply:
    spec: /etc/tlsc/cluster.yaml
    host: "{{ tlsc_host }}"
  check_mode: true
"""

RETURN = r"""
result:
  description: tlsc's result, applied, unchanged, rolled-back, failed or refused; planned in
    check mode.
  returned: always
  type: str
  sample: applied
message:
  description: tlsc's one-sentence summary.
  returned: always
  type: str
changes:
  description: How many files change (or would change).
  returned: always
  type: int
  sample: 2
files:
  description: The managed files with action (create, update, delete, unchanged) and
    before/after SHA-256.
  returned: always
  type: list
  elements: dict
rolled_back:
  description: True when a step failed and tlsc put the host back (result rolled-back).
  returned: always
  type: bool
rollback:
  description: tlsc's rollback steps (rollback, rollback-restart, rollback-verify) with their
    status and detail; empty when nothing was rolled back.
  returned: always
  type: list
  elements: dict
backup:
  description: The backup directory of this apply, or null.
  returned: always
  type: str
verify:
  description: The STARTTLS probe after the apply, in tlsc verify's JSON shape, or null.
  returned: always
  type: dict
report:
  description: tlsc's whole JSON report (apply's, or the plan's host entry in check mode).
  returned: always
  type: dict
cmd:
  description: The command that ran.
  returned: always
  type: list
  elements: str
"""

import json  # noqa: E402 (Ansible: the doc blocks come first)
import re  # noqa: E402 (Ansible: the doc blocks come first)
import shlex  # noqa: E402 (Ansible: the doc blocks come first)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (Ansible: the doc blocks come first)

#: compiler.problems._CONTROLS (a module runs on the host, without tlsc's package): what a
#: terminal acts on instead of showing, or shows as nothing or out of order: C0 and C1
#: controls, DEL, U+2028/U+2029, the bidi controls and the zero-width characters
_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)


def printable(text):
    """`text` as compiler.problems.one_line shows it: each control character escaped, so a
    server's reply or a log line that tlsc quotes cannot act on the terminal that shows
    the play's output."""
    return _CONTROLS.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def _sentence(stdout, stderr, fallback):
    """tlsc's one sentence (escaped): the JSON's message or problems, else its stderr's
    last line."""
    return printable(_raw_sentence(stdout, stderr, fallback))


def _raw_sentence(stdout, stderr, fallback):
    try:
        doc = json.loads(stdout)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("message"):
        return doc["message"]
    if isinstance(doc, dict) and doc.get("problems"):
        doc = doc["problems"]
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "message" in doc[0]:
        p = doc[0]
        return f"{p.get('path')}:{p.get('line')}:{p.get('col')}: {p.get('message')}"
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else fallback


def _base(module, command):
    p = module.params
    cmd = [*shlex.split(p["tlsc"]), command, p["spec"], "--root", p["root"], "--format", "json"]
    if p["host"]:
        cmd += ["--host", p["host"]]
    return cmd


def _check(module):
    cmd = _base(module, "plan")
    rc, out, err = module.run_command(cmd, cwd=module.params["chdir"])
    if rc != 0:
        module.fail_json(msg=_sentence(out, err, f"tlsc plan exited {rc}"), cmd=cmd, rc=rc)
    doc = json.loads(out)
    hosts = doc.get("hosts") or [{}]
    host = hosts[0]
    files = host.get("files", [])
    changed = any(f.get("action") != "unchanged" for f in files)
    result = {
        "changed": changed,
        "result": "planned",
        "message": f"{doc.get('changes', 0)} file(s) would change",
        "changes": doc.get("changes", 0),
        "files": [{k: v for k, v in f.items() if k != "diff"} for f in files],
        "rolled_back": False,
        "rollback": [],
        "backup": None,
        "verify": None,
        "report": host,
        "cmd": cmd,
    }
    if module._diff:
        result["diff"] = [
            {
                "before_header": f["path"],
                "after_header": f["path"],
                "prepared": f["diff"],
            }
            for f in files
            if f.get("action") != "unchanged" and f.get("diff")
        ]
    module.exit_json(**result)


def _apply(module):
    p = module.params
    cmd = [*_base(module, "apply"), "--yes"]
    if p["plan"]:
        cmd += ["--plan", p["plan"]]
    if p["backup_dir"]:
        cmd += ["--backup-dir", p["backup_dir"]]
    for flag in ("allow_downgrade", "no_restart", "no_verify"):
        if p[flag]:
            cmd.append("--" + flag.replace("_", "-"))
    cmd += p["extra_args"]
    rc, out, err = module.run_command(cmd, cwd=p["chdir"])
    try:
        report = json.loads(out)
    except ValueError:
        module.fail_json(msg=_sentence(out, err, f"tlsc apply exited {rc}"), cmd=cmd, rc=rc)
    if not isinstance(report, dict) or "result" not in report:
        module.fail_json(msg=_sentence(out, err, f"tlsc apply exited {rc}"), cmd=cmd, rc=rc)
    files = report.get("files", [])
    applied = report["result"] == "applied"
    result = {
        "changed": applied and any(f.get("action") != "unchanged" for f in files),
        "result": report["result"],
        "message": printable(report.get("message") or ""),
        "changes": report.get("changes", 0),
        "files": files,
        "rolled_back": report["result"] == "rolled-back",
        "rollback": [s for s in report.get("steps", []) if s["name"].startswith("rollback")],
        "backup": report.get("backup"),
        "verify": report.get("verify"),
        "report": report,
        "cmd": cmd,
        "rc": rc,
    }
    if rc != 0 or report["result"] not in ("applied", "unchanged"):
        result["changed"] = False
        result["msg"] = _sentence(out, err, f"tlsc apply: {report['result']}")
        module.fail_json(**result)
    module.exit_json(**result)


def main():
    """Entry point of the module."""
    module = AnsibleModule(
        argument_spec={
            "spec": {"type": "path", "required": True},
            "host": {"type": "str"},
            "root": {"type": "path", "default": "/"},
            "plan": {"type": "path"},
            "tlsc": {"type": "str", "default": "tlsc"},
            "allow_downgrade": {"type": "bool", "default": False},
            "no_restart": {"type": "bool", "default": False},
            "no_verify": {"type": "bool", "default": False},
            "backup_dir": {"type": "path"},
            "extra_args": {"type": "list", "elements": "str", "default": []},
            "chdir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    if module.check_mode:
        _check(module)
    else:
        _apply(module)


if __name__ == "__main__":
    main()
