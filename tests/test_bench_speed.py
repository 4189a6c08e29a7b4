"""``ponder bench speed``: its math on synthetic requests, its parsers, its files and its CLI.

Timings are never asserted; synthetic requests carry exact numbers, and runs against the
stub are checked for what the stub's schedule fixes (token counts, order, no errors)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ponder.bench.speed.profiles import ProfileError, Step, fixed_steps, sweep_rates
from ponder.bench.speed.report import render_report
from ponder.bench.speed.run import SpeedSettings, run_speed_async
from ponder.bench.speed.runner import Limits, RequestRecord, run_step
from ponder.bench.speed.stats import SLOError, knee, meets, parse_slo, summarise, tpot_ms
from ponder.bench.speed.targets import EndpointTarget, Outcome
from ponder.bench.speed.wire import ChunkedBody, SSEData, WireError
from ponder.cli import main
from ponder.meter import Metrics
from ponder.stub.schedule import Schedule
from ponder.stub.server import StubServer, StubSettings


def metrics(ttft: float, ttfa: float | None, e2e: float, thinking: int = 10,
            answer: int = 5) -> Metrics:
    return Metrics(ttft_ms=ttft, ttfa_ms=ttfa, thinking_ms=(ttfa or e2e) - ttft, e2e_ms=e2e,
                   input_tokens=3, thinking_tokens=thinking, answer_tokens=answer,
                   tokens_estimated=False, decode_tps=None, effective_tps=None, itl_p50_ms=None,
                   itl_p95_ms=None, itl_p99_ms=4.0, finish_reason="stop")


def record(i: int, started: float, m: Metrics, warm: bool = False,
           error: str | None = None, gaps: tuple[float, ...] = ()) -> RequestRecord:
    return RequestRecord(0, "s", i, started, warm, Outcome(m, error, gaps))


def test_step_figures_from_synthetic_requests() -> None:
    records = [
        record(0, 0.0, metrics(100, 300, 1000), warm=True),  # left out
        record(1, 1.0, metrics(100, 300, 1000), gaps=(1.0, 3.0)),
        record(2, 1.5, metrics(200, 500, 1500), gaps=(2.0,)),
        record(3, 2.0, metrics(300, 700, 2000)),
        record(4, 2.5, metrics(50, None, 500), error="HTTP 500: boom"),
    ]
    row = summarise(0, "s", "concurrent", 4, records, {"ttfa": 600})
    # window: measured starts span 1.0 → 2.5 s, plus one mean gap (0.5 s) = 2.0 s
    assert row.window_s == pytest.approx(2.0)
    assert (row.requests, row.errors) == (4, 1)
    assert row.req_per_s == pytest.approx(3 / 2.0)
    assert row.thinking_tok_per_s == pytest.approx(30 / 2.0)
    assert row.answer_tok_per_s == pytest.approx(15 / 2.0)
    assert row.output_tok_per_s == pytest.approx(45 / 2.0)
    assert row.goodput_req_per_s == pytest.approx(2 / 2.0)  # TTFA 700 > 600, and the error
    assert row.goodput_share == pytest.approx(2 / 4)
    assert row.mean_in_flight == pytest.approx((1.0 + 1.5 + 2.0 + 0.5) / 2.0)
    assert row.q("ttfa", 50) == 500 and row.q("ttft", 90) == pytest.approx(280)
    assert row.q("itl", 50) == 2.0  # over every gap of every request
    assert row.q("thinking", 50) == 300
    assert row.q("tpot", 50) == pytest.approx((1500 - 200) / 14)


def test_tpot_is_decode_time_per_token_after_the_first() -> None:
    assert tpot_ms(metrics(100, 200, 1500, thinking=10, answer=5)) == pytest.approx(100)
    assert tpot_ms(metrics(100, 200, 150, thinking=0, answer=1)) is None


def test_a_request_meets_an_slo_only_when_it_succeeded_and_every_bound_holds() -> None:
    good = record(1, 0, metrics(100, 300, 1000))
    assert meets(good, {"ttfa": 300, "e2e": 1000, "itl": 4})
    assert not meets(good, {"ttfa": 299})
    assert not meets(record(1, 0, metrics(100, None, 1000)), {"ttfa": 5000})  # never answered
    assert not meets(record(1, 0, metrics(100, 300, 1000), error="x"), {})


def test_slo_parsing() -> None:
    assert parse_slo("ttfa=2000, e2e_ms=30000") == {"ttfa": 2000.0, "e2e": 30000.0}
    for bad, says in (("ttfa", "METRIC=MS"), ("speed=3", "METRIC=MS"), ("ttfa=fast", "not a"),
                      ("ttfa=0", "> 0"), ("", "empty")):
        with pytest.raises(SLOError, match=says):
            parse_slo(bad)


def test_one_request_steps_use_its_e2e_as_the_window() -> None:
    row = summarise(0, "s", "synchronous", 1, [record(1, 0.3, metrics(100, 300, 500))], {})
    assert row.window_s == pytest.approx(0.5) and row.req_per_s == pytest.approx(2.0)


def test_knee_is_the_step_with_the_most_goodput() -> None:
    rows = [summarise(i, f"s{i}", "constant", i, [record(1, 0.0, metrics(1, 2, e2e))], {})
            for i, e2e in enumerate((1000, 250, 500))]
    best = knee(rows)
    assert best is not None and best.name == "s1"


def test_profiles_and_sweep_rates() -> None:
    assert fixed_steps("concurrent", (1, 8), (), 256) == [Step("concurrent", 1),
                                                          Step("concurrent", 8)]
    assert [s.name for s in fixed_steps("sweep", (), (), 64)] == ["synchronous", "throughput 64"]
    assert fixed_steps("poisson", (), (2.5,), 9)[0].name == "poisson 2.5/s"
    with pytest.raises(ProfileError, match="--concurrency"):
        fixed_steps("concurrent", (), (), 256)
    with pytest.raises(ProfileError, match="--rate"):
        fixed_steps("constant", (), (), 256)
    assert [s.value for s in sweep_rates(10, 50, 3)] == [20, 30, 40]
    assert all(s.kind == "constant" for s in sweep_rates(10, 50, 3))


@pytest.mark.parametrize("cut", range(1, 40))
def test_chunked_body_whatever_the_boundaries(cut: int) -> None:
    wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"
    body = ChunkedBody()
    out = body.feed(wire[:cut]) + body.feed(wire[cut:])
    assert out == b"hello, world" and body.done


def test_chunked_body_refuses_a_bad_size_line() -> None:
    with pytest.raises(WireError, match="chunk size"):
        ChunkedBody().feed(b"zz\r\n")


@pytest.mark.parametrize("cut", range(1, 30))
def test_sse_data_whatever_the_boundaries(cut: int) -> None:
    wire = b": keep-alive\n\ndata: {\"a\":1}\r\n\r\ndata: x\ndata: y\n\ndata: [DONE]"
    sse = SSEData()
    events = sse.feed(wire[:cut]) + sse.feed(wire[cut:]) + sse.close()
    assert events == ['{"a":1}', "x\ny", "[DONE]"]


SCHEDULE = Schedule(ttft_ms=2, thought_tokens=5, answer_tokens=3, itl_ms=0.5)


@pytest.fixture()
async def stub() -> AsyncIterator[StubServer]:
    server = StubServer(StubSettings(SCHEDULE))
    await server.start()
    yield server
    await server.aclose()


async def test_the_lean_client_meters_the_stub(stub: StubServer) -> None:
    target = EndpointTarget(stub.base_url, "m")
    outcomes = [await target.send("hello") for _ in range(3)]  # keep-alive reuse included
    await target.aclose()
    for outcome in outcomes:
        m = outcome.metrics
        assert outcome.error is None
        assert (m.thinking_tokens, m.answer_tokens, m.tokens_estimated) == (5, 3, False)
        assert m.finish_reason == "stop"
        assert m.ttft_ms is not None and m.ttfa_ms is not None and m.e2e_ms is not None
        assert m.ttft_ms <= m.ttfa_ms <= m.e2e_ms
        assert len(outcome.itl_ms) == 7
    assert stub.requests == 3


async def test_the_lean_client_reports_the_servers_error(stub: StubServer) -> None:
    target = EndpointTarget(stub.base_url, "m", extra_body={"stub": {"itl": 1}})
    outcome = await target.send("hello")
    await target.aclose()
    assert outcome.error is not None and outcome.error.startswith("HTTP 400: Invalid 'stub'")
    assert outcome.metrics.finish_reason == "error"


async def test_the_lean_client_says_when_nothing_listens() -> None:
    outcome = await EndpointTarget("http://127.0.0.1:9/v1", "m").send("x")
    assert outcome.error is not None and "ConnectionRefusedError" in outcome.error


def test_endpoint_needs_an_http_url() -> None:
    with pytest.raises(ValueError, match="http://host:port/v1"):
        EndpointTarget("localhost:8000", "m")


async def test_a_capped_step_runs_its_requests_and_marks_warmup(stub: StubServer) -> None:
    target = EndpointTarget(stub.base_url, "m")
    run = await run_step(target, Step("concurrent", 3), 0, ["a", "b"],
                         Limits(duration_s=None, max_requests=7, warmup_s=0))
    await target.aclose()
    assert len(run.records) == 7 and not any(r.warmup for r in run.records)
    assert [r.index for r in run.records] == list(range(7))


async def test_a_run_writes_jsonl_csv_and_a_self_contained_report(
    stub: StubServer, tmp_path: Path
) -> None:
    settings = SpeedSettings(profile="sweep", sweep_rates=2, out=tmp_path,
                             limits=Limits(duration_s=None, max_requests=4, max_concurrency=4),
                             slo={"ttfa": 60_000})
    result = await run_speed_async(EndpointTarget(stub.base_url, "m"), settings, ["p"])
    names = [r.name for r in result.rows]
    assert names[:2] == ["synchronous", "throughput 4"] and len(names) == 4
    assert all(n.startswith("constant ") for n in names[2:])
    lines = [json.loads(x) for x in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len(lines) == 16 and all(x["ok"] for x in lines)
    assert {(x["thinking_tokens"], x["answer_tokens"]) for x in lines} == {(5, 3)}
    assert all(x["tpot_ms"] is not None and x["ttfa_ms"] >= x["ttft_ms"] for x in lines)
    rows = list(csv.DictReader((tmp_path / "steps.csv").open()))
    assert [r["name"] for r in rows] == names
    assert all(r["goodput_share"] == "1.0000" for r in rows)
    assert float(rows[0]["thinking_tok_per_s"]) > 0 and rows[0]["ttfa_p99_ms"]
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 3
    for title in ("TTFT and TTFA vs load", "Throughput and goodput", "thinking vs answer",
                  "TPOT = (E2E − TTFT) / (output tokens − 1)", "knee: "):
        assert title in html
    assert not re.search(r"(src|href)\s*=", html)
    assert json.loads((tmp_path / "run.json").read_text())["profile"] == "sweep"
    assert "TTFA p50" in result.text and "goodput/s" in result.text


def test_report_of_a_run_with_no_requests_still_renders() -> None:
    html = render_report([], {}, {"profile": "synchronous"})
    assert html.count("<svg") == 3 and "Knee" not in html


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--profile", "sweep", "--concurrency", "4"], "--concurrency applies to --profile"),
     (["--profile", "concurrent", "--rate", "2"], "--rate applies"),
     (["--duration", "0"], "--duration 0 needs --max-requests"),
     (["--prompt-tokens", "9", "--suite", "arith"], "choose one prompt source"),
     (["--api-key-env", "X"], "need --base-url"),
     (["--base-url", "http://h/v1", "--extra-body", "[1]"], "--extra-body must be a JSON object"),
     (["--base-url", "nope"], "http://host:port/v1")],
)  # fmt: skip
def test_cli_errors(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "speed", "--model", "m", *args]) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(("args", "says"), [(["--slo", "ttfa"], "METRIC=MS"),
                                            (["--rate", "0"], "numbers > 0"),
                                            (["--profile", "burst"], "invalid choice")])
def test_cli_argument_errors(args: list[str], says: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "speed", "--model", "m", *args])
    assert exit_info.value.code == 2
    assert says in capsys.readouterr().err


def test_cli_names_the_known_models_for_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "speed", "--model", "nope"]) == 1
    assert "Known models" in capsys.readouterr().err


def test_cli_reads_prompts_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": 3}\n')
    code = main(["bench", "speed", "--model", "fast", "--prompts", str(tmp_path / "p.jsonl")])
    assert code == 1 and 'needs a "prompt" string' in capsys.readouterr().err


@pytest.fixture(scope="module")
def stub_process() -> Iterator[str]:
    """``ponder stub`` as a user runs it: its own process, any free port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ponder", "stub", "--port", "0", "--ttft-ms", "1",
         "--thought-tokens", "3", "--answer-tokens", "2", "--itl-ms", "0.2"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    assert match, line
    yield match.group(1)
    proc.terminate()
    proc.wait(10)


