"""What a pass-through lane could save: ponder against relays that skip its event spine.

Issue #18's CPU floor (ponder ≤ 1.15 × a bare pass-through proxy) is not met, and this is the
measurement behind the question whether a second streaming path beside the event spine
would meet it. In front of the same local upstream as ``gateway_overhead.py``, each its own
process, CPU per streamed request in interleaved rounds:

* ``ponder``: ``ponder serve`` as shipped;
* ``lane``: ``ponder serve`` with its chat door replaced by a prototype relay (not shipped):
  the request parsed and validated as ponder does, an exchange opened and its trace written,
  but the upstream's chunks relayed with one orjson decode and re-encode each — no engine,
  no policies, no meter, no reasoning fields, no tool calls;
* ``raw decode``: a bare ASGI app that decodes and re-encodes every chunk, nothing else;
* ``raw pass``: a bare ASGI app that forwards the bytes;
* ``proxy aiohttp``: the floor's proxy (``minimal_proxy.py``: Starlette, aiohttp client).

Prints each path's median CPU per request and the median of its per-round ratios to the
proxy. Run: ``python benchmarks/lane_prototype.py`` (about two minutes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gateway_overhead as go  # noqa: E402

HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


# -- the relays ------------------------------------------------------------------------------


def _frame(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    chunk = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The whole SSE events at the front of ``buffer`` (their data lines), and the rest."""
    events = []
    while (end := buffer.find(b"\n\n")) >= 0:
        events.append(buffer[:end])
        buffer = buffer[end + 2 :]
    return events, buffer


