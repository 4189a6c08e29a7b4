"""Auto mode inside the gateway: the latency budget uses deep's TTFA from recent traces,
seeded from the store at start-up and updated by every finished request."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from ponder.config import load_config
from ponder.server import ServerSettings, create_app
from ponder.store import TraceWriter
from ponder.store.sqlite import connect, insert
from tests.gateway_harness import ThreadServer, write_config
from tests.test_store import record

ARITHMETIC = [{"role": "user", "content": "What is 4821 × 37?"}]


def _mode(base_url: str, budget_ms: int) -> tuple[str, str]:
    body = {"model": "auto", "messages": ARITHMETIC}
    response = httpx.post(
        base_url + "/v1/chat/completions",
        json=body,
        headers={"x-ponder-max-ttfa-ms": str(budget_ms)},
    )
    ponder = response.json()["ponder"]
    return ponder["mode"], ponder["reason"]


def test_budget_estimate_is_seeded_from_the_store(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    insert(connect(db), [record(n, mode="deep", ttfa_ms=120.0) for n in range(1, 20, 2)])
    config = load_config(write_config(tmp_path))
    app = create_app(config, ServerSettings(), writer=TraceWriter(db))
    with ThreadServer(app) as server:
        mode, reason = _mode(server.base_url, 500)
    assert mode == "deep" and "latency budget" not in reason


def test_budget_estimate_follows_live_requests(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    app = create_app(config, ServerSettings(), writer=TraceWriter(tmp_path / "traces.db"))
    with ThreadServer(app) as server:
        mode, reason = _mode(server.base_url, 1000)
        assert mode == "fast" and "configured estimate" in reason  # 4000 ms by default
        for _ in range(3):  # the scripted deep model answers within a few ms
            httpx.post(server.base_url + "/v1/chat/completions",
                       json={"model": "deep", "messages": ARITHMETIC})  # fmt: skip
        deadline = time.monotonic() + 3
        while _mode(server.base_url, 1000)[0] != "deep" and time.monotonic() < deadline:
            time.sleep(0.02)
        mode, reason = _mode(server.base_url, 1000)
    assert mode == "deep"
