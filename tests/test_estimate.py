"""The wait estimator on synthetic histories with known distributions, and its endpoint."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import httpx
import pytest

from ponder.config import load_config
from ponder.estimate import Estimator, Range, read_attempts
from ponder.server import ServerSettings, create_app
from ponder.store.writer import TraceWriter
from tests.gateway_harness import ThreadServer, write_config
from tests.test_store import record

SMALL = "What is 12 + 7?"
BIG = "What is 48213977 * 90318844?"
LEDGER = "\n".join(f"ann {n}\nbob {n * 3}" for n in range(1, 30)) + "\nWhat is the total?"


def uniform(estimator: Estimator, model: str, prompt: str, low: float, high: float,
            n: int = 200, thoughts: int | None = None) -> None:  # fmt: skip
    rng = random.Random(prompt + model)
    for _ in range(n):
        ttfa = rng.uniform(low, high)
        estimator.observe(model, prompt, ttfa, ttfa + 5, thoughts, 2.0)


def test_similar_prompts_give_their_own_range() -> None:
    estimator = Estimator()
    uniform(estimator, "deep", SMALL, 100, 200, thoughts=50)
    uniform(estimator, "deep", BIG, 1000, 2000, thoughts=400)
    small, big = estimator.estimate("deep", "What is 31 + 4?"), estimator.estimate("deep", BIG)
    assert small is not None and big is not None
    assert small.basis == big.basis == "similar"
    assert small.samples == big.samples == 80  # the nearest, not the whole history
    # Uniform on [100, 200]: p10 ≈ 110, p50 ≈ 150, p90 ≈ 190 (sampling error a few ms).
    assert small.ttfa_ms.p10 == pytest.approx(110, abs=12)
    assert small.ttfa_ms.p50 == pytest.approx(150, abs=12)
    assert small.ttfa_ms.p90 == pytest.approx(190, abs=12)
    assert big.ttfa_ms.p50 == pytest.approx(1500, abs=120)
    assert small.thinking_tokens == Range(50, 50, 50)
    assert big.e2e_ms.p50 == pytest.approx(big.ttfa_ms.p50 + 5)


def test_an_unlike_prompt_falls_back_to_the_models_history() -> None:
    estimator = Estimator()
    uniform(estimator, "deep", SMALL, 100, 200, n=50)
    estimate = estimator.estimate("deep", LEDGER)  # another category, far bigger
    assert estimate is not None
    assert estimate.basis == "model" and estimate.samples == 50
    assert 100 <= estimate.ttfa_ms.p10 <= estimate.ttfa_ms.p90 <= 200


def test_no_history_no_estimate() -> None:
    estimator = Estimator()
    assert estimator.estimate("deep", SMALL) is None
    uniform(estimator, "deep", SMALL, 100, 200, n=3)  # too few to say anything
    assert estimator.estimate("deep", SMALL) is None
    assert estimator.estimate("fast", SMALL) is None  # another model's history never counts


def test_fast_has_no_thought_tokens_and_models_stay_apart() -> None:
    estimator = Estimator()
    uniform(estimator, "fast", SMALL, 5, 15)
    uniform(estimator, "deep", SMALL, 300, 400, thoughts=120)
    fast, deep = estimator.estimate("fast", SMALL), estimator.estimate("deep", SMALL)
    assert fast is not None and deep is not None
    assert fast.thinking_tokens is None and fast.ttfa_ms.p90 <= 15
    assert deep.thinking_tokens is not None and deep.ttfa_ms.p10 >= 300


def test_only_timed_traces_count() -> None:
    estimator = Estimator()
    timed = [record(n, model="deep", mode="deep", e2e_ms=50.0, prompt=SMALL) for n in range(10)]
    canned = record(99, finish_reason="declined", e2e_ms=1.0, prompt=SMALL)
    failed = record(98, status="error", finish_reason="error", e2e_ms=1.0, prompt=SMALL)
    assert estimator.observe_traces([*timed, canned, failed]) == 10
    assert estimator.samples("deep") == 10 and estimator.samples("fast") == 0


def test_bench_attempts_seed_it(tmp_path: Path) -> None:
    path = tmp_path / "attempts.jsonl.gz"
    meter = {"ttfa_ms": 12.0, "e2e_ms": 14.0, "thinking_tokens": 0, "itl_p99_ms": 1.0,
             "finish_reason": "stop"}  # fmt: skip
    rows = [{"model": "fast", "prompt": SMALL, "meter": meter, "error": None}] * 6
    rows.append({"model": "fast", "prompt": SMALL, "meter": None, "error": "boom"})
    rows.append({"model": "fast", "prompt": SMALL, "meter": {**meter, "finish_reason": "declined"}})
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in rows)
    assert len(list(read_attempts(path))) == 6
    estimator = Estimator()
    assert estimator.seed_attempts(path) == 6
    estimate = estimator.estimate("fast", SMALL)
    assert estimate is not None and estimate.ttfa_ms == Range(12, 12, 12)


def test_endpoint_seeded_from_the_store_and_fed_by_each_request(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    seed = TraceWriter(db)
    for n in range(20):
        seed.submit(record(n, model="deep", mode="deep", ttfa_ms=300.0 + n, e2e_ms=400.0,
                           prompt="What is 4821 * 37?"))  # fmt: skip
    seed.close()
    config = load_config(write_config(tmp_path))
    app = create_app(config, ServerSettings(), writer=TraceWriter(db))
    with ThreadServer(app) as server:
        url = server.base_url + "/api/estimate"
        body = httpx.post(url, json={"prompt": "What is 5123 * 44?"}).json()
        assert body["auto"]["mode"] == "deep"
        assert body["estimates"]["fast"] is None  # no fast history yet: no number
        deep = body["estimates"]["deep"]
        assert deep["samples"] == 20 and deep["basis"] == "similar"
        assert 300 <= deep["ttfa_ms"]["p10"] <= deep["ttfa_ms"]["p90"] <= 319
        for _ in range(5):  # five real requests to fast teach it fast's timings
            chat = {"model": "fast", "messages": [{"role": "user", "content": "hi there"}]}
            assert httpx.post(server.base_url + "/v1/chat/completions", json=chat).is_success
        fast = httpx.post(url, json={"prompt": "hello", "model": "fast"}).json()
        assert fast["estimates"]["fast"]["samples"] == 5
        bad = httpx.post(url, json={"prompt": ""})
        assert bad.status_code == 400 and "'prompt'" in bad.json()["error"]["message"]
        unknown = httpx.post(url, json={"prompt": "hi", "model": "nope"})
        assert unknown.status_code == 404 and "fast" in unknown.json()["error"]["message"]
