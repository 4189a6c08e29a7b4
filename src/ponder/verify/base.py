"""The verifier interface.

A verifier judges one answer text to one request and says why, in words a person can act on
("the query ran: 3 rows", "fast's query failed: no such column total"). Options come from two
places: the model alias's ``verifier_options`` in ponder.toml (trusted: a database DSN lives
there) and the request's ``ponder.verify`` object, which may set only the keys a verifier
lists in ``request_options`` (so a client cannot point the sql verifier at another file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from ponder.errors import ConfigError
from ponder.request import ChatRequest


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verifier's verdict on one answer."""

    ok: bool
    reason: str


class VerifierOptionError(ConfigError):
    """Options a verifier cannot work with (a missing schema, a pattern that does not compile)."""


@runtime_checkable
class Verifier(Protocol):
    name: ClassVar[str]
    # Option keys a request may set in its ``ponder.verify`` object.
    request_options: ClassVar[frozenset[str]]

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        """Whether this verifier can judge answers to ``request`` (auto hedges only then)."""
        ...

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        """Raise :class:`VerifierOptionError` when ``options`` cannot be used for ``request``."""
        ...

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        """The verdict on ``answer``. May raise or hang: :func:`ponder.verify.judge` turns
        both into rejections."""
        ...


def require_str(options: Mapping[str, Any], key: str, verifier: str) -> str:
    value = options.get(key)
    if not isinstance(value, str) or not value:
        raise VerifierOptionError(f"The {verifier} verifier needs {key!r} (a string).")
    return value