@pytest.mark.parametrize("through", ["base-url", "config"])
def test_cli_run_against_the_stub(stub_process: str, through: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    if through == "base-url":
        where = ["--model", "m", "--base-url", stub_process]
    else:
        config = tmp_path / "ponder.toml"
        config.write_text(f'[models.stub]\nprovider = "openai"\nbase_url = "{stub_process}"\n'
                          "thinking = { enabled = true }\n")
        where = ["--config", str(config), "--model", "stub"]
    out = tmp_path / "run"
    lead, rest = (where[:2], where[2:]) if through == "config" else ([], where)
    args = [*lead, "bench", "speed", *rest, "--profile", "concurrent",
            "--concurrency", "1,2", "--duration", "0", "--max-requests", "3", "--warmup", "0",
            "--no-progress", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "concurrent 1" in printed and "concurrent 2" in printed and "TPOT =" in printed
    lines = [json.loads(x) for x in (out / "requests.jsonl").read_text().splitlines()]
    assert len(lines) == 6
    assert {(x["thinking_tokens"], x["answer_tokens"], x["ok"]) for x in lines} == {(3, 2, True)}


def test_progress_line_names_the_step_and_counts_requests() -> None:
    import io

    from ponder.bench.speed.progress import SpeedProgress

    by_requests = SpeedProgress(total=10, steps=2, by_time=False, stream=io.StringIO())
    by_requests.begin_step(1, "concurrent 8")
    for ok in (True, True, False):
        by_requests.request(ok)
    line = by_requests.line()
    assert "step 2/2 concurrent 8" in line and "3 requests, 1 errors" in line
    assert "ETA" in line and "[#######" in line  # 3 of 10 done
    by_time = SpeedProgress(total=90, steps=3, by_time=True, stream=io.StringIO())
    by_time.begin_step(0, "synchronous")
    by_time.end_step(90)  # the whole plan spent
    assert "ETA 0:00" in by_time.line()


async def test_the_lean_client_splits_inline_think_tags() -> None:
    """A server that writes its thoughts inline (Qwen3/R1 via llama.cpp or Ollama's /v1)."""
    import asyncio

    frames = [{"content": "<thi"}, {"content": "nk>two plus two"}, {"content": "</think>"},
              {"content": "4"}]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        body = b"".join(b"data: %s\n\n" % json.dumps(
            {"choices": [{"index": 0, "delta": d, "finish_reason": None}]}).encode()
            for d in frames)
        body += b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        body += b"data: [DONE]\n\n"
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    outcome = await EndpointTarget(f"http://127.0.0.1:{port}/v1", "m").send("2+2?")
    server.close()
    m = outcome.metrics
    assert outcome.error is None
    assert m.thinking_tokens > 0 and m.answer_tokens == 1 and m.tokens_estimated
    assert m.ttfa_ms is not None and m.ttft_ms is not None and m.ttfa_ms >= m.ttft_ms
