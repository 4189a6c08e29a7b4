"""Every example ponder shows a new user is one the embedded model learned, and deep mode
answers each of them right — checked on the real model with the tasks' own verifiers.

Examples are found, not listed: the UI's example chips (``app.js``), every double-quoted
string in the README, the CLI's ``--help`` texts and the canned out-of-domain reply that
contains arithmetic or a ledger question. (A declined example in the README is described in
words or in backticks, never in double quotes.)
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from ponder import tasks
from ponder.cli import build_parser
from ponder.config import load_config
from ponder.engine import Engine
from ponder.events import Answer, Finished
from ponder.providers.local_question import OUT_OF_DOMAIN
from ponder.request import ChatRequest

ROOT = Path(__file__).resolve().parent.parent
QUOTED = re.compile(r'"([^"\n]{3,400})"')


# A question about numbers ("What is 4 - 5?"), even one no task family recognises.
ASKS_ARITHMETIC = re.compile(r"(?i)\b(what|compute|calculate|how much)\b.*\d\s*\S\s*\d")


def is_example(text: str) -> bool:
    return tasks.recognise(text) is not None or ASKS_ARITHMETIC.search(text) is not None


def ui_examples() -> list[str]:
    source = (ROOT / "src/ponder/server/static/app.js").read_text(encoding="utf-8")
    return [json.loads(f'"{m}"') for m in re.findall(r'prompt:\s*"((?:[^"\\]|\\.)*)"', source)]


def help_texts() -> list[str]:
    texts: list[str] = []
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        texts += [parser.description or "", parser.epilog or ""]
        for action in parser._actions:
            texts.append(str(action.help or ""))
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
    return texts


def examples() -> dict[str, set[str]]:
    """Each example prompt and where it is shown."""
    found = {prompt: {"app.js"} for prompt in ui_examples()}
    sources = {
        "README.md": (ROOT / "README.md").read_text(encoding="utf-8"),
        "--help": "\n".join(help_texts()),
        "out-of-domain reply": OUT_OF_DOMAIN,
    }
    for where, text in sources.items():
        for quoted in QUOTED.findall(text):
            if is_example(quoted):
                found.setdefault(quoted, set()).add(where)
    return found


def test_the_examples_are_found_where_a_new_user_sees_them() -> None:
    found = examples()
    assert len(ui_examples()) >= 4
    assert {"app.js", "README.md", "--help", "out-of-domain reply"} <= set().union(*found.values())
    assert "What is 4821 * 37?" in found and "347*28" in found


def test_every_example_is_of_a_learned_size_and_phrasing() -> None:
    unlearned = {p: (where, tasks.untrained(p)) for p, where in examples().items()}
    assert {p: why for p, why in unlearned.items() if why[1] is not None} == {}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_config(None))


@pytest.mark.parametrize("prompt", sorted(examples()))
async def test_deep_mode_answers_every_example_right(engine: Engine, prompt: str) -> None:
    events = await engine.collect(ChatRequest.from_prompt(prompt, model="deep"))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.finish_reason == "stop", finished
    answer = "".join(e.text for e in events if isinstance(e, Answer))
    solution = tasks.solve(prompt)
    family = tasks.recognise(prompt)
    assert solution is not None and family is not None
    problem = tasks.Problem("example", family, 0, "free", prompt, solution.answer)
    verdict = tasks.verify(problem, answer)
    assert verdict.ok, (prompt, answer, verdict.reason)


@pytest.mark.parametrize(
    ("prompt", "expected", "mode"),
    [
        ("Think step by step: what is 4821 * 37?", "178377", "deep"),
        ("Think step by step: what is 4821 * 37?", "178377", "auto"),  # routed deep
        ("Quick answer: 347*28", "9716", "deep"),
        ("What is 4821 × 37? Double-check it.", "178377", "deep"),
    ],
)
async def test_the_routers_own_phrases_reach_the_model_as_the_plain_question(
    engine: Engine, prompt: str, expected: str, mode: str
) -> None:
    events = await engine.collect(ChatRequest.from_prompt(prompt, model=mode))
    answer = "".join(e.text for e in events if isinstance(e, Answer))
    assert answer.strip() == expected, (mode, prompt, answer)


@pytest.mark.parametrize("prompt", ["What is 52 + 77?", "what's 2+2", "What is 2+2?"])
@pytest.mark.parametrize("mode", ["fast", "deep", "auto"])
async def test_sums_it_never_learned_are_declined_never_answered(
    engine: Engine, prompt: str, mode: str
) -> None:
    events = await engine.collect(ChatRequest.from_prompt(prompt, model=mode))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.finish_reason == "declined"
    answer = "".join(e.text for e in events if isinstance(e, Answer))
    assert "a size I was not trained on" in answer and "won't guess" in answer
