"""The code suite: hidden tests in a sandbox that kills runaway code and blocks the network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ponder.bench.suite import Task
from ponder.bench.suites.code.sandbox import run_tests
from ponder.bench.suites.code.suite import CodeSuite, extract_code
from ponder.bench.suites.code.tasks import RAISES_VALUE_ERROR, TASKS

ADD_TESTS = [((1, 2), 3), ((-1, 1), 0)]


def fenced(code: str) -> str:
    return f"Sure:\n```python\n{code}\n```"


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Task]:
    suite = CodeSuite(timeout_s=2.0)
    return {t.template: t for t in suite.generate(100, 0, tmp_path_factory.mktemp("code"))}


def _build(arg: Any) -> Any:
    if isinstance(arg, tuple) and len(arg) == 2 and arg[0] == "__expr__":
        return eval(arg[1], {})
    return arg


def _outcome(function: Any, args: list[Any]) -> Any:
    """What a call returns, or RAISES_VALUE_ERROR when it raises ValueError (as the hidden
    tests spell an expected error)."""
    try:
        return function(*args)
    except ValueError:
        return RAISES_VALUE_ERROR


def test_thirty_plus_tasks_and_every_reference_passes_its_hidden_tests() -> None:
    """In-process (the references are ours); the sandbox itself is exercised below."""
    assert len(TASKS) >= 30
    assert len({t.name for t in TASKS}) == len(TASKS)
    for task in TASKS:
        namespace: dict[str, Any] = {}
        exec(task.reference, namespace)
        function = namespace[task.function]
        for args, expected in task.tests:
            assert _outcome(function, [_build(a) for a in args]) == expected, (task.name, args)


def test_a_reference_passes_in_the_sandbox() -> None:
    task = next(t for t in TASKS if t.name == "count_islands")
    result = run_tests(task.reference, task.function, list(task.tests))
    assert result.ok, result.reason


def test_generate_covers_every_task_and_hides_the_tests(tasks: dict[str, Task]) -> None:
    assert set(tasks) == {t.name for t in TASKS}
    task = tasks["roman_to_int"]
    assert "def roman_to_int(s: str) -> int" in task.prompt
    assert "MCMXCIV" not in task.prompt  # a hidden test input


def test_accepts_a_correct_solution_and_rejects_a_wrong_one(tasks: dict[str, Task]) -> None:
    suite = CodeSuite(timeout_s=2.0)
    good = (
        "def clamp(x, lo, hi):\n    if lo > hi:\n        raise ValueError\n"
        "    return min(max(x, lo), hi)"
    )
    assert suite.verify(tasks["clamp"], fenced(good)).ok
    wrong = "def clamp(x, lo, hi):\n    return min(max(x, lo), hi)"  # never raises
    verdict = suite.verify(tasks["clamp"], fenced(wrong))
    assert not verdict.ok
    assert "expected it to raise ValueError" in verdict.reason


def test_infinite_loop_is_killed_and_scored_wrong(tasks: dict[str, Task]) -> None:
    suite = CodeSuite(timeout_s=1.0)
    verdict = suite.verify(
        tasks["clamp"], fenced("def clamp(x, lo, hi):\n    while True:\n        pass")
    )
    assert not verdict.ok
    assert "killed" in verdict.reason


def test_unbounded_allocation_is_stopped_and_scored_wrong() -> None:
    hog = "def add(a, b):\n    x = []\n    while True:\n        x.append(bytearray(10**7))"
    result = run_tests(hog, "add", ADD_TESTS, timeout_s=5.0, memory_mb=256)
    assert not result.ok
    assert "memory" in result.reason or result.killed


def test_code_that_does_not_define_the_function_or_does_not_parse() -> None:
    assert "no function named add" in run_tests("x = 1", "add", ADD_TESTS).reason
    assert "does not run" in run_tests("def add(a, b) return", "add", ADD_TESTS).reason


def test_prints_from_the_solution_do_not_confuse_the_harness() -> None:
    code = "print('hello')\ndef add(a, b):\n    print(a, b)\n    return a + b"
    assert run_tests(code, "add", ADD_TESTS).ok


def test_extracts_python_from_fences_or_a_bare_def() -> None:
    assert extract_code("```python\ndef f(): pass\n```") == "def f(): pass"
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1"
    assert extract_code("The function returns 1.") is None


def test_no_code_is_scored_wrong(tasks: dict[str, Task], tmp_path: Path) -> None:
    verdict = CodeSuite().verify(tasks["clamp"], "Just use min and max.")
    assert not verdict.ok
