"""Verifiers, each on real inputs: a real SQLite file, the real code sandbox, the embedded
model's task checks, JSON Schema validation; and the registry and its failure handling."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ponder import tasks
from ponder.errors import ConfigError
from ponder.request import ChatRequest, ResponseFormat
from ponder.verify import (
    Judgement,
    VerifierOptionError,
    available_verifiers,
    get_verifier,
    judge,
    register_verifier,
    unregister_verifier,
)


def req(prompt: str = "q", **kwargs: Any) -> ChatRequest:
    return ChatRequest.from_prompt(prompt, **kwargs)


def verdict(
    name: str, answer: str, request: ChatRequest | None = None, **options: Any
) -> Judgement:
    verifier = get_verifier(name)
    request = request or req()
    verifier.check_options(request, options)
    return verifier.judge(request, answer, options)


def test_registry_lists_the_built_ins_and_names_them_when_unknown() -> None:
    assert {"embedded", "json_schema", "regex", "sql", "python_tests"} <= set(available_verifiers())
    with pytest.raises(ConfigError, match=r"No verifier named 'nope'\. Available verifiers: emb"):
        get_verifier("nope")


def test_embedded_checks_the_models_own_tasks() -> None:
    problem = tasks.generate("ledger", 2, 1, seed=1)[0]
    request = req(problem.prompt)
    verifier = get_verifier("embedded")
    assert verifier.applies(request, {})
    assert verdict("embedded", problem.answer, request).ok
    wrong = verdict("embedded", "nobody", request)
    assert not wrong.ok and "ledger task verifier" in wrong.reason
    assert verdict("embedded", "178377", req("What is 4821 * 37?")).ok
    assert not verifier.applies(req("Write me a poem about rain."), {})
    assert not verdict("embedded", "ok", req("Write me a poem about rain.")).ok


def test_json_schema_from_the_request_or_given() -> None:
    schema = {
        "type": "object",
        "properties": {"total": {"type": "integer"}},
        "required": ["total"],
    }
    request = req(response_format=ResponseFormat("json_schema", schema=schema))
    assert get_verifier("json_schema").applies(request, {})
    assert verdict("json_schema", '{"total": 3}', request).ok
    assert verdict("json_schema", 'Here:\n```json\n{"total": 4}\n```', request).ok
    bad = verdict("json_schema", '{"total": "three"}', request)
    assert not bad.ok and bad.reason.startswith("the JSON does not match the schema at total:")
    not_json = verdict("json_schema", "total is 3", request)
    assert not not_json.ok and not_json.reason.startswith("the answer is not JSON")
    assert not verdict("json_schema", "[1]", req(response_format=ResponseFormat("json_object"))).ok
    assert verdict("json_schema", "[1, 2]", schema={"type": "array"}).ok
    with pytest.raises(VerifierOptionError, match="needs a schema"):
        get_verifier("json_schema").check_options(req(), {})
    with pytest.raises(VerifierOptionError, match="not a valid JSON Schema"):
        get_verifier("json_schema").check_options(req(), {"schema": {"type": "nonsense"}})


def test_regex_search_full_and_flags() -> None:
    assert verdict("regex", "The answer is 42.", pattern=r"\b42\b").ok
    assert not verdict("regex", "The answer is 42.", pattern=r"\d+", full=True).ok
    assert verdict("regex", "  42 ", pattern=r"\d+", full=True).ok
    assert verdict("regex", "YES", pattern="yes", flags="i").ok
    with pytest.raises(VerifierOptionError, match="does not compile"):
        get_verifier("regex").check_options(req(), {"pattern": "("})
    with pytest.raises(VerifierOptionError, match="flags must be letters"):
        get_verifier("regex").check_options(req(), {"pattern": "x", "flags": "q"})


@pytest.fixture
def shop(tmp_path: Path) -> str:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER, customer TEXT, amount INTEGER)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, "ivy", 64), (2, "ned", 45)])
    return f"sqlite:///{path}"


def test_sql_runs_read_only_and_checks_columns(shop: str) -> None:
    good = verdict("sql", "```sql\nSELECT customer, amount FROM orders\n```", dsn=shop)
    assert good == Judgement(True, "the query ran: 2 rows")
    missing = verdict("sql", "SELECT total FROM orders", dsn=shop)
    assert not missing.ok and missing.reason.startswith("the query failed:")
    assert "total" in missing.reason
    write = verdict("sql", "```sql\nDELETE FROM orders\n```", dsn=shop)
    assert not write.ok
    cols = verdict("sql", "SELECT customer FROM orders", dsn=shop, columns=["customer", "amount"])
    assert not cols.ok and "expected customer, amount" in cols.reason
    assert verdict("sql", "SELECT amount, customer FROM orders", dsn=shop,
                   columns=["Customer", "amount"]).ok  # fmt: skip
    assert not verdict("sql", "I don't know", dsn=shop).ok
    with pytest.raises(VerifierOptionError, match="does not exist"):
        get_verifier("sql").check_options(req(), {"dsn": "sqlite:///no/such/file.sqlite"})


def test_python_tests_in_the_sandbox() -> None:
    tests = [[[2, 3], 5], [[-1, 1], 0]]
    good = verdict("python_tests", "```python\ndef add(a, b):\n    return a + b\n```",
                   function="add", tests=tests)  # fmt: skip
    assert good == Judgement(True, "the code passed 2 tests")
    bad = verdict("python_tests", "def add(a, b):\n    return a - b\n", function="add", tests=tests)
    assert not bad.ok and bad.reason.startswith("the code failed its tests:")
    with pytest.raises(VerifierOptionError, match="needs tests"):
        get_verifier("python_tests").check_options(req(), {"function": "add", "tests": []})


class _Crash:
    name: ClassVar[str] = "crash"
    request_options: ClassVar[frozenset[str]] = frozenset()

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return True

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        return None

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        raise ValueError("boom")


class _Hang(_Crash):
    name: ClassVar[str] = "hang"
    release = threading.Event()

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        self.release.wait(30)
        return Judgement(True, "late")


@pytest.fixture
def broken() -> Iterator[None]:
    _Hang.release = threading.Event()
    register_verifier("crash", _Crash)
    register_verifier("hang", _Hang)
    yield
    _Hang.release.set()
    unregister_verifier("crash")
    unregister_verifier("hang")


async def test_judge_turns_a_crash_or_a_hang_into_a_rejection(broken: None) -> None:
    crashed = await judge(get_verifier("crash"), req(), "x", {}, timeout_s=5)
    assert crashed == Judgement(False, "the crash verifier crashed: ValueError: boom")
    hung = await judge(get_verifier("hang"), req(), "x", {}, timeout_s=0.2)
    assert hung == Judgement(False, "the hang verifier did not answer within 0.2 s")
    ok = await judge(get_verifier("regex"), req(), "42", {"pattern": "42"})
    assert ok.ok
