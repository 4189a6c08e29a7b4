"""``arith`` and ``ledger``: the embedded model's task families, served by :mod:`ponder.tasks`.

Prompts are sent exactly as :mod:`ponder.tasks` writes them (the embedded model was trained on
those phrasings); its verifier judges the answer.

On a retry the follow-up message says what was wrong without the expected answer (the
verifier's own reason, e.g. "expected 5459, got 123", would hand it over; the record keeps
it) after restating the question, because a small model may read only the last user message.
"""

from __future__ import annotations

from pathlib import Path

from ponder.bench.suite import Task, Verdict


class EmbeddedFamilySuite:
    """One :mod:`ponder.tasks` family as a bench suite (held-out problems only)."""

    def __init__(self, family: str, description: str) -> None:
        self.name = family
        self.family = family
        self.description = description
        self.judging = (
            "the answer is parsed and compared with the generator's own exact answer (an"
            " integer, or the list of user ids in order)"
        )

    def levels(self) -> list[int]:
        from ponder import tasks

        return list(tasks.families()[self.family])

    def generate(self, n_per_level: int, seed: int, workdir: Path) -> list[Task]:
        from ponder import tasks

        out: list[Task] = []
        seen: set[str] = set()
        for level in self.levels():
            for problem in tasks.generate(self.family, level, n_per_level, seed):
                if problem.id in seen:
                    continue
                seen.add(problem.id)
                out.append(
                    Task(
                        id=problem.id,
                        suite=self.name,
                        family=problem.family,
                        level=problem.level,
                        template=problem.template,
                        prompt=problem.prompt,
                        seed=seed,
                        data={"answer": problem.answer},
                        reference=problem.answer,
                    )
                )
        return out

    def verify(self, task: Task, answer: str) -> Verdict:
        from ponder import tasks

        problem = tasks.Problem(
            id=task.id,
            family=task.family,
            level=task.level,
            template=task.template,
            prompt=task.prompt,
            answer=str(task.data["answer"]),
        )
        verdict = tasks.verify(problem, answer)
        return Verdict(verdict.ok, verdict.reason, verdict.extracted)

    def retry_prompt(self, task: Task, verdict: Verdict) -> str:
        """The question again, then why the last answer was rejected (never the answer).

        The question comes first: the embedded model reads only the last user message and
        recognises a ledger only when the message starts with it.
        """
        gold = str(task.data["answer"])
        if verdict.extracted:
            why = f"{verdict.extracted} is not the right answer."
        elif gold and gold in verdict.reason:
            why = "it is not the right answer."
        else:
            why = verdict.reason.rstrip(".") + "."
        return f"{task.prompt}\n(Your previous answer was rejected: {why} Try again.)"


def arith_suite() -> EmbeddedFamilySuite:
    return EmbeddedFamilySuite("arith", "multi-digit arithmetic (+, -, x) at four sizes")


def ledger_suite() -> EmbeddedFamilySuite:
    return EmbeddedFamilySuite("ledger", "top spenders over a ledger, excluding heavy refunders")
