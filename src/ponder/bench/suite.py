"""The suite plug-in interface: a generator of tasks, their prompts, and a verifier.

A suite turns ``(n_per_level, seed)`` into :class:`Task` objects deterministically and
judges a model's answer text with :meth:`Suite.verify`. Everything the verifier needs that
the model must not see (gold answers, gold SQL, hidden tests) lives in ``Task.data``.
Verifiers are synchronous and may block (run SQL, spawn a subprocess); the runner calls them
in a worker thread.

A suite may also say how its verifier judges, and how strong that is, in ``judging`` (a
sentence; the HTML report shows it per suite, see :mod:`ponder.bench.strength`).

A third-party suite is any object with this shape, registered with
:func:`ponder.bench.registry.register_suite` or via the ``ponder.suites`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Task:
    """One verifiable question. ``id`` is unique within its suite for a given seed."""

    id: str
    suite: str
    family: str
    level: int
    template: str
    prompt: str
    seed: int
    # Private to the suite's verifier; never shown to the model.
    data: Mapping[str, Any] = field(default_factory=dict)
    # A short human-readable reference answer for the record (gold value, gold SQL), if any.
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verifier's judgement. ``reason`` is fed back to the model on a retry."""

    ok: bool
    reason: str
    extracted: str | None = None


@runtime_checkable
class Suite(Protocol):
    """A generator + prompt + verifier. ``name`` is what ``--suite`` selects."""

    name: str
    description: str

    def levels(self) -> list[int]:
        """The difficulty levels this suite generates, easiest first."""
        ...

    def generate(self, n_per_level: int, seed: int, workdir: Path) -> list[Task]:
        """Up to ``n_per_level`` tasks per level, the same for the same seed.

        ``workdir`` is the run's output folder, for files the tasks need (a database).
        """
        ...

    def verify(self, task: Task, answer: str) -> Verdict:
        """Judge the model's full answer text (thoughts excluded)."""
        ...


@runtime_checkable
class DatabaseSuite(Protocol):
    """Optional: a suite whose tasks run on a database the user can choose with ``--dsn``."""

    name: str

    def use_dsn(self, dsn: str) -> None:
        """Use the database ``dsn`` names; raise :class:`ponder.errors.ConfigError` if unusable."""
        ...


def retry_prompt(verdict: Verdict) -> str:
    """The follow-up user message after a rejected answer: the verifier's reason, verbatim."""
    return (
        f"That answer was checked and rejected: {verdict.reason}\n"
        "Please fix it and answer again in the same format."
    )


def feedback_for(suite: object, task: Task, verdict: Verdict) -> str:
    """The suite's own retry message when it defines ``retry_prompt(task, verdict)``.

    Optional hook: a suite whose model needs the question restated (a small model that only
    reads the last message) can say so; the default is :func:`retry_prompt`.
    """
    hook = getattr(suite, "retry_prompt", None)
    if callable(hook):
        return str(hook(task, verdict))
    return retry_prompt(verdict)
