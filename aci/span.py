"""Source positions.

One small immutable record, :class:`Span`, names a stretch of one source file; every
AST node and every diagnostic carries one. :func:`span_of` is the single helper that
makes spans from Lark's metadata.
"""

from __future__ import annotations

from . import record


@record.frozen(order=True)
class Span:
    """A half-open stretch of a file: 1-based lines and columns, 0-based offsets."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = record.field(default=0, eq=False, order=False)
    end: int = record.field(default=0, eq=False, order=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to(self, other: "Span") -> "Span":
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(
            self.file,
            self.line,
            self.column,
            other.end_line,
            other.end_column,
            self.start,
            other.end,
        )


def span_of(file: str, meta) -> Span:
    """The span of a Lark tree (its ``meta``) or token."""
    return Span(
        file, meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos
    )
