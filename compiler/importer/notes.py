"""What an import did with each part of the input, as located values.

An import reports four kinds of things: errors (nothing is written), losses
(something of the original the spec cannot carry over; the spec is written
only with --allow-loss), verbatim items (kept as raw text in `mc.extra` or
`access:`), and informational notes (dropped comments, normalised spellings).
Everything stays a value with a file and line until the command prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.problems import Problem


@dataclass(frozen=True)
class Where:
    """A place in an input file; lines and columns count from 1."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Notes:
    """Everything an import has to say, collected while it reads."""

    errors: list[Problem] = field(default_factory=list)
    losses: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    verbatim: list[tuple[Where, str]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    info: list[tuple[Where, str]] = field(default_factory=list)

    def error(self, at: Where, code: str, message: str) -> None:
        """Something that stops the import: nothing is written."""
        self.errors.append(Problem(at.path, at.line, at.col, code, "error", message))

    def loss(self, at: Where, code: str, message: str) -> None:
        """Something of the original the spec cannot carry over."""
        self.losses.append(Problem(at.path, at.line, at.col, code, "error", message))

    def warn(self, at: Where, code: str, message: str) -> None:
        """Something the admin should look at; the import goes on."""
        self.warnings.append(Problem(at.path, at.line, at.col, code, "warning", message))

    def keep(self, at: Where, where_to: str) -> None:
        """A line kept verbatim (where_to: `mc.extra` or `access`)."""
        self.verbatim.append((at, where_to))

    def drop(self, what: str, count: int = 1) -> None:
        """Count something dropped on purpose (comments, blank lines, VERSIONID)."""
        self.dropped[what] = self.dropped.get(what, 0) + count

    def note(self, at: Where, message: str) -> None:
        """An informational remark for the summary."""
        self.info.append((at, message))
