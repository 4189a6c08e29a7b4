"""The hedge on replayed upstreams with known timings: two real local HTTP streams (fast and
deep, OpenAI wire format), a real verifier, and the engine in between. Which answer the
client gets, that the loser's connection is closed, and what the stream says about it."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from ponder.config import Config, parse_config
from ponder.engine import Engine
from ponder.errors import ConfigError
from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Notice,
    Progress,
    Started,
    Thinking,
    Usage,
)
from ponder.registry import create_provider
from ponder.request import ChatRequest, VerifySpec
from ponder.router.base import Decision
from ponder.server import ServerSettings, create_app
from ponder.server.errors import ParamError
from ponder.server.parse import parse_chat
from ponder.store import TraceQuery, TraceWriter, read
from ponder.verify import Judgement, register_verifier, unregister_verifier
from tests.gateway_harness import ThreadServer
from tests.replay import ReplayServer, Reply

KEY_ENV = "PONDER_HEDGE_KEY"
FAST_PATH = "/fast/v1/chat/completions"
DEEP_PATH = "/deep/v1/chat/completions"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-hedge-test")


def chunk(model: str, delta: Mapping[str, Any], finish: str | None = None) -> bytes:
    obj = {
        "id": f"chatcmpl-{model}",
        "object": "chat.completion.chunk",
        "created": 1764370000,
        "model": model,
        "choices": [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def stream(
    model: str,
    thoughts: Sequence[str],
    answer: Sequence[str],
    thought_ms: float,
    answer_at_ms: float,
) -> Reply:
    """An OpenAI-compatible SSE body: ``thoughts`` every ``thought_ms``, then the answer pieces
    from ``answer_at_ms``, then the finish, usage and [DONE]."""
    at = 0.0
    chunks: list[tuple[float, bytes]] = [(0.0, chunk(model, {"role": "assistant", "content": ""}))]
    for piece in thoughts:
        at += thought_ms
        chunks.append((at, chunk(model, {"reasoning_content": piece})))
    at = max(at, answer_at_ms)
    for piece in answer:
        chunks.append((at, chunk(model, {"content": piece})))
        at += 5
    chunks.append((at, chunk(model, {}, "stop")))
    usage = {"prompt_tokens": 9, "completion_tokens": len(thoughts) + len(answer)}
    usage["completion_tokens_details"] = {"reasoning_tokens": len(thoughts)}  # type: ignore[assignment]
    tail = {"id": f"chatcmpl-{model}", "object": "chat.completion.chunk", "model": model,
            "choices": [], "usage": usage}  # fmt: skip
    chunks.append((at, b"data: " + json.dumps(tail).encode() + b"\n\n"))
    chunks.append((at, b"data: [DONE]\n\n"))
    return Reply(200, chunks)


DEEP_THOUGHTS = [f"step {i}. " for i in range(30)]


def route(replay: ReplayServer, fast: Reply, deep: Reply) -> None:
    replay.route("POST", FAST_PATH, fast)
    replay.route("POST", DEEP_PATH, deep)


def hedge_config(replay: ReplayServer, **hedge: Any) -> Config:
    def upstream(path: str, model: str) -> dict[str, Any]:
        return {"provider": "openai", "base_url": replay.url + path, "model": model,
                "api_key_env": KEY_ENV}  # fmt: skip

    table = {"provider": "hedge", "fast": "fast", "deep": "deep", "verifier": "regex",
             "verifier_options": {"pattern": "42"}, "verify_timeout_s": 0.5, **hedge}  # fmt: skip
    return parse_config(
        {
            "models": {
                "fast": upstream("/fast/v1", "fast-up"),
                "deep": upstream("/deep/v1", "deep-up"),
                "hedge": table,
            }
        }
    )


async def run(config: Config, request: ChatRequest | None = None) -> list[Event]:
    engine = Engine(config)
    try:
        return await engine.collect(request or ChatRequest.from_prompt("17 + 25?", model="hedge"))
    finally:
        await engine.aclose()


def answer(events: Sequence[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Answer))


def of(events: Sequence[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def finished(events: Sequence[Event]) -> Finished:
    last = events[-1]
    assert isinstance(last, Finished), last
    return last


def wait_for_disconnects(replay: ReplayServer, n: int, timeout_s: float = 10.0) -> int:
    """The replay server notices a closed connection at its next write: wait for it."""
    deadline = time.monotonic() + timeout_s
    while replay.disconnects < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return replay.disconnects


def assert_one_of_each(events: Sequence[Event]) -> None:
    assert len(of(events, Started)) == 1
    assert len(of(events, Usage)) == 1
    assert sum(isinstance(e, Finished | Failed) for e in events) == 1
    assert isinstance(events[0], Started)
    indices = [p.index for p in of(events, Progress)]
    assert indices == list(range(len(indices)))  # wrapper and narrator steps: one sequence


async def test_accepted_fast_answer_is_served_and_deep_is_closed(replay: ReplayServer) -> None:
    route(
        replay,
        fast=stream("fast-up", [], ["4", "2"], 10, 50),
        deep=stream("deep-up", DEEP_THOUGHTS, ["forty-two: ", "42"], 100, 3000),
    )
    events = await run(hedge_config(replay))
    assert_one_of_each(events)
    assert answer(events) == "42"
    end = finished(events)
    assert end.served_by == "fast" and end.finish_reason == "stop"
    assert end.cancelled_tokens is not None and set(end.cancelled_tokens) == {"deep"}
    assert end.lanes is not None
    assert (end.lanes["fast"]["outcome"], end.lanes["deep"]["outcome"]) == ("passed", "cancelled")
    assert end.lanes["fast"]["end_ms"] <= end.lanes["deep"]["end_ms"]
    notice = " ".join(n.text for n in of(events, Notice))
    assert "fast answered in" in notice and "passed: the answer contains a match of /42/" in notice
    assert "deep cancelled after" in notice
    assert any("passed the regex check" in p.label for p in of(events, Progress))
    assert {r.path for r in replay.requests} == {FAST_PATH, DEEP_PATH}
    assert wait_for_disconnects(replay, 1) == 1  # deep's stream was closed mid-way
    # The answer was stamped as it was sent: after the decision, not when fast produced it.
    first_answer = next(e for e in events if isinstance(e, Answer))
    assert first_answer.at_ns >= of(events, Notice)[0].at_ns


async def test_rejected_fast_answer_lets_deep_answer(replay: ReplayServer) -> None:
    route(
        replay,
        fast=stream("fast-up", [], ["41"], 10, 50),
        deep=stream("deep-up", DEEP_THOUGHTS[:8], ["forty-two: ", "42"], 40, 600),
    )
    events = await run(hedge_config(replay))
    assert_one_of_each(events)
    assert answer(events) == "forty-two: 42"  # deep's; fast's 41 never reaches the client
    end = finished(events)
    assert end.served_by == "deep"
    assert end.cancelled_tokens == {"fast": 1}
    assert end.lanes is not None and end.lanes["fast"]["outcome"] == "rejected"
    assert end.lanes["fast"]["reason"] == "the answer has no match of /42/"
    assert end.lanes["deep"]["outcome"] == "served"
    labels = [p.label for p in of(events, Progress)]
    assert "fast's answer rejected: the answer has no match of /42/" in labels
    assert "".join(t.text for t in of(events, Thinking)) == "".join(DEEP_THOUGHTS[:8])
    usage = of(events, Usage)[0]
    assert usage.unserved_tokens == 1  # fast's answer, generated and never shown
    assert replay.disconnects == 0  # both streams ran to their end


async def test_deep_answering_first_wins_and_fast_is_cancelled(replay: ReplayServer) -> None:
    route(
        replay,
        fast=stream("fast-up", [], ["4", "2"], 10, 2500),
        deep=stream("deep-up", DEEP_THOUGHTS[:3], ["42"], 20, 80),
    )
    events = await run(hedge_config(replay))
    assert_one_of_each(events)
    assert answer(events) == "42"
    assert finished(events).served_by == "deep"
    assert "deep answered first; fast cancelled" in [p.label for p in of(events, Progress)]
    assert wait_for_disconnects(replay, 1) == 1  # fast's stream was closed before its answer


class _Crashes:
    name: ClassVar[str] = "crashes"
    request_options: ClassVar[frozenset[str]] = frozenset()

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return True

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        return None

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        raise RuntimeError("verifier bug")


class _Hangs(_Crashes):
    name: ClassVar[str] = "hangs"
    release = threading.Event()

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        self.release.wait(30)
        return Judgement(True, "too late to count")


@pytest.fixture
def misbehaving() -> Iterator[None]:
    _Hangs.release = threading.Event()
    register_verifier("crashes", _Crashes)
    register_verifier("hangs", _Hangs)
    yield
    _Hangs.release.set()
    unregister_verifier("crashes")
    unregister_verifier("hangs")


@pytest.mark.parametrize(
    ("verifier", "reason"),
    [
        ("crashes", "the crashes verifier crashed: RuntimeError: verifier bug"),
        ("hangs", "the hangs verifier did not answer within 0.3 s"),
    ],
)
async def test_a_crashing_or_hanging_verifier_is_a_rejection(
    replay: ReplayServer, misbehaving: None, verifier: str, reason: str
) -> None:
    route(
        replay,
        fast=stream("fast-up", [], ["42"], 10, 30),
        deep=stream("deep-up", DEEP_THOUGHTS[:5], ["deep says 42"], 50, 1500),
    )
    config = hedge_config(replay, verifier=verifier, verifier_options={}, verify_timeout_s=0.3)
    events = await run(config)
    assert_one_of_each(events)
    assert answer(events) == "deep says 42"
    assert finished(events).served_by == "deep"
    assert f"fast's answer rejected: {reason}" in [p.label for p in of(events, Progress)]


async def test_request_names_its_verifier(replay: ReplayServer) -> None:
    """``ponder.verify`` wins over the alias's default: here it rejects what the alias's
    pattern would have accepted."""
    route(
        replay,
        fast=stream("fast-up", [], ["42"], 10, 30),
        deep=stream("deep-up", DEEP_THOUGHTS[:3], ["forty-two"], 30, 400),
    )
    request = ChatRequest.from_prompt(
        "17 + 25?", model="hedge", verify=VerifySpec("regex", {"pattern": "^forty", "full": False})
    )
    events = await run(hedge_config(replay), request)
    assert answer(events) == "forty-two"
    assert "fast's answer rejected: the answer has no match of /^forty/" in [
        p.label for p in of(events, Progress)
    ]


async def test_a_request_opting_out_gets_deep_alone(replay: ReplayServer) -> None:
    route(
        replay,
        fast=stream("fast-up", [], ["42"], 10, 30),
        deep=stream("deep-up", DEEP_THOUGHTS[:3], ["deep's 42"], 30, 300),
    )
    events = await run(hedge_config(replay), ChatRequest.from_prompt("17 + 25?", model="hedge",
                                                                     hedge=False))  # fmt: skip
    assert answer(events) == "deep's 42" and finished(events).served_by == "deep"
    assert of(events, Progress)[0].label == (
        "deep alone: the request opted out of hedging (ponder.hedge=false)"
    )
    assert {r.path for r in replay.requests} == {DEEP_PATH}  # fast was never asked


async def test_deep_cap_pauses_deep_until_the_verdict(replay: ReplayServer) -> None:
    """With a cap, deep is not read past it before fast's verdict; a rejection resumes it."""
    route(
        replay,
        fast=stream("fast-up", [], ["41"], 10, 300),
        deep=stream("deep-up", DEEP_THOUGHTS[:10], ["42"], 10, 400),
    )
    events = await run(hedge_config(replay, max_deep_tokens_before_verdict=5))
    labels = [p.label for p in of(events, Progress)]
    paused = next(i for i, label in enumerate(labels) if label.startswith("deep paused at"))
    rejected = labels.index("fast's answer rejected: the answer has no match of /42/")
    assert paused < rejected
    assert answer(events) == "42" and finished(events).served_by == "deep"


