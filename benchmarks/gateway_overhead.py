"""What a gateway adds, in one run: ponder, a minimal pass-through proxy (httpx and aiohttp
clients) and LiteLLM's proxy when installed, all in front of the same local upstream.

The upstream is a minimal OpenAI-compatible SSE server (raw asyncio, its own process) that
streams ``--deltas`` answer deltas ``--interval-ms`` apart, as a model would: every delta is
its own read and write for a gateway (back to back, a client like aiohttp would coalesce
them into one read and the per-chunk cost would vanish from the figures). ``/burst`` paths
stream them back to back, for a look at that case (``--burst``). Every gateway runs as its
own process as deployed (ponder: ``ponder serve`` with the ``openai`` provider, trace store
on). The load comes from one client process (ponder's bench client,
:mod:`ponder.bench.speed.targets`).

Reported per path, in one run (so ratios hold on a noisy machine):

* added TTFT p50/p99 over direct: one stream at a time, paths interleaved request by request
  so load drift hits all alike, in an order that rotates every round;
* gateway CPU per streamed request and per chunk, from the gateway's own counters
  (``/proc/<pid>/stat`` utime + stime over its process tree, before and after), with
  ``--concurrency`` streams in flight, in ``--rounds`` rounds with the paths interleaved
  (the order rotating), reported as medians; a ratio floor is the median of the rounds'
  ratios, each between two paths measured minutes apart at most;
* req/s at ``--concurrency`` concurrent streams (that same phase).

Floors (issue #18): ponder's CPU per request ≤ 1.15 × the best minimal proxy's; ponder's
added TTFT ≤ the best minimal proxy's + 0.3 ms; LiteLLM's CPU per request ≥ 5 × ponder's.
(The best minimal proxy is the one with the least CPU per request.)

Run: ``python benchmarks/gateway_overhead.py`` (about two minutes; ``--quick`` for a smoke
run; ``--litellm PATH`` names the ``litellm`` executable, e.g. from a venv of its own:
``pip install 'litellm[proxy]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ponder.bench.speed.profiles import Step
from ponder.bench.speed.runner import Limits, run_step
from ponder.bench.speed.targets import EndpointTarget
from ponder.meter import percentile

HERE = Path(__file__).resolve().parent
LITELLM_KEY = "sk-bench-" + os.urandom(8).hex()  # the proxy refuses to start without one

# -- the upstream ---------------------------------------------------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deltas: int,
                  interval_s: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            interval = 0.0 if path.startswith(b"/burst") else interval_s
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
            )
            prefix = b'data: {"id":"up","object":"chat.completion.chunk","created":0,"model":"b",'
            for i in range(deltas):
                if interval:
                    await asyncio.sleep(interval)
                role = b'"role":"assistant",' if i == 0 else b""
                frame = prefix + b'"choices":[{"index":0,"delta":{' + role
                frame += b'"content":"tok%d "},"finish_reason":null}]}\n\n' % i
                writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                await writer.drain()
            tail = prefix + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            usage = b'"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":%d}}' % deltas
            tail += prefix + usage + b"\n\n"
            tail += b"data: [DONE]\n\n"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def run_upstream(port: int, deltas: int, interval_ms: float) -> None:
    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, deltas, interval_ms / 1000), "127.0.0.1", port, backlog=4096
        )
        async with server:
            await server.serve_forever()

    import uvloop

    uvloop.run(main())


# -- process bookkeeping --------------------------------------------------------------------


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """Ask every process to stop, then kill those that did not within ``timeout`` seconds."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 90,
              proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port} after {timeout:g} s")


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds: utime + stime) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu_s(root: int) -> float:
    """CPU seconds of a process and every live descendant (threads are in their process)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            got = _stat(int(entry))
            if got is not None:
                parents[int(entry)], cpu[int(entry)] = got
    total, frontier = 0.0, {root}
    while frontier:
        total += sum(cpu.get(p, 0.0) for p in frontier)
        frontier = {p for p, parent in parents.items() if parent in frontier}
    return total


@dataclass
class Path_:
    """One way to the upstream: its URL and model for each phase, and what it measured."""

    name: str
    paced_model: str
    burst_model: str
    paced_root: str
    burst_root: str
    pid: int | None = None
    api_key: str | None = None
    ttft_ms: list[float] = field(default_factory=list)
    cpu_ms_per_request: float | None = None  # the median of cpu_rounds
    cpu_us_per_chunk: float | None = None
    req_per_s: float | None = None
    errors: int = 0
    cpu_rounds: list[float] = field(default_factory=list)  # CPU ms/request, one per round
    rate_rounds: list[float] = field(default_factory=list)


# -- phases ---------------------------------------------------------------------------------


async def sequential_ttft(paths: Sequence[Path_], n: int) -> None:
    """One stream at a time, paths interleaved, so drift on a shared machine hits all alike."""
    targets = [EndpointTarget(p.paced_root, p.paced_model, p.api_key) for p in paths]
    for target in targets:  # open the connections (and any lazy imports) before timing
        for _ in range(3):
            await target.send("go")
    pairs = list(zip(paths, targets, strict=True))
    for i in range(n):
        # Each round starts one path further on: a path measured right after another one
        # (the direct path above all) was measured a few tenths of a millisecond apart from
        # its own figure elsewhere in the order, so no path keeps one place.
        for path, target in pairs[i % len(pairs):] + pairs[: i % len(pairs)]:
            outcome = await target.send("go")
            if outcome.error is None and outcome.metrics.ttft_ms is not None:
                path.ttft_ms.append(outcome.metrics.ttft_ms)
            else:
                path.errors += 1
    for target in targets:
        await target.aclose()


async def saturate(path: Path_, concurrency: int, requests: int, deltas: int,
                   burst: bool) -> None:
    root, model = (path.burst_root, path.burst_model) if burst else (path.paced_root,
                                                                     path.paced_model)
    target = EndpointTarget(root, model, path.api_key)
    warm = Limits(duration_s=None, max_requests=concurrency, warmup_s=0)
    await run_step(target, Step("concurrent", concurrency), 0, ["go"], warm)
    limits = Limits(duration_s=None, max_requests=requests, warmup_s=0)
    before = tree_cpu_s(path.pid) if path.pid else None
    started = time.perf_counter()
    run = await run_step(target, Step("concurrent", concurrency), 1, ["go"], limits)
    elapsed = time.perf_counter() - started
    after = tree_cpu_s(path.pid) if path.pid else None
    await target.aclose()
    ok = [r for r in run.records if r.outcome.error is None]
    path.errors += len(run.records) - len(ok)
    path.rate_rounds.append(len(ok) / elapsed)
    path.req_per_s = statistics.median(path.rate_rounds)
    if before is not None and after is not None and ok:
        path.cpu_rounds.append((after - before) * 1000 / len(ok))
        path.cpu_ms_per_request = statistics.median(path.cpu_rounds)
        path.cpu_us_per_chunk = path.cpu_ms_per_request * 1000 / deltas


async def interleaved_cpu(paths: Sequence[Path_], rounds: int, concurrency: int, requests: int,
                          deltas: int, burst: bool) -> None:
    """The CPU phase in rounds, each path once a round, the order rotating: the machine's
    load drifts over minutes, and a ratio of two paths is fair only if both met the same."""
    measured = list(paths)
    per_round = max(concurrency, requests // rounds)
    for i in range(rounds):
        for path in measured[i % len(measured):] + measured[: i % len(measured)]:
            await saturate(path, concurrency, per_round, deltas, burst)


def round_ratio(a: Path_, b: Path_) -> float:
    """Median over the rounds of a's CPU per request over b's in the same round."""
    pairs = zip(a.cpu_rounds, b.cpu_rounds, strict=False)
    return statistics.median(x / y for x, y in pairs if y)


# -- orchestration ----------------------------------------------------------------------------


def find_litellm(given: str | None) -> str | None:
    if given:
        return given
    return shutil.which("litellm")


def path_for(name: str, root: str, by_model: bool) -> Path_:
    """A gateway that routes by model name (ponder, LiteLLM: models ``paced`` and ``burst``)
    or one that forwards the URL path (the minimal proxy, and the upstream itself)."""
    if by_model:
        return Path_(name, "paced", "burst", f"{root}/v1", f"{root}/v1")
    return Path_(name, "bench", "bench", f"{root}/paced/v1", f"{root}/burst/v1")


def litellm_config(directory: Path, up_root: str) -> Path:
    config = directory / "litellm.yaml"
    lines = ["model_list:"]
    for name in ("paced", "burst"):
        lines += [f"  - model_name: {name}", "    litellm_params:",
                  "      model: openai/bench", f"      api_base: {up_root}/{name}/v1",
                  "      api_key: sk-unused"]
    lines += ["litellm_settings:", "  telemetry: false", "  drop_params: true"]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def ponder_config(directory: Path, up_root: str) -> Path:
    config = directory / "ponder.toml"
    text = ""
    for name in ("paced", "burst"):
        text += (f'[models.{name}]\nprovider = "openai"\nbase_url = "{up_root}/{name}/v1"\n'
                 'model = "bench"\nthinking = { enabled = false }\n\n')
    config.write_text(text, encoding="utf-8")
    return config


def summary(paths: Sequence[Path_], deltas: int, concurrency: int) -> list[str]:
    direct = paths[0]
    d50, d99 = percentile(direct.ttft_ms, 50), percentile(direct.ttft_ms, 99)
    header = (f"{'path':<16} {'TTFT p50':>9} {'added p50':>10} {'added p99':>10}"
              f" {'CPU ms/req':>11} {'CPU µs/chunk':>13} {'req/s @' + str(concurrency):>10}"
              f" {'errors':>6}")
    rows = [header, "-" * len(header)]
    for p in paths:
        p50, p99 = percentile(p.ttft_ms, 50), percentile(p.ttft_ms, 99)
        added50 = f"{p50 - d50:+.3f}" if p is not direct and p50 is not None and d50 else "—"
        added99 = f"{p99 - d99:+.3f}" if p is not direct and p99 is not None and d99 else "—"
        cpu = "—" if p.cpu_ms_per_request is None else f"{p.cpu_ms_per_request:.2f}"
        chunk = "—" if p.cpu_us_per_chunk is None else f"{p.cpu_us_per_chunk:.0f}"
        rate = "—" if p.req_per_s is None else f"{p.req_per_s:.0f}"
        rows.append(f"{p.name:<16} {p50 or float('nan'):>9.3f} {added50:>10} {added99:>10}"
                    f" {cpu:>11} {chunk:>13} {rate:>10} {p.errors:>6}")
    rounds = max((len(p.cpu_rounds) for p in paths), default=0)
    rows.append(f"(TTFT in ms, one stream at a time, {len(direct.ttft_ms)} per path; CPU: the"
                f" gateway's own process tree per request of {deltas} deltas, and req/s: the"
                f" medians of {rounds} interleaved rounds)")
    return rows


def floors(paths: Sequence[Path_]) -> tuple[list[str], bool]:
    by = {p.name: p for p in paths}
    direct, ponder = by["direct"], by["ponder"]
    proxies = [p for p in paths if p.name.startswith("proxy") and p.cpu_ms_per_request]
    lines: list[str] = []
    ok = True
    if not proxies or ponder.cpu_ms_per_request is None:
        return ["floors: not checked (a CPU figure is missing)"], False
    best = min(proxies, key=lambda p: p.cpu_ms_per_request or 0.0)
    ratio = round_ratio(ponder, best)
    passed = ratio <= 1.15
    ok &= passed
    lines.append(f"floor: ponder CPU/request = {ratio:.2f} × {best.name}'s (<= 1.15; the median"
                 f" of {len(ponder.cpu_rounds)} rounds' ratios): {'PASS' if passed else 'FAIL'}")
    d50 = percentile(direct.ttft_ms, 50) or 0.0
    added_ponder = (percentile(ponder.ttft_ms, 50) or 0.0) - d50
    added_best = (percentile(best.ttft_ms, 50) or 0.0) - d50
    passed = added_ponder <= added_best + 0.3
    ok &= passed
    lines.append(f"floor: ponder added TTFT p50 {added_ponder:.3f} ms <= {best.name}'s"
                 f" {added_best:.3f} ms + 0.3 ms: {'PASS' if passed else 'FAIL'}")
    litellm = by.get("litellm")
    if litellm is not None and litellm.cpu_ms_per_request:
        times = round_ratio(litellm, ponder)
        passed = times >= 5
        ok &= passed
        lines.append(f"floor: LiteLLM CPU/request = {times:.1f} × ponder's (>= 5):"
                     f" {'PASS' if passed else 'FAIL'}")
    else:
        lines.append("floor: LiteLLM not measured (not installed: pip install 'litellm[proxy]',"
                     " or --litellm PATH)")
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=32, help="deltas per stream")
    parser.add_argument("--interval-ms", type=float, default=5.0, help="gap between deltas")
    parser.add_argument("--requests", type=int, default=200, help="sequential streams per path")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--saturation-requests", type=int, default=1280,
                        help="requests per path in the CPU and req/s phase (all rounds)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="CPU-phase rounds, the paths interleaved (figures: medians)")
    parser.add_argument("--litellm", default=None, help="the litellm executable")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--clients", default="httpx,aiohttp",
                        help="minimal proxy clients to measure (default httpx,aiohttp)")
    parser.add_argument("--burst", action="store_true",
                        help="CPU phase with the deltas back to back (default: paced)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.saturation_requests, args.concurrency = 20, 128, 16

    up_port = free_port()
    up_root = f"http://127.0.0.1:{up_port}"
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PONDER_API_KEY": ""}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        try:
            procs.append(subprocess.Popen([sys.executable, str(Path(__file__).resolve()),
                                           "--upstream", str(up_port), str(args.deltas),
                                           str(args.interval_ms)]))
            paths = [path_for("direct", up_root, by_model=False)]
            # (name, command without its port, environment, routes by model name?)
            starters: list[tuple[str, list[str], dict[str, str], bool]] = []
            serve = [sys.executable, "-m", "ponder", "--config",
                     str(ponder_config(directory, up_root)), "serve", "--db",
                     str(directory / "traces.db"), "--port"]
            starters.append(("ponder", serve, env, True))
            for client in (c.strip() for c in args.clients.split(",") if c.strip()):
                command = [sys.executable, str(HERE / "minimal_proxy.py"), client, up_root]
                starters.append((f"proxy {client}", command, env, False))
            litellm = None if args.no_litellm else find_litellm(args.litellm)
            if litellm is not None:
                command = [litellm, "--config", str(litellm_config(directory, up_root)),
                           "--host", "127.0.0.1", "--num_workers", "1", "--port"]
                quiet = {**env, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                         "LITELLM_TELEMETRY": "False", "LITELLM_MASTER_KEY": LITELLM_KEY}
                starters.append(("litellm", command, quiet, True))
            ports: list[int] = []
            for _name, command, environment, _make in starters:
                port = free_port()
                ports.append(port)
                procs.append(subprocess.Popen([*command, str(port)], env=environment,
                                              stdout=subprocess.DEVNULL))
            wait_port(up_port)
            for (name, _command, _env, by_model), port, proc in zip(starters, ports, procs[1:],
                                                                     strict=True):
                wait_port(port, 180, proc)
                path = path_for(name, f"http://127.0.0.1:{port}", by_model)
                path.pid = proc.pid
                if path.name == "litellm":
                    path.api_key = LITELLM_KEY
                paths.append(path)
            cpu_phase = "back to back" if args.burst else f"{args.interval_ms:g} ms apart"
            print(f"upstream: {args.deltas} deltas, {args.interval_ms:g} ms apart (TTFT phase),"
                  f" {cpu_phase} (CPU phase); {os.cpu_count()} CPUs, shared (figures are"
                  f" noisy; compare ratios within this run); python {sys.version.split()[0]}")
            import uvloop

            uvloop.run(sequential_ttft(paths, args.requests))
            uvloop.run(interleaved_cpu(paths, args.rounds, args.concurrency,
                                       args.saturation_requests, args.deltas, args.burst))
            for line in summary(paths, args.deltas, args.concurrency):
                print(line)
            lines, ok = floors(paths)
            for line in lines:
                print(line)
            return 0 if ok or args.quick else 1
        finally:
            stop_processes(procs)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--upstream":
        run_upstream(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(main())
