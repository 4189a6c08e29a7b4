"""``ponder chat`` in a real pseudo-terminal (the ``pty`` module): what a person at a terminal
sees, reconstructed from the bytes the command wrote, and what a shell captures.

The upstream is the scripted provider (``tests/fakes.py``) with delays, so the status line
ticks between thought chunks and a progress label arrives in the middle of a thought line.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = "import sys, tests.fakes; from ponder.cli import main; sys.exit(main(sys.argv[1:]))"
THOUGHT_LINES = ["The question asks for a product.", "Multiply the digits.", "Carry the one."]
CONFIG = """
[models.deep]
provider = "scripted"
script = [["thinking", "The question asks", 250], ["thinking", " for a prod", 250],
          ["thinking", "uct.\\nMultiply the", 250], ["thinking", " digits.\\nCarry the one", 250],
          ["thinking", ".\\n", 250], ["answer", "97", 50], ["answer", "16", 50],
          ["usage", [12, 40, 2]], ["finish", "stop"]]

[models.fast]
provider = "scripted"
thinking = { enabled = false }
script = [["answer", "9716", 20], ["finish", "stop"]]
"""
STATUS = re.compile(r"Thinking… \d+\.\d s · ~\d+ tokens est\.")
SGR = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Screen:
    """A minimal terminal: whole lines as committed, and every state of the cursor's line
    at the moments it was cleared or ended (where a status line would have been seen)."""

    lines: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, raw: str) -> Screen:
        screen, line = cls(), ""
        text = SGR.sub("", raw.replace("\r\n", "\n"))
        for piece in re.split(r"(\r\x1b\[2K|\n)", text):
            if piece == "\r\x1b[2K":
                screen.seen.append(line)
                line = ""
            elif piece == "\n":
                screen.seen.append(line)
                screen.lines.append(line)
                line = ""
            else:
                line += piece
        if line:
            screen.seen.append(line)
            screen.lines.append(line)
        return screen


@dataclass
class Run:
    code: int
    terminal: str  # everything written to the pseudo-terminal
    stdout: str  # stdout, when it was a pipe


def run_chat(tmp_path: Path, *args: str, stdout_is_terminal: bool = True) -> Run:
    config = tmp_path / "ponder.toml"
    config.write_text(CONFIG)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = dict(os.environ, PONDER_DB=str(tmp_path / "traces.db"), TERM="xterm")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env.pop("COLUMNS", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "--config", str(config), "chat", *args],
        stdin=slave,
        stdout=slave if stdout_is_terminal else subprocess.PIPE,
        stderr=slave,
        cwd=ROOT,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout is not None else ""
    code = proc.wait(timeout=30)
    return Run(code, b"".join(chunks).decode(), out)


def test_the_status_line_is_redrawn_alone_and_thoughts_arrive_as_whole_lines(
    tmp_path: Path,
) -> None:
    run = run_chat(tmp_path, "-m", "deep", "What is 347 × 28?")
    assert run.code == 0, run.terminal
    screen = Screen.of(run.terminal)
    # the status line ticked, and every time it was on screen it was alone on its line
    statuses = [s for s in screen.seen if "Thinking…" in s]
    assert len(set(statuses)) >= 3, statuses
    assert all(STATUS.fullmatch(s) for s in statuses), statuses
    assert not any("Thinking…" in line for line in screen.lines)  # never left behind
    # the thoughts are whole lines: a progress label never cut one in two
    thoughts = [line for line in screen.lines if line in THOUGHT_LINES]
    assert thoughts == THOUGHT_LINES, screen.lines
    progress = [line for line in screen.lines if line.startswith("→ ")]
    assert progress and progress[0] == "→ Reading the question"
    body = [line for line in screen.lines if line in THOUGHT_LINES or line.startswith("→ ")]
    assert len(body) == len(THOUGHT_LINES) + len(progress)  # no fragment of a thought anywhere
    assert not any(
        fragment in line
        for line in screen.lines
        for fragment in ("The question asks", "Multiply the", "Carry the")
        if line not in THOUGHT_LINES
    )
    assert "9716" in screen.lines


def test_the_first_line_names_the_mode_asked_for_and_the_route(tmp_path: Path) -> None:
    auto = Screen.of(run_chat(tmp_path, "What is 347 × 28?").terminal)
    assert auto.lines[0].startswith("auto → deep · "), auto.lines  # and why
    picked = Screen.of(run_chat(tmp_path, "-m", "fast", "What is 347 × 28?").terminal)
    assert picked.lines[0] == "fast", picked.lines


def test_the_live_count_is_marked_as_an_estimate_and_the_final_count_is_the_providers(
    tmp_path: Path,
) -> None:
    screen = Screen.of(run_chat(tmp_path, "-m", "deep", "q").terminal)
    statuses = [s for s in screen.seen if "Thinking…" in s]
    assert statuses and all(s.endswith("tokens est.") for s in statuses)
    (summary,) = [line for line in screen.lines if line.startswith("Thought ")]
    assert re.fullmatch(r"Thought for \d+\.\d s", summary), summary  # no second count
    metrics = screen.lines[-1]
    assert "40 thought / 2 answer tokens" in metrics and "estimated" not in metrics


def test_with_stdout_captured_only_the_answer_is_captured(tmp_path: Path) -> None:
    run = run_chat(tmp_path, "-m", "deep", "q", stdout_is_terminal=False)
    assert run.code == 0 and run.stdout == "9716\n"
    screen = Screen.of(run.terminal)
    assert not re.search(r"(?<![\d.])9716(?![\d.])", run.terminal)  # not a rate's digits
    assert screen.lines[0] == "deep" and "Carry the one." in screen.lines
    assert screen.lines[-1].startswith("TTFT ")


@pytest.mark.parametrize("flags", [["--answer-only"], ["--answer-only", "--hide-thoughts"]])
def test_answer_only_prints_nothing_but_the_answer(tmp_path: Path, flags: list[str]) -> None:
    run = run_chat(tmp_path, "-m", "deep", *flags, "q")
    assert run.code == 0 and run.terminal.replace("\r\n", "\n") == "9716\n"


def test_hide_thoughts_shows_no_thought_and_no_progress_line(tmp_path: Path) -> None:
    screen = Screen.of(run_chat(tmp_path, "-m", "deep", "--hide-thoughts", "q").terminal)
    assert not any(line in THOUGHT_LINES or line.startswith("→") for line in screen.lines)
    assert any(line.startswith("Thought for") for line in screen.lines)
    assert all(STATUS.fullmatch(s) for s in screen.seen if "Thinking…" in s)


def test_no_prompt_on_a_terminal_says_how_to_give_one(tmp_path: Path) -> None:
    run = run_chat(tmp_path, "-m", "deep")
    assert run.code == 2
    text = run.terminal.replace("\r\n", "\n")
    assert 'ponder chat "What is 4821 * 37?"' in text and "stdin" in text


def test_ctrl_c_is_recorded_as_stopped_by_the_person(tmp_path: Path) -> None:
    import signal

    from ponder.store import TraceQuery, read

    config = tmp_path / "ponder.toml"
    config.write_text(CONFIG)
    master, slave = pty.openpty()
    env = dict(os.environ, PONDER_DB=str(tmp_path / "traces.db"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "--config", str(config), "chat", "-m", "deep", "q"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
        env=env,
    )
    os.close(slave)
    seen = b""
    while b"Multiply" not in seen:  # mid-thought
        seen += os.read(master, 4096)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    os.close(master)
    (trace,) = read(tmp_path / "traces.db", TraceQuery())
    assert trace.status == "client_disconnected" and trace.finish_reason == "cancelled"
    assert trace.thinking.startswith("The question asks") and trace.answer == ""