def test_hedge_config_errors_say_what_to_fix() -> None:
    with pytest.raises(ConfigError, match="two different models"):
        Engine(parse_config({"models": {"h": {"provider": "hedge", "fast": "deep"}}})).provider("h")
    with pytest.raises(ConfigError, match="cannot race itself"):
        Engine(parse_config({"models": {"h": {"provider": "hedge", "fast": "h"}}})).provider("h")
    with pytest.raises(ConfigError, match=r"No verifier named 'nope'\. Available verifiers: "):
        Engine(parse_config({"models": {"h": {"provider": "hedge", "verifier": "nope"}}})).provider(
            "h"
        )
    with pytest.raises(ConfigError, match="does not take: colour"):
        Engine(parse_config({"models": {"h": {"provider": "hedge", "colour": 1}}})).provider("h")
    with pytest.raises(ConfigError, match="wraps other models"):
        create_provider(parse_config({}).model("hedge"))


# -- through the gateway: OpenAI SSE ------------------------------------------------------------


def sse_objects(body: str) -> list[Any]:
    """Every SSE event's JSON, checking the framing: ``data:`` lines, blank-line separated,
    ending with ``[DONE]``."""
    events = [e for e in body.split("\n\n") if e.strip()]
    assert events[-1] == "data: [DONE]"
    out = []
    for event in events[:-1]:
        assert event.startswith("data: ") and "\n" not in event, event
        out.append(json.loads(event.removeprefix("data: ")))
    return out


