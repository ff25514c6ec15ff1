"""Plan outputs, one module each: text (a person at a terminal), json (the
stable interface), markdown (a pull-request comment). Each is
`render(plan, ...) -> str`."""

from __future__ import annotations

FORMATS = ("text", "json", "markdown")
