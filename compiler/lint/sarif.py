"""SARIF 2.1.0 output, for GitHub code scanning and other SARIF readers.

One run, tool `tlsc`, every rule described from its module docstring, one
result per finding with its region and, where the rule has a mechanical
repair, the fix as a replacement. Columns count Unicode code points, as the
text output does (`columnKind: unicodeCodePoints`), and not a byte order mark
that starts the file (SARIF 2.1.0 section 3.30.2: text regions do not depend
on one); removing that mark is therefore a binary replacement of its three
bytes. Message texts are escaped as in text output (`problems.one_line`):
code scanning shows them in the pull request, where a bidi control would
reorder the sentence. Artifact URIs are percent-encoded paths.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from compiler import __version__
from compiler.lint.engine import Edit, LintReport, Rule
from compiler.lint.source import BOM
from compiler.problems import Problem, one_line, scrub_message

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    paragraphs = [p.strip() for p in rule.doc.split("\n\n")]
    first = paragraphs[0].split(":", 1)[-1].strip() if paragraphs else rule.name
    body = " ".join(paragraphs[1].split()) if len(paragraphs) > 1 else first
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": first},
        "fullDescription": {"text": body},
        "help": {"text": body},
    }


def _region(report: LintReport, start: int, end: int) -> dict[str, int]:
    line, col = report.doc.pos(start)
    end_line, end_col = report.doc.pos(end)
    return {"startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col}


def _replacement(report: LintReport, edit: Edit) -> dict[str, Any]:
    """An edit as a SARIF replacement: a text one, but for the removal of a byte order
    mark, which no text region can name (it is before column 1)."""
    if report.doc.bom and (edit.start, edit.end, edit.text) == (0, len(BOM), ""):
        return {"deletedRegion": {"byteOffset": 0, "byteLength": len(BOM.encode("utf-8"))}}
    return {
        "deletedRegion": _region(report, edit.start, edit.end),
        "insertedContent": {"text": edit.text},
    }


def _uri(path: str) -> str:
    """A path as a URI reference: `/` kept, anything else outside RFC 3986's unreserved
    characters (a blank, a `#`, non-ASCII) percent-encoded, as UTF-8."""
    return quote(path.replace("\\", "/"), safe="/", errors="surrogateescape")


def format_sarif(reports: list[LintReport], extra: list[Problem] | None = None) -> str:
    """The findings of every report (and plain problems, e.g. unreadable files) as SARIF."""
    from compiler.lint.rules import RULES

    index = {rule.id: k for k, rule in enumerate(RULES)}
    results: list[dict[str, Any]] = []
    for report in reports:
        uri = _uri(report.path)
        for f in report.findings:
            result: dict[str, Any] = {
                "ruleId": f.code,
                "level": f.severity,
                "message": {"text": one_line(scrub_message(f.message))},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri},
                            "region": _region(report, f.offset, f.offset + max(1, f.length)),
                        }
                    }
                ],
            }
            if f.code in index:
                result["ruleIndex"] = index[f.code]
            if f.edits:
                result["fixes"] = [
                    {
                        "description": {"text": "tlsc lint --fix"},
                        "artifactChanges": [
                            {
                                "artifactLocation": {"uri": uri},
                                "replacements": [_replacement(report, e) for e in f.edits],
                            }
                        ],
                    }
                ]
            results.append(result)
    for p in extra or []:
        results.append(
            {
                "ruleId": p.code,
                "level": p.severity,
                "message": {"text": one_line(p.message)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(p.path)},
                            "region": {"startLine": p.line, "startColumn": p.col},
                        }
                    }
                ],
            }
        )
    sarif = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tlsc",
                        "version": __version__,
                        "informationUri": "https://github.com/tlsc/tlsc",
                        "rules": [_rule_descriptor(rule) for rule in RULES],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"