def test_gateway_streams_one_well_formed_answer(replay: ReplayServer, tmp_path: Path) -> None:
    route(
        replay,
        fast=stream("fast-up", [], ["4", "2"], 10, 50),
        deep=stream("deep-up", DEEP_THOUGHTS, ["forty-two: 42"], 100, 3000),
    )
    db = tmp_path / "traces.db"
    app = create_app(hedge_config(replay), ServerSettings(), writer=TraceWriter(db))
    body = {
        "model": "hedge",
        "stream": True,
        "messages": [{"role": "user", "content": "17 + 25?"}],
        "ponder": {"verify": "regex", "pattern": "^42$", "full": True},
    }
    with ThreadServer(app) as server:
        reply = httpx.post(f"{server.base_url}/v1/chat/completions", json=body, timeout=30)
        bad = httpx.post(
            f"{server.base_url}/v1/chat/completions",
            json={**body, "ponder": {"verify": "nope"}},
            timeout=30,
        )
        deadline = time.monotonic() + 10
        traces = read(db, TraceQuery())
        while not traces and time.monotonic() < deadline:  # written off the stream path
            time.sleep(0.05)
            traces = read(db, TraceQuery())
        refused = httpx.post(
            f"{server.base_url}/v1/chat/completions",
            json={**body, "ponder": {"verify": "sql", "dsn": "sqlite:////etc/passwd"}},
            timeout=30,
        )
    assert reply.status_code == 200
    objects = sse_objects(reply.text)
    roles = [o for o in objects if o["choices"] and "role" in o["choices"][0]["delta"]]
    assert len(roles) == 1
    content = "".join(
        o["choices"][0]["delta"].get("content") or "" for o in objects if o["choices"]
    )
    assert content == "42"
    extras = [o["ponder"] for o in objects if "ponder" in o]
    assert extras[0]["model"] == "hedge"
    final = next(x for x in extras if x.get("event") == "finished")
    assert final["served_by"] == "fast" and set(final["cancelled_tokens"]) == {"deep"}
    assert final["lanes"]["fast"]["outcome"] == "passed"
    assert any(x.get("event") == "notice" and "passed" in x["text"] for x in extras)
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["param"] == "ponder.verify"
    assert "Unknown verifier 'nope'. Available: " in error["message"] and "sql" in error["message"]
    # The trace says what happened: the hedge, the accepted fast answer, deep's cancellation.
    trace = traces[0]
    assert (trace.model, trace.answer) == ("hedge", "42")
    assert "fast's answer passed the regex check; deep stopped" in trace.progress
    assert any("passed: the whole answer matches /^42$/" in n for n in trace.notes)
    assert refused.status_code == 400
    assert "does not take dsn from a request" in refused.json()["error"]["message"]


