"""Pull the part a verifier judges out of a model's answer text (fenced code, final value)."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block as ``(language, body)``, in order; an unclosed last fence counts."""
    return [(m.group(1).lower(), m.group(2).strip()) for m in _FENCE.finditer(text)]


def last_fenced(text: str, languages: tuple[str, ...]) -> str | None:
    """The last block fenced as one of ``languages``; else the last unlabelled block."""
    blocks = fenced_blocks(text)
    for lang, body in reversed(blocks):
        if lang in languages and body:
            return body
    for lang, body in reversed(blocks):
        if not lang and body:
            return body
    return None
