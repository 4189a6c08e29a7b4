"""The embedded model's domain check is exact: it answers only what the task generators write.

``tasks.learned_prompt`` lets a prompt through only when it is a question of a size and in a
phrasing the generators produce (up to case and spacing); everything else gets the honest
canned reply. These properties are checked against the generators themselves, not against a
second copy of their ranges.
"""

from __future__ import annotations

import random
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from ponder import tasks
from ponder.tasks import arith, ledger

LEAD_INS = ("", "What is ", "what is ", "What's ", "How much is ", "compute ", "Calculate ")
ENDINGS = ("", "?", ".", " = ?")
SPELLINGS = {"+": ("+", " plus "), "-": ("-", "−", " minus "), "*": ("*", "×", " x ", " times ")}


def signature(a: int, op: str, b: int) -> tuple[object, ...]:
    """What sets a sum's size: one-digit operands by value, longer ones by length."""
    return (op, a if a < 10 else f"{len(str(a))}d", b if b < 10 else f"{len(str(b))}d", a >= b)


@cache
def generated_signatures() -> frozenset[tuple[object, ...]]:
    signatures = set()
    for level in arith.LEVELS:
        for problem in tasks.generate("arith", level, 3000, seed=1, split="any"):
            s = arith.parse(problem.prompt)
            assert s is not None
            signatures.add(signature(s.a, s.op, s.b))
    return frozenset(signatures)


def test_every_generated_problem_is_learned_and_comes_back_unchanged() -> None:
    for family, levels in tasks.families().items():
        for level in levels:
            for problem in tasks.generate(family, level, 300, seed=2, split="any"):
                assert tasks.learned_prompt(problem.prompt) == problem.prompt
                assert tasks.untrained(problem.prompt) is None


@settings(max_examples=400, deadline=None)
@given(
    a=st.integers(0, 99_999),
    b=st.integers(0, 99_999),
    op=st.sampled_from("+-*"),
    style=st.integers(0, 10_000),
)
def test_arithmetic_is_learned_exactly_when_the_generators_write_its_size(
    a: int, b: int, op: str, style: int
) -> None:
    rng = random.Random(style)
    spelled = rng.choice(SPELLINGS[op])
    prompt = f"{rng.choice(LEAD_INS)}{a}{spelled}{b}{rng.choice(ENDINGS)}"
    learned = tasks.learned_prompt(prompt)
    expected = signature(a, op, b) in generated_signatures()
    assert (learned is not None) == expected, prompt
    assert (tasks.untrained(prompt) is None) == expected
    if learned is not None:
        # what reaches the model is a prompt the generators write, with the same answer
        solution = tasks.solve(learned)
        assert solution is not None and int(solution.answer) == arith.Sum(a, op, b).value()
        assert learned in arith._phrasings(arith.Sum(a, op, b))


@settings(max_examples=200, deadline=None)
@given(level=st.sampled_from(arith.LEVELS), seed=st.integers(0, 10_000), extra=st.sampled_from(
    ("Please tell me: ", "Hi! ", "Quickly, ", "Thanks. ")
))
def test_words_around_a_learned_sum_make_it_unlearned(level: int, seed: int, extra: str) -> None:
    problem = tasks.generate("arith", level, 1, seed=seed, split="any")[0]
    assert tasks.learned_prompt(extra + problem.prompt) is None
    assert tasks.learned_prompt(problem.prompt + " " + extra.strip()) is None
    reason = tasks.untrained(extra + problem.prompt)
    assert reason is not None and "asked plainly" in reason


def test_the_sums_a_new_user_tries_are_declined_with_the_reason() -> None:
    for prompt, size in (
        ("What is 52 + 77?", "2-digit + 2-digit"),
        ("what's 2+2", "1-digit + 1-digit"),
        ("What is 2+2?", "1-digit + 1-digit"),
        ("What is 9 * 7?", "1-digit × 1-digit"),
        ("What is 12 - 345?", "2-digit - 3-digit with a negative result"),
    ):
        assert tasks.learned_prompt(prompt) is None
        reason = tasks.untrained(prompt)
        assert reason is not None and size in reason and "2-digit + 1-digit" in reason, reason


def test_case_and_spacing_are_normalised_to_a_learned_phrasing() -> None:
    assert tasks.learned_prompt("what is 4821*37") == "What is 4821 * 37?"
    assert tasks.learned_prompt("  347*28 ") == "347*28"
    assert tasks.learned_prompt("WHAT IS 58 PLUS 7?") == "What is 58 + 7?"


def test_a_remark_in_parentheses_after_the_question_is_dropped() -> None:
    problem = tasks.generate("ledger", 2, 1, seed=3)[0]
    retry = problem.prompt + "\n(Your previous answer was rejected: nobody is right. Try again.)"
    assert tasks.learned_prompt(retry) == problem.prompt


def test_ledger_questions_are_learned_only_in_the_generators_words_and_shapes() -> None:
    problem = tasks.generate("ledger", 2, 1, seed=5, split="any")[0]
    parsed = ledger.parse(problem.prompt)
    assert parsed is not None
    # another rule, or more words, are questions it never learned
    other_rule = problem.prompt.replace("more than half", "less than half")
    assert other_rule != problem.prompt
    assert tasks.learned_prompt(other_rule) is None and tasks.untrained(other_rule)
    assert tasks.learned_prompt(problem.prompt + " Explain why.") is None
    # case and spacing do not matter
    assert tasks.learned_prompt(problem.prompt.replace(" ", "  ")) == problem.prompt
    question = (
        " Who is the top spender, excluding customers who refunded more than half of their orders?"
    )
    for body, why in (
        ("Orders: ann 30, bob 50, cy 45. Refunds: bob 50, cy 45.", None),
        ("Orders: ann 45, bob 45, cy 20. Refunds: cy 20, bob 45.", "same"),
        ("Orders: ann 3, bob 50, cy 45. Refunds: bob 50, cy 45.", "under 5"),
        ("Orders: ann 30, bob 50, zed 45. Refunds: bob 50, zed 45.", "zed"),
        ("Orders: ann 30, bob 50, cy 45. Refunds: bob 51, cy 45.", "matches no order"),
    ):
        reason = tasks.untrained(body + question)
        assert (reason is None) if why is None else (why in (reason or "")), (body, reason)