# -- auto: hedge when it pays -------------------------------------------------------------------


class Estimating:
    """A router with fixed figures: deep chosen, P(fast correct) as given."""

    def __init__(self, p_fast: float) -> None:
        self.p_fast = p_fast

    def decide(self, request: ChatRequest) -> Decision:
        figures = {"p_fast": self.p_fast, "p_deep": 0.99, "e2e_fast_ms": 100.0,
                   "e2e_deep_ms": 2000.0, "ttfa_fast_ms": 90.0, "ttfa_deep_ms": 1900.0}  # fmt: skip
        return Decision("deep", f"P(fast correct) {self.p_fast}", figures)


def scripted_config(fast_answer: str, **hedge: Any) -> Config:
    fast = [["answer", fast_answer, 10], ["finish", "stop"]]
    deep = [["thinking", "working it out. ", 20], ["thinking", "carry the one. ", 200],
            ["answer", "178377", 10], ["finish", "stop"]]  # fmt: skip
    return parse_config(
        {
            "models": {
                "fast": {"provider": "scripted", "script": fast, "thinking": {"enabled": False}},
                "deep": {"provider": "scripted", "script": deep},
                "careful": {"provider": "hedge", "race": "when_it_pays", **hedge},
            }
        }
    )


ARITH = "What is 4821 * 37?"


