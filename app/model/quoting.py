"""Names and prompts quoted in the window's messages, cut short so a line stays a line."""

from __future__ import annotations

ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def shortened(text: str, limit: int = 60) -> str:
    """`text`, or its first `limit` - 1 characters and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def quoted(text: str, limit: int = 60) -> str:
    """“text” in curly quotes, shortened to `limit` characters."""
    return f"\N{LEFT DOUBLE QUOTATION MARK}{shortened(text, limit)}\N{RIGHT DOUBLE QUOTATION MARK}"
