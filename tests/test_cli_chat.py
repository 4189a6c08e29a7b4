"""``ponder chat`` end to end through the real CLI entry point, on the scripted provider."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ponder.cli import main
from ponder.events import Answer, Finished, Progress, Started, Thinking
from ponder.meter import Meter
from ponder.render import ChatRenderer

CONFIG = """
[models.deep]
provider = "scripted"
script = [["thinking", "The question asks for a product.\\nMultiply the digits.\\n", 5],
          ["answer", "9716", 5], ["finish", "stop"]]

[models.broken]
provider = "scripted"
script = [["thinking", "partial thought"], ["raise", "rate limited"]]
"""


@pytest.fixture()
def config(tmp_path: Path) -> str:
    path = tmp_path / "ponder.toml"
    path.write_text(CONFIG)
    return str(path)


def test_chat_streams_thoughts_answer_and_metrics_without_ansi_on_a_pipe(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "chat", "--model", "deep", "What is 347 × 28?"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    assert "Thinking…" in out and "Multiply the digits." in out
    assert "Thought for" in out and "9716" in out
    assert out.index("Multiply the digits.") < out.index("9716")
    last = out.strip().splitlines()[-1]
    assert last.startswith("TTFT ") and "TTFA" in last and "effective" in last
    assert "(estimated)" in last


def test_hide_thoughts_collapses_them_to_one_line(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "chat", "-m", "deep", "--hide-thoughts", "q"]) == 0
    out = capsys.readouterr().out
    assert "Multiply the digits" not in out
    assert sum("Thought for" in line for line in out.splitlines()) == 1


def test_json_prints_the_event_stream(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", config, "chat", "-m", "deep", "--json", "q"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["type"] == "started"
    assert lines[-1]["type"] == "finished" and lines[-1]["timings"]["ttfa_ms"] > 0
    assert {"thinking", "answer", "usage", "progress"} <= {line["type"] for line in lines}


def test_prompt_from_stdin(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("What is 2+2?\n"))
    assert main(["--config", config, "chat", "-m", "deep"]) == 0
    assert "9716" in capsys.readouterr().out


def test_unknown_model_lists_known_ones(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", config, "chat", "-m", "gpt-9", "hi"]) == 1
    err = capsys.readouterr().err
    assert "Unknown model 'gpt-9'" in err and "broken" in err and "deep" in err


def test_upstream_failure_keeps_thoughts_and_exits_nonzero(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "chat", "-m", "broken", "hi"]) == 1
    out = capsys.readouterr().out
    assert "partial thought" in out and "rate limited" in out


def test_terminal_rendering_ticks_and_dims_thoughts() -> None:
    out = io.StringIO()
    renderer = ChatRenderer(out, ansi=True)
    meter = Meter()
    events = [
        Started("r", "deep", "deep", "why"),
        Thinking("first line\nsecond"),
        Progress("Working through the arithmetic", 0),
        Answer("42"),
        Finished("stop"),
    ]
    for event in events:
        meter.feed(event)
        renderer.handle(event)
        renderer.tick()
    renderer.finish(meter.metrics(), None)
    text = out.getvalue()
    assert "\x1b[2m" in text  # dim thoughts
    assert "Thinking… " in text  # the ticking status line
    assert "→ Working through the arithmetic" in text
    assert text.index("Thought for") < text.index("42")
