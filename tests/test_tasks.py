"""Task families: deterministic generation, a clean held-out split, solvers, verifiers."""

from __future__ import annotations

import pytest

from ponder import tasks
from ponder.tasks import arith, ledger


def test_families_and_levels() -> None:
    assert tasks.families() == {"arith": [1, 2, 3, 4], "ledger": [1, 2, 3]}


@pytest.mark.parametrize(("family", "level"), [(f, lv) for f, lvs in tasks.families().items()
                                               for lv in lvs])
def test_generate_is_deterministic_and_solvable(family: str, level: int) -> None:
    first = tasks.generate(family, level, 40, seed=3)
    assert first == tasks.generate(family, level, 40, seed=3)
    assert first != tasks.generate(family, level, 40, seed=4)
    for problem in first:
        assert problem.family == family and problem.level == level
        assert tasks.recognise(problem.prompt) == family
        solution = tasks.solve(problem.prompt)
        assert solution is not None and solution.answer == problem.answer
        assert tasks.verify(problem, problem.answer).ok


def test_heldout_never_overlaps_train() -> None:
    for family, levels in tasks.families().items():
        for level in levels:
            train = tasks.generate(family, level, 200, seed=1, split="train")
            held = tasks.generate(family, level, 200, seed=1, split="heldout")
            # the same content in another phrasing is still the same problem
            train_keys = {_key(p) for p in train}
            assert not train_keys & {_key(p) for p in held}
            assert all(tasks.is_heldout(_key(p)) for p in held)


def _key(problem: tasks.Problem) -> str:
    if problem.family == "arith":
        parsed = arith.parse(problem.prompt)
        assert parsed is not None
        return parsed.key
    parsed_ledger = ledger.parse(problem.prompt)
    assert parsed_ledger is not None
    return parsed_ledger.key


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("What is 347 × 28?", "9716"),
        ("347*28", "9716"),
        ("compute 347 times 28", "9716"),
        ("What is 4821 * 37?", "178377"),
        ("How much is 6142 minus 683?", "5459"),
        ("Calculate 6155 − 1670.", "4485"),
        ("What's 12 plus 85?", "97"),
        ("707 multiplied by 6", "4242"),
    ],
)
def test_arith_phrasings(prompt: str, answer: str) -> None:
    assert tasks.recognise(prompt) == "arith"
    solution = tasks.solve(prompt)
    assert solution is not None and solution.answer == answer


def test_arith_scratchpad_is_least_significant_first() -> None:
    solution = tasks.solve("4821*37")
    assert solution is not None
    lines = solution.thoughts.splitlines()
    assert lines[0] == "d4c8b2a1*b3a7"
    # row 1: 4821 x 7, column by column from the units; row 2: 4821 x 3 one column left
    assert lines[1].split()[:3] == ["a:1*7+0=07", "b:2*7+0=14", "c:8*7+1=57"]
    assert lines[2].split()[0] == "B:1*3+0=03"  # the second row's labels are capitals
    # then the rows added column by column, and the digits read off
    assert lines[3].split()[:3] == ["a:7+0+0=07", "b:4+3+0=07", "c:7+6+0=13"]
    assert lines[4] == "=f1e7d8c3b7a7"
    # every step is a two-term sum or product: no step adds a product to a row
    for line in lines[1:4]:
        for step in line.split():
            assert step.count("+") <= 2 and not ("*" in step and step.count("+") == 2)


def test_ledger_rule() -> None:
    prompt = (
        "Orders: ann 30, bob 50, ann 7, cy 45, bob 20. Refunds: bob 50, bob 20. "
        "Who are the top 2 spenders, excluding customers who refunded more than half "
        "of their orders?"
    )
    solution = tasks.solve(prompt)
    assert solution is not None
    # bob spent most (70) but refunded 2 of 2 orders: excluded
    assert solution.answer == "cy, ann"
    lines = solution.thoughts.splitlines()
    # one line per customer, alphabetically, with the sum worked units first
    # and the refunded amounts listed before they are counted
    assert lines[0] == "ann 30+7: 0+7+0=07 3+0+0=03 =037 orders 2 refunds =0 ok"
    assert lines[1] == "bob 50+20: 0+0+0=00 5+2+0=07 =070 orders 2 refunds 50 20 =2 out"
    assert lines[2] == "cy 45 =045 orders 1 refunds =0 ok"
    # then the ranking, one customer at a time, each sign written after both numbers
    assert lines[3:] == [
        "ann 037: ann 037",
        "bob out: ann 037",
        "cy 045 vs 037 >: cy 045, ann 037",
    ]


