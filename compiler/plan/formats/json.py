"""The plan as JSON: the documented versioned shape, one object, indented."""

from __future__ import annotations

import json

from compiler.plan.model import Plan


def render(plan: Plan) -> str:
    """`{"version": 1, "changes": N, "hosts": [...]}` and a newline."""
    return json.dumps(plan.to_json(), indent=2) + "\n"
