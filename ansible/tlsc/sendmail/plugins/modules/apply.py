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
    diff format. It fails, as the apply would and with its sentence, when O(plan) no longer
    holds, when the apply's pre-flight would refuse (C(tlsc doctor --preflight), which
    checks the TLS files the spec names, run when a file changes or a rebuild is owed,
    unless C(--skip-preflight) is in O(extra_args)), or when the plan weakens TLS without
    O(allow_downgrade) (or C(--allow-downgrade) in O(extra_args)).
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
      files or the spec changed since. In check mode the task fails when the apply would
      refuse it.
    type: path
  tlsc:
    description: The tlsc executable on the managed host (a name on PATH or a path), split
      like a shell word list, e.g. C(/opt/tlsc/bin/tlsc) or C(python3 -m compiler). When
      its first word is no executable of the host the task fails, saying so.
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
import os  # noqa: E402 (Ansible: the doc blocks come first)
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


def _executable(module):
    """The words of O(tlsc), its first an executable of this host; else the task fails with
    one sentence (run_command would say only "Error executing command", or raise)."""
    given = module.params["tlsc"]
    try:
        words = shlex.split(given)
    except ValueError as exc:
        module.fail_json(msg=printable(f"tlsc {given!r} is not a shell word list: {exc}"))
    if not words:
        module.fail_json(msg="tlsc is empty: name the tlsc executable, e.g. /opt/tlsc/bin/tlsc")
    first = words[0]
    if os.sep not in first:
        found = module.get_bin_path(first)
    else:  # run_command runs it in chdir
        found = os.path.join(module.params["chdir"] or "", os.path.expanduser(first))
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        module.fail_json(
            msg=printable(
                f"tlsc: {first} is not an executable on this host (install tlsc on every"
                " mail host, or set tlsc to its path)"
            )
        )
    return words


def _base(module, command):
    p = module.params
    cmd = [*_executable(module), command, p["spec"], "--root", p["root"], "--format", "json"]
    if p["host"]:
        cmd += ["--host", p["host"]]
    return cmd


def _check(module):
    p = module.params
    cmd = _base(module, "plan")
    fresh = None
    if p["plan"]:
        fresh = os.path.join(module.tmpdir, "now.plan")  # the module's own temp directory
        cmd += ["--out", fresh]
    rc, out, err = module.run_command(cmd, cwd=p["chdir"])
    if rc != 0:
        module.fail_json(msg=_sentence(out, err, f"tlsc plan exited {rc}"), cmd=cmd, rc=rc)
    try:
        doc = json.loads(out)
    except ValueError:
        module.fail_json(msg=_sentence(out, err, "tlsc plan wrote no JSON"), cmd=cmd, rc=rc)
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
    refusal = _would_refuse(module, host, fresh, changed or bool(host.get("actions")))
    if refusal:
        result["changed"] = False
        module.fail_json(msg=printable(refusal), **result)
    module.exit_json(**result)


def _would_refuse(module, host, fresh, work):
    """Why the apply of a real run would refuse what check mode planned, or None, in the
    order the apply looks: a saved plan that no longer holds, the pre-flight (when there
    is `work`: a file to change or a rebuild owed), a plan that weakens TLS without
    allow_downgrade. So a --check run does not report ok for a host the rollout then
    stops at."""
    p = module.params
    if fresh is not None:
        stale = _stale(p["plan"], _read_json(module, p["plan"]), _read_json(module, fresh), host)
        if stale:
            return stale
    if work and "--skip-preflight" not in p["extra_args"]:
        failed = _preflight(module, host)
        if failed:
            return failed
    downgrades = [w for w in host.get("warnings", []) if w.get("downgrade")]
    allowed = p["allow_downgrade"] or "--allow-downgrade" in p["extra_args"]
    if downgrades and not allowed:
        codes = ", ".join(sorted({str(w.get("code")) for w in downgrades}))
        return (
            f"the plan weakens TLS ({len(downgrades)} downgrade(s): {codes}), so the apply"
            " would refuse it; allow it with allow_downgrade (--allow-downgrade) if that is"
            " intended"
        )
    return None