def test_ledger_close_calls_count_comparisons_the_units_digit_decides() -> None:
    def ledger_of(*orders: tuple[str, int], refunds: tuple[str, ...] = ()) -> ledger.Ledger:
        rows = [("order", c, a) for c, a in orders]
        rows += [("refund", c, a) for c, a in orders if c in refunds]
        return ledger.Ledger(tuple(rows), k=2)

    # bob 052 vs ann 051; then cy 057 vs both
    assert ledger.close_calls(ledger_of(("ann", 51), ("bob", 52), ("cy", 57))) == 3
    # different tens: the tens digit decides
    assert ledger.close_calls(ledger_of(("ann", 51), ("bob", 62), ("cy", 97))) == 0
    # an excluded customer is never compared, and only the top k stay in the ranking
    assert ledger.close_calls(ledger_of(("ann", 51), ("bob", 52), refunds=("bob",))) == 0
    assert ledger.close_calls(ledger_of(("ann", 90), ("bob", 80), ("cy", 81))) == 1


@pytest.mark.parametrize(
    "prompt",
    [
        "Tell me a joke",
        "What is the capital of France?",
        "What is 123456 * 789?",  # beyond the sizes the embedded model was trained on
        "What is 12 - 345?",  # negative results are not trained
        "1+2 and 3+4",  # two questions at once
        "",
    ],
)
def test_out_of_domain(prompt: str) -> None:
    assert tasks.recognise(prompt) is None
    assert tasks.solve(prompt) is None


QUESTION = (
    " Who are the top 2 spenders, excluding customers who refunded more than half of their"
    " orders?"
)


def test_untrained_names_what_the_embedded_model_never_learned() -> None:
    # every generated problem, in every family and level, is one it learned
    for family, levels in tasks.families().items():
        for level in levels:
            for problem in tasks.generate(family, level, 5, seed=4):
                assert tasks.untrained(problem.prompt) is None, problem.prompt
    assert tasks.untrained("Write a haiku about autumn.") == "This question is outside them."
    # a ledger of another size is recognised (the verifier checks any model's answer to it)
    # but untrained: the reply names its size and the sizes the model knows
    other = "Orders: ann 30, bob 50, ann 7, cy 45, bob 20. Refunds: bob 50, bob 20." + QUESTION
    assert tasks.recognise(other) == "ledger"
    reason = tasks.untrained(other)
    assert reason is not None
    assert "3 customers, 5 orders and 2 refunds (top 2)" in reason
    assert "4 customers, 5 orders, 2 refunds, top 2" in reason
    big = "Orders: ann 130, bob 50, cy 7, dee 45, ann 20. Refunds: bob 50, cy 7." + QUESTION
    assert tasks.untrained(big) == (
        "This ledger has amounts over 99; I was trained on amounts of 5 to 99."
    )


def test_verify_is_lenient_about_form_not_value() -> None:
    problem = tasks.generate("arith", 4, 1, seed=0)[0]
    value = int(problem.answer)
    assert tasks.verify(problem, f"The answer is {value:,}.").ok
    assert tasks.verify(problem, f"{value}").ok
    wrong = tasks.verify(problem, f"{value + 1}")
    assert not wrong.ok and wrong.extracted == str(value + 1)
    assert tasks.verify(problem, "no idea").extracted is None

    lp = tasks.generate("ledger", 2, 1, seed=0)[0]
    names = lp.answer.split(", ")
    assert tasks.verify(lp, f"The top spenders are {names[0].title()} and {names[1]}.").ok
    assert not tasks.verify(lp, names[0]).ok


def test_unknown_family_and_level() -> None:
    with pytest.raises(ValueError):
        tasks.generate("poetry", 1, 1, seed=0)
    with pytest.raises(ValueError):
        tasks.generate("arith", 9, 1, seed=0)
