"""Past its in-flight cap the gateway answers 429 with Retry-After at once, OpenAI-shaped,
and serves again as soon as a slot frees: a bound, not a queue."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ponder.config import load_config
from ponder.server import ServerSettings, create_app
from tests.gateway_harness import ThreadServer, write_config


@pytest.fixture()
def capped(tmp_path: Path) -> Iterator[ThreadServer]:
    app = create_app(load_config(write_config(tmp_path)), ServerSettings(max_in_flight=1))
    with ThreadServer(app) as server:
        yield server


def _body(model: str, stream: bool) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}


def test_over_the_cap_is_429_with_retry_after(capped: ThreadServer) -> None:
    url = capped.base_url + "/v1/chat/completions"
    in_flight = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with httpx.stream("POST", url, json=_body("endless", True), timeout=30) as r:
            for line in r.iter_lines():
                if "reasoning_content" in line:
                    in_flight.set()
                    release.wait(10)
                    return

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert in_flight.wait(10)
        refused = httpx.post(url, json=_body("fast", False), timeout=10)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        error = refused.json()["error"]
        assert error["code"] == "overloaded" and "limit of 1 requests" in error["message"]
        metrics = httpx.get(capped.base_url + "/metrics").text
        assert 'ponder_rejected_requests_total{code="overloaded"} 1' in metrics
    finally:
        release.set()
        holder.join(10)
    deadline = time.monotonic() + 5
    while httpx.get(capped.base_url + "/healthz").json()["active_requests"] and (
        time.monotonic() < deadline
    ):
        time.sleep(0.02)
    served = httpx.post(url, json=_body("fast", False), timeout=10)
    assert served.status_code == 200
    assert json.loads(served.content)["choices"][0]["message"]["content"] == "Paris is the capital."


def test_the_cap_comes_from_the_flag_then_ponder_toml_then_the_default() -> None:
    from ponder.cli.serve import _max_in_flight
    from ponder.errors import ConfigError
    from ponder.server.gateway import DEFAULT_MAX_IN_FLIGHT

    assert _max_in_flight(8, {"max_in_flight": 3}) == 8
    assert _max_in_flight(None, {"max_in_flight": 3}) == 3
    assert _max_in_flight(None, {}) == DEFAULT_MAX_IN_FLIGHT
    with pytest.raises(ConfigError, match="max_in_flight must be a positive integer"):
        _max_in_flight(None, {"max_in_flight": 0})