def raw_app(decode: bool, upstream: str) -> Any:
    """A bare ASGI relay to ``upstream``'s paced chat route."""
    import aiohttp

    state: dict[str, aiohttp.ClientSession] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["s"] = aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
                    )
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await state["s"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        model = orjson.loads(body)["model"]
        async with state["s"].post(upstream + "/paced/v1/chat/completions", data=body,
                                   headers={"content-type": "application/json"}) as response:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            buffer = b""
            async for chunk in response.content.iter_any():
                if not decode:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    continue
                events, buffer = _frames(buffer + chunk)
                out = []
                for event in events:
                    if event.startswith(b"data: {"):
                        choices = orjson.loads(event[6:]).get("choices")
                        if choices and choices[0]["delta"].get("content"):
                            delta = {"content": choices[0]["delta"]["content"]}
                            out.append(_frame("x", 0, model, delta, None))
                    elif event == b"data: [DONE]":
                        out.append(b"data: [DONE]\n\n")
                if out:
                    await send({"type": "http.response.body", "body": b"".join(out),
                                "more_body": True})  # fmt: skip
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def serve_lane(argv: list[str]) -> int:
    """``ponder`` with its chat door replaced by the prototype relay."""
    import ponder.server.app as app_module
    from ponder.cli import main as ponder_main
    from ponder.events import Finished, Started, Usage, now_ns
    from ponder.providers import streaming
    from ponder.server.door import read_body
    from ponder.server.exchange import Exchange
    from ponder.server.middleware import BODY_SEND
    from ponder.server.parse import parse_body, parse_chat

    async def lane(request: Any) -> Any:
        gateway = request.app.state.gateway
        body = parse_body(await read_body(request, gateway.settings.body_limit))
        chat = parse_chat(body, request.headers, request.state.request_id).chat
        gateway.config.model(chat.model)
        provider = gateway.engine.policies.upstream(chat.model).base
        upstream_body = provider.build_body(chat, True)
        headers, _secrets = provider.credentials()
        exchange = Exchange(chat, True)
        gateway.open_exchange(exchange)
        exchange.started = Started(chat.request_id, chat.model, "fast", "lane prototype")

        async def relay(scope: dict[str, Any], receive: Any, send: Any) -> None:
            chunks: AsyncIterator[bytes] = streaming.stream_bytes(
                provider.client, "POST", "/chat/completions", upstream_body, headers,
                lambda: None,
            )  # fmt: skip
            cid = "chatcmpl-" + chat.request_id.removeprefix("req_")
            created = int(exchange.created_at)
            opening = _frame(cid, created, chat.model, {"role": "assistant", "content": ""}, None)
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            send = scope["state"][BODY_SEND]
            await send({"type": "http.response.body", "body": opening, "more_body": True})
            buffer, finish = b"", "stop"
            async for chunk in chunks:
                events, buffer = _frames(buffer + chunk)
                out = []
                for event in events:
                    if not event.startswith(b"data: {"):
                        continue
                    data = orjson.loads(event[6:])
                    choices = data.get("choices")
                    if choices:
                        text = choices[0]["delta"].get("content")
                        if text:
                            exchange.answered(text, now_ns())
                            out.append(_frame(cid, created, chat.model, {"content": text}, None))
                        finish = choices[0].get("finish_reason") or finish
                    usage = data.get("usage")
                    if usage:
                        exchange.usage = Usage(
                            usage.get("prompt_tokens"), 0, usage.get("completion_tokens", 0)
                        )
                if out:
                    await send({"type": "http.response.body", "body": b"".join(out),
                                "more_body": True})  # fmt: skip
            exchange.terminal = Finished(finish)  # type: ignore[arg-type]
            last = _frame(cid, created, chat.model, {}, finish) + b"data: [DONE]\n\n"
            await send({"type": "http.response.body", "body": last, "more_body": False})
            gateway.close_exchange(exchange, "ok")

        return relay

    app_module.chat_completions = lane  # type: ignore[attr-defined]  # read by create_app
    return ponder_main(argv)


# -- the measurement -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=640, help="per path per round")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)
    up_port = go.free_port()
    up_root = f"http://127.0.0.1:{up_port}"
    env = {**os.environ, "PONDER_API_KEY": ""}
    me = str(Path(__file__).resolve())
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = str(go.ponder_config(directory, up_root))
        commands: list[tuple[str, list[str], bool]] = [
            ("ponder", [sys.executable, "-m", "ponder", "--config", config, "serve", "--db",
                        str(directory / "a.db"), "--port"], True),
            ("lane", [sys.executable, me, "--lane", "--config", config, "serve", "--db",
                      str(directory / "b.db"), "--port"], True),
            ("raw decode", [sys.executable, me, "--raw", "decode", up_root], False),
            ("raw pass", [sys.executable, me, "--raw", "pass", up_root], False),
            ("proxy aiohttp", [sys.executable, str(HERE / "minimal_proxy.py"), "aiohttp",
                               up_root], False),
        ]  # fmt: skip
        try:
            procs.append(subprocess.Popen([sys.executable, str(HERE / "gateway_overhead.py"),
                                           "--upstream", str(up_port), str(args.deltas), "5"]))
            go.wait_port(up_port)
            paths = []
            for name, command, by_model in commands:
                port = go.free_port()
                proc = subprocess.Popen([*command, str(port)], env=env, stdout=subprocess.DEVNULL)
                procs.append(proc)
                go.wait_port(port, 180, proc)
                path = go.path_for(name, f"http://127.0.0.1:{port}", by_model)
                path.pid = proc.pid
                paths.append(path)
            import uvloop

            uvloop.run(go.interleaved_cpu(paths, args.rounds, args.concurrency,
                                          args.requests * args.rounds, args.deltas, False))
            proxy = paths[-1]
            print(f"{args.deltas} deltas 5 ms apart, {args.concurrency} streams, {args.rounds}"
                  f" interleaved rounds of {args.requests} requests per path")
            print(f"{'path':<14} {'CPU ms/req':>11} {'× proxy':>8} {'errors':>6}")
            for path in paths:
                ratio = go.round_ratio(path, proxy)
                print(f"{path.name:<14} {statistics.median(path.cpu_rounds):>11.3f}"
                      f" {ratio:>8.2f} {path.errors:>6}")
            return 0
        finally:
            go.stop_processes(procs)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--lane":
        sys.exit(serve_lane(sys.argv[2:]))
    if len(sys.argv) == 5 and sys.argv[1] == "--raw":
        import uvicorn

        relay = raw_app(sys.argv[2] == "decode", sys.argv[3].rstrip("/"))
        uvicorn.run(relay, host="127.0.0.1", port=int(sys.argv[4]), log_level="warning",
                    access_log=False, lifespan="on")  # fmt: skip
    else:
        sys.exit(main())
