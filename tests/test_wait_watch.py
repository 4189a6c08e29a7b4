"""Stall and loop detection (ponder.wait_watch)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from ponder.config import load_config
from ponder.errors import ConfigError
from ponder.server import ServerSettings, create_app
from ponder.store.writer import TraceWriter
from ponder.wait_watch import (
    STALL_FLOOR_MS,
    LoopDetector,
    StallWatch,
    repeated_phrase,
    stall_after_ms,
    stall_note,
)
from tests.gateway_harness import ThreadServer, write_config

VARIED = (
    "First add the units column: 7 plus 5 is 12, write 2 carry 1. Then the tens: 4 plus 8"
    " plus the carry is 13, write 3 carry 1. The hundreds give 9. So the sum is 932, and a"
    " check by subtraction gives back the first number, which confirms the result. "
)


def test_the_stall_threshold_follows_the_usual_gap_above_a_floor() -> None:
    assert stall_after_ms(1.0) == STALL_FLOOR_MS  # a fast model still gets a few seconds
    assert stall_after_ms(800.0) == 16_000.0  # a model with long pauses gets twenty of them
    assert stall_after_ms(None) == 2 * STALL_FLOOR_MS  # no history: a wider margin
    assert stall_after_ms(None, floor_ms=1_000) == 2_000
    assert stall_note(8_200) == "No tokens for 8 s — the model may be stuck"


def test_a_stall_is_reported_once_per_quiet_spell() -> None:
    watch = StallWatch(after_ms=1_000, now_ms=0)
    assert watch.check(999) is None
    assert watch.check(1_500) == stall_note(1_500)
    assert watch.check(3_000) is None  # already said
    watch.token(3_100)
    assert watch.check(3_900) is None
    assert watch.check(4_200) is not None  # a new spell


def test_repeating_thoughts_are_a_loop_and_varied_ones_are_not() -> None:
    assert repeated_phrase(VARIED * 2) is None  # said twice is not a loop
    looping = VARIED + "Let me check each step again. " * 6
    phrase = repeated_phrase(looping)
    assert phrase is not None  # six words of the cycle, in some rotation
    assert set(phrase.split()) == {"let", "me", "check", "each", "step", "again."}


def test_the_detector_works_on_deltas_split_mid_word_and_fires_once() -> None:
    detector = LoopDetector()
    text = "I will recount the ledger rows now. " * 8
    fired = [detector.feed(text[i : i + 3]) for i in range(0, len(text), 3)]
    assert fired.count(True) == 1
    assert detector.phrase is not None
    assert set(detector.phrase.split()) < {"i", "will", "recount", "the", "ledger", "rows", "now."}


def test_repeats_far_apart_fall_out_of_the_window() -> None:
    detector = LoopDetector(words=3, repeats=3, window=20)
    filler = " ".join(f"w{i}" for i in range(30)) + " "
    for _ in range(3):
        detector.feed("alpha beta gamma " + filler)
    assert detector.phrase is None
    detector.feed("alpha beta gamma alpha beta gamma alpha beta gamma ")
    assert detector.phrase == "alpha beta gamma"


STUCK_MODELS = """
[server]
stall_floor_s = 0.3  # no history: a stall after 0.6 s

[models.stuck]
provider = "scripted"
script = [["thinking", "Let me see. ", 1], ["thinking", "Still here. ", 900],
          ["answer", "42", 1], ["finish", "stop"]]

[models.loopy]
provider = "scripted"
script = [["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["answer", "7", 1], ["finish", "stop"]]
"""


def _notes(base_url: str, model: str) -> list[str]:
    chat = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = httpx.post(base_url + "/v1/chat/completions", json=chat, timeout=10)
    assert response.status_code == 200
    found = re.search(r'"request_id":\s*"([^"]+)"', response.text)  # the started chunk's
    assert found is not None
    request_id = found.group(1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        trace = httpx.get(f"{base_url}/api/traces/{request_id}")
        if trace.status_code == 200:
            notes: list[str] = trace.json()["notes"]
            return notes
        time.sleep(0.02)
    raise AssertionError(f"no trace for {request_id}")


def test_the_gateway_records_stalls_and_loops_in_the_trace(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, STUCK_MODELS))
    app = create_app(config, ServerSettings(), writer=TraceWriter(tmp_path / "traces.db"))
    with ThreadServer(app) as server:
        stuck = _notes(server.base_url, "stuck")
        loopy = _notes(server.base_url, "loopy")
        steady = _notes(server.base_url, "deep")
        limits = httpx.post(server.base_url + "/api/estimate", json={"prompt": "hi"}).json()
    assert [n.split(" — ")[0] for n in stuck] == ["stall: No tokens for 1 s"]
    assert len(loopy) == 1 and loopy[0].startswith("loop: The model is repeating itself")
    assert steady == []
    assert limits["stall_after_ms"] == {"fast": 600.0, "deep": 600.0}


def test_a_bad_stall_floor_is_a_config_error(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, '[server]\nstall_floor_s = "soon"\n'))
    with pytest.raises(ConfigError, match=r"stall_floor_s must be a positive number"):
        create_app(config, ServerSettings())
