"""Bookkeeping shared by the wire-format providers.

:class:`DeltaTracker` turns text deltas into ``thinking``/``answer`` events (answer text goes
through :class:`~ponder.splitter.ThinkSplitter` when the model writes its thoughts inline),
remembers what arrived, and derives from that what the wire formats leave open: the finish
reason when a stream ended inside the thoughts, and how a provider's single output-token count
splits into thinking and answer tokens.
"""

from __future__ import annotations

from ponder.events import Answer, Event, FinishReason, Thinking, Usage
from ponder.splitter import Piece, ThinkSplitter
from ponder.tokens import estimate_tokens

# Content that opens (after whitespace) with one of these is inline thoughts.
_OPENING_TAGS = ("<think>", "<thinking>")


class DeltaTracker:
    """``inline_tags``: True, the content always goes through the think-splitter; False, it is
    all answer; None (the default), the splitter is used only when the content opens with
    ``<think>`` or ``<thinking>`` after whitespace — decided on the first characters, which
    are held back until they are unambiguous (at most the length of ``<thinking>``)."""

    def __init__(self, *, inline_tags: bool | None = None, opens_in_template: bool = False) -> None:
        self._splitter = (
            ThinkSplitter(starts_in_thoughts=opens_in_template)
            if inline_tags or opens_in_template
            else None
        )
        self._detecting = inline_tags is None and self._splitter is None
        self._held = ""
        self._thinking: list[str] = []
        self._answer: list[str] = []
        self.saw_thinking = False  # any thinking at all, redacted or signature-only included

    @property
    def thinking_text(self) -> str:
        return "".join(self._thinking)

    @property
    def answer_text(self) -> str:
        return "".join(self._answer)

    @property
    def has_answer(self) -> bool:
        return bool(self._answer)

    def thinking(self, event: Thinking) -> Thinking:
        self.saw_thinking = True
        if event.text:
            self._thinking.append(event.text)
        return event

    def content(self, text: str) -> list[Event]:
        """Events for a delta of the content field (the answer, or inline-tagged thoughts)."""
        if not text:
            return []
        if self._detecting:
            return self._detect(text)
        if self._splitter is None:
            self._answer.append(text)
            return [Answer(text)]
        return self._pieces(self._splitter.feed(text))

    def _detect(self, text: str) -> list[Event]:
        held = self._held + text
        start = held.lstrip()
        if start and any(tag.startswith(start) for tag in _OPENING_TAGS):
            self._held = held  # still a possible opening tag: wait for more
            return []
        self._detecting = False
        self._held = ""
        if start.startswith(_OPENING_TAGS):
            self._splitter = ThinkSplitter()
        elif not start:  # whitespace only so far
            self._detecting, self._held = True, held
            return []
        return self.content(held)

    def close(self) -> list[Event]:
        """Flush the splitter; call once when the upstream signalled the end."""
        if self._detecting and self._held:
            self._detecting = False
            held, self._held = self._held, ""
            events = self.content(held)
            return events + self.close()
        if self._splitter is None:
            return []
        return self._pieces(self._splitter.close())

    def _pieces(self, pieces: list[Piece]) -> list[Event]:
        events: list[Event] = []
        for kind, text in pieces:
            if kind == "thinking":
                events.append(self.thinking(Thinking(text)))
            else:
                self._answer.append(text)
                events.append(Answer(text))
        return events

    def finish_reason(self, upstream: FinishReason) -> FinishReason:
        """``thinking_length`` when the stream ended inside the thoughts with no answer."""
        ended_in_thoughts = self._splitter is not None and self._splitter.ended_in_thoughts
        if not self._answer and self.saw_thinking and (ended_in_thoughts or upstream == "length"):
            return "thinking_length"
        return upstream

    def split_usage(
        self,
        input_tokens: int | None,
        output_tokens: int,
        thinking_tokens: int | None = None,
        cached_input_tokens: int | None = None,
    ) -> Usage:
        """A Usage from a provider's counts.

        With a reported thinking count the split is exact. Without one, when the model thought,
        the answer's tokens are estimated from its text (which is all visible) and the rest of
        the output is counted as thinking (summarised or redacted thoughts cost more tokens
        than the text shows); ``estimated`` is then True.
        """
        if thinking_tokens is not None:
            thinking = min(max(thinking_tokens, 0), output_tokens)
            return Usage(
                input_tokens, thinking, output_tokens - thinking, False, cached_input_tokens
            )
        if not self.saw_thinking:
            return Usage(input_tokens, 0, output_tokens, False, cached_input_tokens)
        answer = min(estimate_tokens(self.answer_text), output_tokens)
        return Usage(input_tokens, output_tokens - answer, answer, True, cached_input_tokens)
