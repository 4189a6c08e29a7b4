"""What the embedded model is asked: the question set apart, or an honest decline.

The embedded model learned a few kinds of question in a few phrasings
(:func:`ponder.tasks.learned_prompt`), and it gets anything else wrong. So before it runs,
the question is set apart from what surrounds it:
- an agent client's context blocks, which it puts before the question in the same turn
  (Claude Code's reminder with today's date);
- asides that only pick a mode (the router read them);
- asides that only say how the answer should look (its answers already look that way).

Anything else gets a canned reply that says why, and what to configure instead. It ends with
the finish reason ``declined``: a canned reply, not the model's (consumers label it, and
leave it out of timings).
"""

from __future__ import annotations

import re

from ponder import tasks
from ponder.events import Answer, Event, Finished, Usage
from ponder.request import ChatRequest, TextPart
from ponder.router.rules import MODE_PHRASES
from ponder.tasks import ledger

# The reply to a question the embedded model was not trained for: why (a sentence from
# tasks.untrained), then what it can do and how to configure a real model. It ends with the
# finish reason ``declined``: a canned reply, not the model's (consumers label it, and leave
# it out of timings).
OUT_OF_DOMAIN_HEAD = "I'm ponder's small embedded model, trained offline for two kinds of \
question only. {reason} So I won't guess at it."
_LEDGER_SIZES = "; ".join(
    f"{c} customers, {o} orders, {r} refunds (top {k})" for c, o, r, k in ledger.SHAPES.values()
)
OUT_OF_DOMAIN = f"""\
What I can do:
- arithmetic on whole numbers: addition and subtraction up to 4 digits, multiplication \
of up to 4 digits by up to 2 digits ("What is 4821 * 37?", "347*28", "compute 347 times 28");
- ledger questions: "Who are the top 2 spenders, excluding customers who refunded more \
than half of their orders?" over a small ledger written in the prompt, with amounts up \
to 99, of the sizes I learned: {_LEDGER_SIZES} \
("Orders: ivy 64, ned 45, ray 30, ivy 49, kai 90. Refunds: kai 90, ray 30. ...").

For anything else, configure a real model in ponder.toml, for example:

    [models.deep]
    provider = "openai"
    base_url = "https://api.deepseek.com/v1"
    model = "deepseek-reasoner"
    api_key_env = "DEEPSEEK_API_KEY"

or point the local provider at another ONNX Runtime GenAI model folder:

    [models.deep]
    provider = "local"
    path = "/path/to/qwen3-onnx-folder"
"""


_CLAUSE = re.compile(r"[^:;,.!?\n]*(?:[:;,.!?\n]+|$)")
# How an answer should look, which the embedded model's answers already do: one number or
# the names asked for, with no explanation ("Reply with the number only.", "Just the answer").
FORMAT_PHRASES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"^\s*(?:please\s+)?(?:reply|respond|answer|give|output|return)\s+(?:me\s+)?(?:with\s+)?"
        r"(?:just|only)?\s*(?:the\s+)?(?:final\s+)?(?:number|answer|result|names?)"
        r"(?:\s+only)?\s*[.!:;,]*\s*$",
        re.IGNORECASE,
    ),
    re.compile(
        r"^\s*(?:just|only)\s+(?:the\s+)?(?:final\s+)?(?:number|answer|result|names?)"
        r"(?:\s+please)?\s*[.!:;,]*\s*$",
        re.IGNORECASE,
    ),
    re.compile(r"^\s*(?:the\s+)?(?:number|answer)\s+only\s*[.!:;,]*\s*$", re.IGNORECASE),
    re.compile(r"^\s*(?:no\s+explanations?|don't\s+explain|be\s+brief)\s*[.!:;,]*\s*$",
               re.IGNORECASE),
)


def without_asides(prompt: str) -> str:
    """``prompt`` without leading or trailing clauses that only pick a mode ("Think step by
    step:", "Quick answer:", "… Double-check it."; the router read them) or say how the
    answer should look ("… Reply with the number only."; the model's answers already do).
    The embedded model never learned either, and a question with one around it is one it
    gets wrong. A clause with a digit in it is part of the question and stays."""
    clauses = [c for c in _CLAUSE.findall(prompt) if c]

    def aside(clause: str) -> bool:
        if any(ch.isdigit() for ch in clause):
            return False
        return any(p.search(clause) for p in MODE_PHRASES) or any(
            p.match(clause) for p in FORMAT_PHRASES
        )

    while clauses and aside(clauses[0]):
        clauses.pop(0)
    while clauses and aside(clauses[-1]):
        clauses.pop()
    text = "".join(clauses).strip()
    return text.rstrip(",;:").strip() if len(clauses) else prompt


def _out_of_domain(reason: str) -> list[Event]:
    paragraphs = [OUT_OF_DOMAIN_HEAD.format(reason=reason), *OUT_OF_DOMAIN.split("\n\n")]
    events: list[Event] = [
        Answer(p + ("\n\n" if i < len(paragraphs) - 1 else "")) for i, p in enumerate(paragraphs)
    ]
    events.append(Usage(input_tokens=0, thinking_tokens=0, answer_tokens=0, estimated=False))
    events.append(Finished("declined"))
    return events


# How many token chunks the worker may run ahead of the consumer: a slow reader (or one
# that stopped reading) holds generation back instead of letting it run on unread.


def _last_text_part(request: ChatRequest) -> str | None:
    """The last text part of the last user turn, when that turn has several parts."""
    for message in reversed(request.messages):
        if message.role == "user":
            texts = [p.text for p in message.parts if isinstance(p, TextPart) and p.text.strip()]
            return texts[-1] if len(texts) > 1 else None
    return None


def embedded_question(request: ChatRequest, prompt: str) -> tuple[str | None, list[Event]]:
    """(the question as the embedded model learned it, no events), or (None, the events of
    the decline). ``prompt`` is the request's last user text."""
    question = without_asides(prompt)
    learned = tasks.learned_prompt(question)
    if learned is None:
        # The question alone may be one the model knows, and if not, it is what the reason
        # to decline is about (a date in the context blocks is no sum).
        last = _last_text_part(request)
        if last is not None:
            question = without_asides(last)
            learned = tasks.learned_prompt(question)
    if learned is not None:
        return learned, []
    return None, _out_of_domain(tasks.untrained(question) or "")
