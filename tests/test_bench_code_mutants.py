"""The code suite's hidden tests catch wrong code: every AST mutant of every reference
solution fails them, unless it is marked equivalent (with why); run in one sandbox batch
per task."""

from __future__ import annotations

import pytest

from ponder.bench.strength import CODE_MUTATION
from ponder.bench.suites.code.mutants import EQUIVALENT, mutants
from ponder.bench.suites.code.mutation import CodeOutcome, check, score
from ponder.bench.suites.code.sandbox import run_batch
from ponder.bench.suites.code.tasks import TASKS


@pytest.fixture(scope="module")
def outcomes() -> list[CodeOutcome]:
    return check()


def test_every_non_equivalent_mutant_of_every_reference_fails_the_hidden_tests(
    outcomes: list[CodeOutcome],
) -> None:
    assert [f"{o.task}: {o.mutant.id}" for o in outcomes if o.survived] == []
    assert [f"{o.task}: {o.mutant.id}" for o in outcomes if o.killed and o.equivalent] == []
    killed, relevant = score(outcomes)
    assert killed == relevant
    # the figure the report, docs/bench.md and the README state
    assert (len(outcomes), len(outcomes) - killed) == (
        CODE_MUTATION.mutants,
        CODE_MUTATION.equivalent,
    )
    tasks_with_mutants = {o.task for o in outcomes}
    assert len(tasks_with_mutants) >= len(TASKS) - 1  # digit_sum's one-liner has none


def test_every_equivalence_mark_is_used_and_says_why(outcomes: list[CodeOutcome]) -> None:
    used = {id(o.equivalent) for o in outcomes if o.equivalent is not None}
    assert used == {id(e) for e in EQUIVALENT}
    assert all(len(e.reason) > 25 for e in EQUIVALENT)


def test_mutants_cover_every_class() -> None:
    source = (
        "def f(xs, k):\n    out = []\n    for i in range(len(xs)):\n"
        "        if xs[i] > k and not i % 2 == 0:\n            out.append(xs[i - 1:])\n"
        "        else:\n            k += 1\n    return out if out else 'none'\n"
    )
    found = mutants(source)
    kinds = {m.kind for m in found}
    assert kinds == {"operator", "comparison", "boolean", "constant", "slice", "branch"}
    ids = [m.id for m in found]
    assert "slice line 5: out.append(xs[i - 1:]) → out.append(xs[i - 1 + 1:])" in ids
    assert (
        "comparison line 4: if xs[i] > k and not i % 2 == 0: → if xs[i] >= k and (not i % 2 == 0):"
        in ids
    )
    assert "branch line 4: if xs[i] > k and not i % 2 == 0: → (if body dropped)" in ids
    assert "branch line 4: if xs[i] > k and not i % 2 == 0: → (else dropped)" in ids
    assert "branch line 8: return out if out else 'none' → return 'none'" in ids
    assert len(set(ids)) == len(ids)
    assert all(compile(m.source, "m", "exec") for m in found)


def test_raise_messages_are_not_mutated() -> None:
    found = mutants("def f(x):\n    if x < 0:\n        raise ValueError('negative: ' + str(x))\n")
    assert not any("negative" in m.change and "raise" in m.change for m in found)


def test_a_batch_stops_a_looping_source_and_judges_the_rest() -> None:
    tests = [((1, 2), 3), ((-1, 1), 0)]
    results = run_batch(
        [
            "def add(a, b):\n    return a + b\n",
            "def add(a, b):\n    while True:\n        pass\n",
            "def add(a, b):\n    return a - b\n",
            "x = 1\n",
        ],
        "add",
        tests,
    )
    assert [r.ok for r in results] == [True, False, False, False]
    assert "timed out" in results[1].reason
    assert results[2].reason == "test 1: add(1, 2) returned -1; expected 3"
    assert "no function named add" in results[3].reason