def _preflight(module, host):
    """The apply's pre-flight (`tlsc doctor --preflight`: the checks apply runs before it
    writes): its refusal, as compiler.apply.runner._preflight words it, or None."""
    p = module.params
    name = p["host"] or host.get("host")
    cmd = [*_executable(module), "doctor", p["spec"], "--root", p["root"], "--format", "json"]
    cmd += ["--preflight", *(["--host", name] if name else [])]
    rc, out, err = module.run_command(cmd, cwd=p["chdir"])
    try:
        findings = json.loads(out)
    except ValueError:
        findings = None
    if rc not in (0, 1) or not isinstance(findings, list):
        module.fail_json(msg=_sentence(out, err, f"tlsc doctor exited {rc}"), cmd=cmd, rc=rc)
    errors = [f for f in findings if isinstance(f, dict) and f.get("severity") == "error"]
    if not errors:
        return None
    root = os.path.abspath(os.path.join(p["chdir"] or "", p["root"]))  # where tlsc runs
    where = "" if root == "/" else f" --root {p['root']}"
    found = "; ".join(f"{f.get('path')}: {f.get('code')} {f.get('message')}" for f in errors)
    return (
        f"pre-flight: {found}; nothing was changed; fix"
        f" {'it' if len(errors) == 1 else 'them'} (tlsc doctor {p['spec']}"
        f" --host {name}{where} shows how), or apply anyway with --skip-preflight"
    )


def _read_json(module, path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=printable(f"cannot read the saved plan {path}: {exc}"))


def _drift(planned, found, name):
    """compiler.plan.saved.DriftedFile.message, or None when the file is as planned."""
    expected = planned.get("before_sha256")
    if found == expected:
        return None
    now = "now exists" if expected is None else "is gone" if found is None else "changed"
    return f"{planned.get('path')} on {name} {now} since the plan was made; make a new plan"


def _links(then, links, name):
    """compiler.plan.saved.check_links: a sentence per symbolic link that leads elsewhere."""
    out = []
    for path in sorted(set(then) | set(links)):
        old, new = then.get(path), links.get(path)
        if old == new:
            continue
        if new is None:
            now = f"is no longer a symbolic link (it led to {old} when the plan was made)"
        elif old is None:
            now = f"became a symbolic link to {new} since the plan was made"
        else:
            now = f"is a symbolic link to {new} now, to {old} when the plan was made"
        out.append(f"{path} on {name} {now}; make a new plan")
    return out


def _stale(where, saved, now, host):
    """tlsc apply --plan's checks (compiler.apply.runner._check_saved_plan) of the saved
    plan `saved` against `now`, the plan tlsc makes now of the same host (both written by
    tlsc plan --out): why the apply would refuse it, or None."""
    name = host.get("host")
    if not isinstance(saved, dict) or saved.get("kind") != now.get("kind"):
        return f"{where} is not a tlsc saved plan (save one with tlsc plan --out)"
    if (saved.get("spec") or {}).get("sha256") != (now.get("spec") or {}).get("sha256"):
        return f"{now['spec'].get('path')} changed since the plan {where} was made; make a new plan"
    then = {h.get("host"): h for h in saved.get("hosts") or [] if isinstance(h, dict)}
    if name not in then:
        return f"the plan {where} has no host {name}; make a plan for this host"
    (current,) = [h for h in now.get("hosts") or [] if h.get("host") == name]
    before = {f["path"]: f.get("before_sha256") for f in current.get("files", [])}
    planned = then[name].get("files") or []
    done = not now.get("changes") and all(
        before.get(f.get("path")) == f.get("after_sha256") for f in planned
    )
    drifted = [] if done else [_drift(f, before.get(f.get("path")), name) for f in planned]
    drifted = [d for d in drifted if d]
    if "links" in then[name]:
        drifted += _links(then[name]["links"] or {}, current.get("links") or {}, name)
    if drifted:
        more = f" (and {len(drifted) - 1} more)" if len(drifted) > 1 else ""
        return f"refusing the plan {where}: {drifted[0]}{more}"
    after = {f["path"]: f.get("after_sha256") for f in current.get("files", [])}
    if after != {f.get("path"): f.get("after_sha256") for f in planned}:
        return (
            f"the plan {where} would write other bytes than this tlsc makes from the same"
            " spec (another tlsc version?); make a new plan"
        )
    return None


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
