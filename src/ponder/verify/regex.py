"""``regex``: the answer must match a pattern (``pattern``; ``full = true`` for the whole
answer, stripped). Patterns from requests are bounded in length; a pathological one is
stopped by the verifier timeout like any hang."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from ponder.request import ChatRequest
from ponder.verify.base import Judgement, VerifierOptionError, require_str

MAX_PATTERN_CHARS = 2_000
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


class RegexVerifier:
    name: ClassVar[str] = "regex"
    request_options: ClassVar[frozenset[str]] = frozenset({"pattern", "full", "flags"})

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return isinstance(options.get("pattern"), str)

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        self._compile(options)

    def _compile(self, options: Mapping[str, Any]) -> re.Pattern[str]:
        pattern = require_str(options, "pattern", self.name)
        if len(pattern) > MAX_PATTERN_CHARS:
            raise VerifierOptionError(
                f"The regex verifier's pattern is {len(pattern)} characters;"
                f" at most {MAX_PATTERN_CHARS}."
            )
        letters = options.get("flags", "")
        if not isinstance(letters, str) or set(letters) - set(_FLAGS):
            raise VerifierOptionError("The regex verifier's flags must be letters from 'ims'.")
        flags = 0
        for letter in letters:
            flags |= _FLAGS[letter]
        try:
            return re.compile(pattern, flags)
        except re.error as exc:
            raise VerifierOptionError(
                f"The regex verifier's pattern does not compile: {exc}."
            ) from None

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        compiled = self._compile(options)
        text = answer.strip()
        full = bool(options.get("full", False))
        match = compiled.fullmatch(text) if full else compiled.search(text)
        how = "the whole answer matches" if full else "the answer contains a match of"
        if match is None:
            nope = "does not match" if full else "has no match of"
            return Judgement(False, f"the answer {nope} /{compiled.pattern}/")
        return Judgement(True, f"{how} /{compiled.pattern}/")
