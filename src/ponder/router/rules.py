"""First auto-mode router: rules following the usual guidance on when thinking pays.

* fast — small talk, autocomplete-like requests, simple facts, light edits (translate,
  summarise, rephrase): well-defined tasks where a thinking model only adds latency;
* deep — multi-step math (the embedded model's multi-digit arithmetic included), ledger
  questions (top spenders, refunds), SQL, data analysis, refactoring and debugging, planning
  and trade-offs, and long-form writing under explicit constraints;
* an explicit "think hard" / "step by step" forces deep; an explicit "quick answer" forces fast;
* the client's ``thinking.enabled`` wins over the text;
* a latency budget (``request.max_ttfa_ms``) forces fast when deep's estimated
  time-to-first-answer (recent traces, else the configured estimate) would miss it.

:meth:`RuleRouter.categorise` exposes the rule category as a feature for a learned router.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ponder.events import Mode
from ponder.request import ChatRequest
from ponder.router.base import Decision
from ponder.router.latency import LatencyTracker

DEFAULT_DEEP_TTFA_MS = 4000.0
DEFAULT_FAST_TTFA_MS = 300.0


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    mode: Mode
    reason: str
    pattern: re.Pattern[str] | None = None
    max_chars: int | None = None  # the rule only applies to texts at most this long


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# Texts are checked against these in order; the first match names the category.
RULES: tuple[Rule, ...] = (
    Rule(
        "explicit_deep",
        "deep",
        "the request asks to think it through",
        _rx(
            r"\bthink (hard|harder|carefully|deeply|it through)\b|\bstep[- ]by[- ]step\b"
            r"|\breason (it |this )?(through|carefully)\b|\btake your time\b"
            r"|\bshow your (work|reasoning)\b|\bdouble[- ]check\b"
        ),
    ),
    Rule(
        "explicit_fast",
        "fast",
        "the request asks for a quick answer",
        _rx(
            r"\b(quick|quickly|briefly|fast) (answer|reply|question)\b|\bno need to think\b"
            r"|\bdon'?t (over)?think\b|\bjust (give|tell) me\b|\bin one word\b|\btl;?dr\b"
        ),
    ),
    Rule(
        "sql",
        "deep",
        "SQL needs joins, grouping and edge cases worked out before answering",
        _rx(
            r"\bsql\b|\bselect\b[\s\S]+\bfrom\b|\b(postgres(ql)?|sqlite|mysql)\b|\bgroup by\b"
            r"|\b(left|inner|outer) join\b|\bwrite (a|the) query\b"
        ),
    ),
    Rule(
        "ledger",
        "deep",
        "ledger questions (spend totals, refunds, rankings) reward working through rows",
        _rx(
            r"\brefund(s|ed)?\b|\btop (\d+ )?(spenders?|customers?)\b|\bledger\b"
            r"|\b(total|net) spend\b|\bspent the most\b"
        ),
    ),
    Rule(
        "data_analysis",
        "deep",
        "data analysis reasons across many values before it can answer",
        _rx(
            r"\banaly[sz](e|is|ing)\b|\bdata ?set\b|\bcsv\b|\bpandas\b|\bdata ?frame\b"
            r"|\bregression\b|\bcorrelat|\bstatistic(s|al)\b|\bcohort\b|\bpivot\b"
        ),
    ),
    Rule(
        "refactor",
        "deep",
        "refactoring and debugging code pay off from planning first",
        _rx(
            r"\brefactor|\brewrite (this|the|my) (code|function|class|module)\b|\bdebug"
            r"|\bfix (this|the|my) (bug|code|test)\b|\b(code )?review (this|my) code\b"
            r"|\bstack ?trace\b|\btraceback\b|\boptimi[sz]e (this|the|my) (code|function|query)\b"
        ),
    ),
    Rule(
        "planning",
        "deep",
        "planning and trade-offs weigh several options before answering",
        _rx(
            r"\btrade-?offs?\b|\bpros and cons\b|\bdesign (a|an|the) (system|architecture|schema)\b"
            r"|\bmigration plan\b|\bprove\b|\bproof\b|\bpuzzle\b|\briddle\b"
        ),
    ),
    Rule(
        "long_form",
        "deep",
        "long-form writing under explicit constraints needs planning",
        _rx(
            r"\b(write|draft|compose)\b[^.?!\n]{0,80}\b(essay|report|article|story|proposal|letter"
            r"|post|speech|chapter|poem)\b[\s\S]*\b(at least|exactly|no more than|must|without"
            r"|include|\d+ (words|paragraphs|sections|lines))\b"
        ),
    ),
    Rule(
        "small_talk",
        "fast",
        "small talk needs no thinking",
        _rx(
            r"^\W*(hi|hello|hey|yo|thanks|thank you|good (morning|afternoon|evening|night)"
            r"|how are you|how's it going|what'?s up|bye|goodbye|ok(ay)?|cool|nice|great)\b"
        ),
        max_chars=80,
    ),
    Rule(
        "autocomplete",
        "fast",
        "autocomplete wants the next words now",
        _rx(
            r"\b(complete|continue|finish) (this|the|my) (sentence|line|phrase|code|word)\b"
            r"|\bautocomplete\b|\bnext word\b|(\.\.\.|…)\s*$"
        ),
    ),
    Rule(
        "light_edit",
        "fast",
        "a well-defined edit (translate, summarise, rephrase) needs no thinking",
        _rx(
            r"^\W*(translate|summari[sz]e|rephrase|paraphrase|reword|fix the (grammar|spelling))\b"
        ),
    ),
    Rule(
        "simple_fact",
        "fast",
        "a simple factual question",
        _rx(r"^\W*(what|who|when|where|which|how (many|much|old|far|tall))\b"),
        max_chars=160,
    ),
)
LONG_PROMPT_CHARS = 1500
# The phrases by which a request picks its own mode ("Think step by step:", "Quick answer:"):
# instructions to ponder, not part of the question (the local provider drops them).
MODE_PHRASES: tuple[re.Pattern[str], ...] = tuple(
    rule.pattern for rule in RULES[:2] if rule.pattern is not None
)
_BY_CATEGORY: Mapping[str, Rule] = {rule.category: rule for rule in RULES}
CATEGORIES: tuple[str, ...] = (
    *(rule.category for rule in RULES[:2]),
    "arithmetic",
    *(rule.category for rule in RULES[2:]),
    "long_prompt",
    "default",
)
CATEGORY_MODE: Mapping[str, Mode] = {
    **{rule.category: rule.mode for rule in RULES},
    "arithmetic": "deep",
    "long_prompt": "deep",
    "default": "fast",
}
REASONS: Mapping[str, str] = {
    **{rule.category: rule.reason for rule in RULES},
    "arithmetic": "multi-digit arithmetic is multi-step: carries are worked out in the thoughts",
    "long_prompt": "a long request usually needs its parts related before answering",
    "default": "nothing suggests multi-step work; answering directly is faster",
}

_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_OPERATOR = r"(\+|-|−|–|\*|×|x|X|/|÷|plus|minus|times|multiplied\s+by|divided\s+by)"
# Not inside dates, times, versions or ranges (2024-01-31, 10:30, 1.2.3, 3/4/2025).
_EXPR = re.compile(rf"(?<![\w.:/-])({_NUMBER})\s*{_OPERATOR}\s*({_NUMBER})(?![\w.:/-])")
_CHAIN = re.compile(rf"{_NUMBER}\s*{_OPERATOR}\s*{_NUMBER}\s*{_OPERATOR}\s*{_NUMBER}")
_MATH_WORDS = _rx(r"\b(integral|derivative|equation|solve for|probability|factori[sz]e)\b")


def _digits(number: str) -> int:
    return sum(ch.isdigit() for ch in number.split(".")[0])


def is_multistep_math(text: str) -> bool:
    """Multi-digit products or quotients, sums of 3+ digit numbers, chains, or named maths."""
    matches = _EXPR.findall(text)
    if len(matches) > 1 or _MATH_WORDS.search(text) or (matches and _CHAIN.search(text)):
        return True
    for a, op, b in matches:
        da, db = _digits(a), _digits(b)
        if op in ("+", "-", "−", "–", "plus", "minus"):
            if max(da, db) >= 3:
                return True
        elif da + db >= 3:
            return True
    return False


class RuleRouter:
    """Routes by :data:`RULES`; every decision carries a one-line reason."""

    categories = CATEGORIES

    def __init__(
        self,
        latency: LatencyTracker | None = None,
        deep_ttfa_ms: float = DEFAULT_DEEP_TTFA_MS,
        fast_ttfa_ms: float = DEFAULT_FAST_TTFA_MS,
    ) -> None:
        self.latency = latency or LatencyTracker({"deep": deep_ttfa_ms, "fast": fast_ttfa_ms})

    @staticmethod
    def categorise(text: str) -> str:
        """The rule category of ``text`` (one of :data:`CATEGORIES`)."""
        stripped = text.strip()
        for index, rule in enumerate(RULES):
            if index == 2 and is_multistep_math(stripped):
                return "arithmetic"
            if rule.max_chars is not None and len(stripped) > rule.max_chars:
                continue
            if rule.pattern is not None and rule.pattern.search(stripped):
                return rule.category
        if len(stripped) > LONG_PROMPT_CHARS:
            return "long_prompt"
        return "default"

    def decide(self, request: ChatRequest) -> Decision:
        enabled = request.thinking.enabled
        if enabled is not None:
            mode: Mode = "deep" if enabled else "fast"
            reason = f"the client set thinking.enabled={str(enabled).lower()}"
        else:
            category = self.categorise(request.last_user_text)
            mode, reason = CATEGORY_MODE[category], REASONS[category]
        budget = request.max_ttfa_ms
        if mode == "fast" or budget is None:
            return Decision(mode, reason)
        estimate, source = self.latency.estimate("deep")
        if estimate is None:
            return Decision(mode, reason, {"max_ttfa_ms": budget})
        estimates = {"deep_ttfa_ms": round(estimate, 1), "max_ttfa_ms": budget}
        if estimate <= budget:
            return Decision("deep", reason, estimates)
        return Decision(
            "fast",
            f"latency budget {budget:.0f} ms is below deep's estimated time to first answer"
            f" {estimate:.0f} ms ({source}), although {reason}",
            estimates,
        )