async def run_with(config: Config, router: Any, request: ChatRequest) -> list[Event]:
    engine = Engine(config, router=router)
    try:
        return await engine.collect(request)
    finally:
        await engine.aclose()


async def test_auto_hedges_when_a_verifier_applies_and_it_pays() -> None:
    request = ChatRequest.from_prompt(ARITH)
    events = await run_with(scripted_config("178377"), Estimating(0.9), request)
    started = events[0]
    assert isinstance(started, Started) and started.model == "hedge"
    assert started.reason.startswith("P(fast correct) 0.9; hedge: the embedded verifier applies")
    assert "expected time-to-correct" in started.reason
    assert answer(events) == "178377" and finished(events).served_by == "fast"


async def test_auto_routes_as_today_when_hedging_would_not_pay() -> None:
    events = await run_with(scripted_config("1"), Estimating(0.02), ChatRequest.from_prompt(ARITH))
    started = events[0]
    assert isinstance(started, Started) and started.model == "deep"
    assert "; not hedged: it would not pay (expected time-to-correct" in started.reason
    assert finished(events).served_by is None


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (ChatRequest.from_prompt(ARITH, hedge=False), "not hedged: the request opted out"),
        (ChatRequest.from_prompt("Write a haiku."), "not hedged: the embedded verifier does not"),
    ],
)
async def test_auto_says_why_it_did_not_hedge(request_: ChatRequest, why: str) -> None:
    events = await run_with(scripted_config("178377"), Estimating(0.9), request_)
    started = events[0]
    assert isinstance(started, Started) and started.model == "deep" and why in started.reason


async def test_a_named_verifier_lets_auto_hedge_any_prompt() -> None:
    request = ChatRequest.from_prompt(
        "Reply with a number.", verify=VerifySpec("regex", {"pattern": "^1$", "full": True})
    )
    events = await run_with(scripted_config("1"), Estimating(0.9), request)
    assert answer(events) == "1" and finished(events).served_by == "fast"


