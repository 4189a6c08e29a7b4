"""The ``code`` suite: generator (the task list), prompt, and verifier (sandboxed tests)."""

from __future__ import annotations

import random
from pathlib import Path

from ponder.bench.extract import last_fenced
from ponder.bench.strength import code_judging
from ponder.bench.suite import Task, Verdict
from ponder.bench.suites.code.sandbox import run_tests
from ponder.bench.suites.code.tasks import TASKS, CodeTask

PROMPT = """\
Write a Python function with this signature:

    {signature}

{description}

Use only the standard library. Answer with the complete function (and any imports it needs)
in a ```python fenced block."""


def extract_code(answer: str) -> str | None:
    """The last ```python block; else an unlabelled block; else a bare ``def`` answer."""
    fenced = last_fenced(answer, ("python", "py", "python3"))
    if fenced:
        return fenced
    text = answer.strip()
    return text if text.startswith(("def ", "import ", "from ")) else None


class CodeSuite:
    name = "code"
    description = "small Python functions with hidden unit tests, run sandboxed"
    judging = code_judging()

    def __init__(self, timeout_s: float = 5.0, memory_mb: int = 512) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb

    def levels(self) -> list[int]:
        return sorted({t.level for t in TASKS})

    def prompt(self, task: CodeTask) -> str:
        return PROMPT.format(signature=task.signature, description=task.description)

    def generate(self, n_per_level: int, seed: int, workdir: Path) -> list[Task]:
        rng = random.Random(f"ponder-code-{seed}")
        out: list[Task] = []
        for level in self.levels():
            pool = [t for t in TASKS if t.level == level]
            rng.shuffle(pool)
            for task in sorted(pool[:n_per_level], key=lambda t: t.name):
                out.append(
                    Task(
                        id=f"code-{task.name}",
                        suite=self.name,
                        family="code",
                        level=level,
                        template=task.name,
                        prompt=self.prompt(task),
                        seed=seed,
                        data={"function": task.function, "tests": repr(list(task.tests))},
                    )
                )
        return out

    def verify(self, task: Task, answer: str) -> Verdict:
        code = extract_code(answer)
        if code is None:
            return Verdict(False, "no Python code found; put the function in a ```python block")
        result = run_tests(
            code,
            str(task.data["function"]),
            str(task.data["tests"]),
            timeout_s=self.timeout_s,
            memory_mb=self.memory_mb,
        )
        return Verdict(result.ok, result.reason, code)
