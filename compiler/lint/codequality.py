"""GitLab Code Quality output (`tlsc lint --format codequality`).

GitLab reads a JSON list of issues, a subset of the Code Climate format:
each with a description, a check_name, a fingerprint, a severity (info,
minor, major, critical or blocker) and a location (the file's path from the
repository root and the line it begins on). A CI job saves it as the
`codequality` report artifact; the merge request then shows the findings
the change adds or fixes.

The fingerprint identifies a finding across commits: it hashes the path,
the code, the message and how many equal findings came before it in the
file, not the line number, so a finding that only moves is not reported
as fixed and new again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from compiler.problems import Problem, one_line

#: tlsc's severities on GitLab's scale (an error breaks the built sendmail.cf)
SEVERITY = {"error": "major", "warning": "minor"}


def _path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def format_codequality(problems: Iterable[Problem]) -> str:
    """The problems as a GitLab Code Quality report (a JSON list), in file order."""
    issues: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], int] = {}
    for p in sorted(problems, key=lambda p: (_path(p.path), p.line, p.col, p.code, p.message)):
        path = _path(p.path)
        key = (path, p.code, p.message)
        nth = seen.get(key, 0)
        seen[key] = nth + 1
        digest = hashlib.sha256("\0".join([*key, str(nth)]).encode("utf-8", "surrogateescape"))
        issues.append(
            {
                "type": "issue",
                # escaped as in text output: the merge request shows it, and a bidi control
                # there would reorder the sentence (the fingerprint keeps the message as is)
                "description": one_line(p.message),
                "check_name": p.code,
                "fingerprint": digest.hexdigest(),
                "severity": SEVERITY.get(p.severity, "info"),
                "categories": ["Bug Risk"],
                "location": {"path": path, "lines": {"begin": p.line}},
            }
        )
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