async def test_hedge_model_runs_deep_alone_when_racing_would_not_pay() -> None:
    config = scripted_config("1")
    request = ChatRequest.from_prompt(ARITH, model="careful")
    events = await run_with(config, Estimating(0.02), request)
    assert_one_of_each(events)
    labels = [p.label for p in of(events, Progress)]
    assert labels[0].startswith("deep alone: racing fast would not pay")
    assert not any("rejected" in label for label in labels)  # fast never ran
    assert answer(events) == "178377" and finished(events).served_by == "deep"
    raced = await run_with(config, Estimating(0.9), request)  # now racing pays: fast runs
    assert "fast's answer rejected: arith task verifier: expected 178377, got 1" in [
        p.label for p in of(raced, Progress)
    ]


# -- the request extension ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ponder", "param", "message"),
    [
        ({"hedge": "no"}, "ponder.hedge", "'ponder.hedge' must be true or false"),
        ({"colour": 1}, "ponder", "Unknown ponder field(s): colour; known: verify, hedge, max_"),
        ({"verify": 3}, "ponder.verify", "must name a verifier"),
        ({"verify": "regex", "flavour": "x"}, "ponder.verify", "does not take flavour"),
        ("sql", "ponder", "'ponder' must be an object"),
    ],
)
def test_the_ponder_extension_refuses_what_it_cannot_use(
    ponder: Any, param: str, message: str
) -> None:
    body = {"model": "hedge", "messages": [{"role": "user", "content": "q"}], "ponder": ponder}
    with pytest.raises(ParamError) as caught:
        parse_chat(body, {}, "req_1")
    assert caught.value.param == param and message in caught.value.message


def test_the_ponder_extension_names_a_verifier_two_ways() -> None:
    base = {"model": "hedge", "messages": [{"role": "user", "content": "q"}]}
    flat = parse_chat({**base, "ponder": {"verify": "regex", "pattern": "4"}}, {}, "r").chat
    nested = parse_chat(
        {**base, "ponder": {"verify": {"name": "regex", "pattern": "4"}, "hedge": True}}, {}, "r"
    ).chat
    assert flat.verify == nested.verify == VerifySpec("regex", {"pattern": "4"})
    assert (flat.hedge, nested.hedge) == (None, True)


# -- a bug in a lane's pump ------------------------------------------------------------------


def scripted_hedge(fast_answer: str) -> Config:
    def lane(*script: list[Any]) -> dict[str, Any]:
        return {"provider": "scripted", "script": list(script)}

    return parse_config(
        {
            "models": {
                "fast": lane(["answer", fast_answer], ["finish", "stop"]),
                "deep": lane(
                    ["thinking", "working it out", 5], ["answer", "42", 20], ["finish", "stop"]
                ),
                "hedge": {
                    "provider": "hedge",
                    "fast": "fast",
                    "deep": "deep",
                    "verifier": "regex",
                    "verifier_options": {"pattern": "42"},
                    "race": "always",
                },
            }
        }
    )


def break_deep_pump(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deep's pump reads one event, then dies of a bug."""
    import ponder.policies.hedge_race as race

    async def broken(self: race.LaneRace) -> None:
        async with contextlib.aclosing(self._events("deep")) as events:
            async for _event in events:
                raise RuntimeError("a bug in the pump")

    monkeypatch.setattr(race.LaneRace, "_pump_deep", broken)


async def test_a_crashed_deep_pump_ends_the_stream_with_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fast is rejected and deep's pump died: the request ends with a clear failure instead
    of waiting for a lane that will never speak again."""
    import asyncio

    import tests.fakes  # noqa: F401  (registers the scripted provider)

    break_deep_pump(monkeypatch)
    events = await asyncio.wait_for(run(scripted_hedge("41")), 10)
    assert_one_of_each(events)
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.code == "internal_error"
    assert "deep: internal error (RuntimeError)" in failed.message


async def test_a_crashed_deep_pump_does_not_stop_an_accepted_fast_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import tests.fakes  # noqa: F401

    break_deep_pump(monkeypatch)
    events = await asyncio.wait_for(run(scripted_hedge("42")), 10)
    assert_one_of_each(events)
    assert answer(events) == "42" and finished(events).served_by == "fast"
