"""``ponder chat`` end to end through the real CLI entry point, on the scripted provider."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from ponder.cli import main
from ponder.events import Answer, Finished, Progress, Started, Thinking
from ponder.meter import Meter
from ponder.render import ChatRenderer

# The answer as a number of its own, not digits inside a timing or a rate.
ANSWER_ALONE = r"(?<![\d.])9716(?![\d.])"

CONFIG = """
[models.deep]
provider = "scripted"
script = [["thinking", "The question asks for a product.\\nMultiply the digits.\\n", 5],
          ["answer", "9716", 5], ["finish", "stop"]]

[models.echo]
provider = "scripted"
script = [["echo", "you asked: "], ["finish", "stop"]]

[models.broken]
provider = "scripted"
script = [["thinking", "partial thought"], ["raise", "rate limited"]]
"""


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PONDER_DB", str(tmp_path / "traces.db"))  # never the person's store
    path = tmp_path / "ponder.toml"
    path.write_text(CONFIG)
    return str(path)


def test_the_answer_alone_goes_to_stdout_and_the_rest_to_stderr(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "chat", "--model", "deep", "What is 347 × 28?"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "9716\n"
    err = captured.err
    assert "\x1b[" not in err
    assert err.splitlines()[0] == "deep"  # the mode asked for; no reason when it was asked
    assert "Thinking…" in err and "Multiply the digits." in err
    assert re.search(r"^Thought (for [\d.]+ s|briefly)$", err, re.M)
    assert not re.search(ANSWER_ALONE, err)  # a rate such as 19716.2 tok/s may hold the digits
    last = err.strip().splitlines()[-1]
    assert last.startswith("TTFT ") and "TTFA" in last and "effective" in last
    assert "(estimated)" in last


def test_answer_only_prints_nothing_but_the_answer(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "chat", "-m", "deep", "--answer-only", "q"]) == 0
    assert capsys.readouterr() == ("9716\n", "")


def test_hide_thoughts_collapses_them_to_one_line_and_hides_progress(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "chat", "-m", "deep", "--hide-thoughts", "q"]) == 0
    err = capsys.readouterr().err
    assert "Multiply the digits" not in err and "→ " not in err
    assert sum(line.startswith("Thought ") for line in err.splitlines()) == 1
    args = ["--config", config, "chat", "-m", "deep", "--hide-thoughts", "--progress", "q"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "Multiply the digits" not in err and "→ Reading the question" in err


def test_chat_requests_are_recorded_like_gateway_requests(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ponder.store import TraceQuery, read

    db = tmp_path / "traces.db"
    assert main(["--config", config, "chat", "-m", "deep", "What is 347 × 28?"]) == 0
    (trace,) = read(db, TraceQuery())
    assert trace.status == "ok" and trace.finish_reason == "stop"
    assert trace.prompt == "What is 347 × 28?" and trace.answer == "9716"
    assert trace.requested_model == "deep" and trace.mode == "deep"
    assert trace.thinking.startswith("The question") and trace.ttfa_ms is not None
    assert "Reading the question" in trace.progress
    assert main(["--config", config, "chat", "-m", "deep", "--no-store", "q"]) == 0
    assert len(read(db, TraceQuery())) == 1
    capsys.readouterr()
    assert main(["traces", "--db", str(db)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[-2:] == ["OK", "PROMPT"]
    # the verdict (347 × 28 is 9716), then the prompt
    assert listing[1].endswith("  ✓   What is 347 × 28?"), listing[1]


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
    assert main(["--config", config, "chat", "-m", "echo"]) == 0
    assert "you asked: What is 2+2?" in capsys.readouterr().out


def test_an_argument_wins_over_stdin(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    assert main(["--config", config, "chat", "-m", "echo", "from the argument"]) == 0
    out = capsys.readouterr().out
    assert "you asked: from the argument" in out and "from stdin" not in out


def test_empty_stdin_is_refused(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("  \n"))
    assert main(["--config", config, "chat", "-m", "echo"]) == 2
    assert "give a prompt as an argument or on stdin" in capsys.readouterr().err


def test_unknown_model_lists_known_ones(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", config, "chat", "-m", "gpt-9", "hi"]) == 1
    err = capsys.readouterr().err
    assert "Unknown model 'gpt-9'" in err and "broken" in err and "deep" in err


def test_upstream_failure_keeps_thoughts_and_exits_nonzero(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "chat", "-m", "broken", "hi"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "partial thought" in captured.err and "rate limited" in captured.err


def test_terminal_rendering_ticks_and_dims_thoughts() -> None:
    out, info = io.StringIO(), io.StringIO()
    renderer = ChatRenderer(out, info, ansi=True, requested="auto", width=80)
    meter = Meter()
    events = [
        Started("r", "deep", "deep", "why"),
        Thinking("first line\nsecond"),
        Progress("Working through the arithmetic", 0),
        Thinking(" half\n"),
        Answer("42"),
        Finished("stop"),
    ]
    for event in events:
        meter.feed(event)
        renderer.handle(event)
        renderer.tick()
    renderer.finish(meter.metrics(), None)
    assert out.getvalue() == "42\n"
    text = info.getvalue()
    assert text.startswith("\x1b[90mauto → deep · why")
    assert "\x1b[2m" in text  # dim thoughts
    assert "Thinking… " in text  # the ticking status line
    # the label waited for the thought line it arrived in to end
    assert text.index("second half") < text.index("→ Working through the arithmetic")
    assert "Thought briefly" in text


def test_a_canned_reply_says_so_instead_of_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PONDER_DB", str(tmp_path / "traces.db"))
    monkeypatch.delenv("PONDER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ponder.toml: the embedded model
    assert main(["chat", "-m", "deep", "What is 52 + 77?"]) == 0
    captured = capsys.readouterr()
    assert "a size I was not trained on" in captured.out
    assert "TTFT" not in captured.err and "canned reply" in captured.err


STUCK_CONFIG = """
[server]
stall_floor_s = 0.2  # no history in ponder chat: a stall after 0.4 s

[models.stuck]
provider = "scripted"
script = [["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 1],
          ["thinking", "Let me count the rows once more. ", 800],
          ["answer", "7", 1], ["finish", "stop"]]
"""


def test_chat_says_when_the_model_stalls_or_loops_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ponder.store import TraceQuery, read

    db = tmp_path / "traces.db"
    monkeypatch.setenv("PONDER_DB", str(db))
    path = tmp_path / "ponder.toml"
    path.write_text(STUCK_CONFIG)
    assert main(["--config", str(path), "chat", "-m", "stuck", "How many rows?"]) == 0
    err = capsys.readouterr().err
    assert "note: The model is repeating itself" in err
    assert re.search(r"note: No tokens for \d s — the model may be stuck", err)
    (trace,) = read(db, TraceQuery())
    assert "The model is repeating itself" in trace.notes
    assert any(n.startswith("No tokens for") for n in trace.notes)
