"""``embedded``: the embedded model's own checks (arithmetic, the ledger task), which
recognise their prompts and solve them (:mod:`ponder.server.verify`, :mod:`ponder.tasks`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ponder.request import ChatRequest
from ponder.server.verify import verify
from ponder.verify.base import Judgement


class EmbeddedVerifier:
    name: ClassVar[str] = "embedded"
    request_options: ClassVar[frozenset[str]] = frozenset()

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return verify(request.last_user_text, "").verifiable

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        return None

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        verdict = verify(request.last_user_text, answer)
        if not verdict.verifiable:
            return Judgement(False, "the embedded verifier does not recognise this prompt")
        return Judgement(bool(verdict.ok), verdict.reason)
