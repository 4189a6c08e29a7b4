"""Test harness for the gateway: a real ``ponder serve`` in a subprocess or a thread, a tiny
OpenAI-compatible upstream, and the test config.

Run as ``python -m tests.gateway_harness <ponder args>``: the ``ponder`` CLI with the
scripted test provider registered (so a subprocess server can use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
CANARY_ENV = "PONDER_TEST_CANARY_KEY"
CANARY_KEY = "sk-canary-7f3e9b1d2c4a5e6f8091"

SCRIPTED_MODELS = """
[router]
kind = "rules"  # these tests pin the rule router's reasons

[models.fast]
provider = "scripted"
thinking = { enabled = false }
script = [["answer", "Paris", 1], ["answer", " is the capital.", 1], ["finish", "stop"]]

[models.deep]
provider = "scripted"
script = [
  ["thinking", "The question asks for a product. ", 1],
  ["thinking", "Multiply 4821 by 37 and carry the digits. ", 1],
  ["thinking", "Check the result. ", 1],
  ["answer", "178377", 1],
  ["usage", [12, 20, 2]],
  ["finish", "stop"],
]

[models.slow]
provider = "scripted"
script = [
  ["thinking", "Step one. ", 20], ["thinking", "Step two. ", 100],
  ["thinking", "Step three. ", 100], ["thinking", "Step four. ", 100],
  ["thinking", "Step five. ", 100], ["answer", "done", 100],
  ["finish", "stop"],
]

[models.endless]
provider = "scripted"
script = [
  ["thinking", "Thinking. ", 10], ["thinking", "Still thinking. ", 60000], ["finish", "stop"],
]

[models.sleepy]
provider = "scripted"
script = [["thinking", "Never sent.", 60000], ["finish", "stop"]]

[models.midfail]
provider = "scripted"
script = [["answer", "partial", 1], ["fail", "upstream dropped the stream"]]

[models.down]
provider = "scripted"
script = [["raise", "service unavailable"]]

[models.crash]
provider = "scripted"
script = [["crash", "boom"]]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(directory: Path, extra: str = "") -> Path:
    path = directory / "ponder.toml"
    path.write_text(SCRIPTED_MODELS + extra, encoding="utf-8")
    return path


def wait_ready(
    base_url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{base_url} did not become ready")


@dataclass
class Served:
    base_url: str
    db: Path | str
    log: Path
    proc: subprocess.Popen[bytes]

    def terminate(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def finished_trace(base_url: str, request_id: str, timeout_s: float = 10) -> dict[str, Any]:
    """The gateway's trace of one finished request. The writer commits traces off the stream
    path, in batches, so this polls until the trace is there and no longer running."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(f"{base_url}/api/traces/{request_id}", timeout=5)
        if response.status_code == 200:
            data: dict[str, Any] = response.json()
            if data.get("status") != "running":
                return data
        if time.monotonic() > deadline:
            raise AssertionError(f"no trace for {request_id}: {response.status_code}")
        time.sleep(0.05)


@contextlib.contextmanager
def serve_subprocess(
    config: Path,
    db: Path | str,
    *args: str,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    log: Path | None = None,
) -> Iterator[Served]:
    """``db`` is a SQLite path (the log goes beside it) or a DSN (then pass ``log``)."""
    port = free_port()
    log = log or Path(db).with_suffix(".log")
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    command = [
        *(sys.executable, "-m", "tests.gateway_harness", "--config", str(config), "serve"),
        *("--host", host, "--port", str(port), "--db", str(db), "--log-level", "info", *args),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    served = Served(f"http://127.0.0.1:{port}", db, log, proc)
    try:
        wait_ready(served.base_url, proc=proc)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class ThreadServer:
    """An ASGI app on uvicorn in a background thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=5)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("thread server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(15)

    def tasks(self) -> int:
        """How many tasks are alive on the server's loop right now."""
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(_count_tasks(), self.loop)
        return future.result(5)


async def _count_tasks() -> int:
    return len(asyncio.all_tasks()) - 1  # not this one


# -- a tiny OpenAI-compatible upstream -------------------------------------------------------


@dataclass
class UpstreamLog:
    auth_headers: list[str] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)


def upstream_app(log: UpstreamLog) -> Starlette:
    """``model`` picks the behaviour: ``echo-key`` answers 401 quoting the key it got (as some
    providers do), ``hang`` streams one thought then waits forever, anything else streams a
    short reasoning + answer."""

    async def completions(request: Request) -> Response:
        body = json.loads(await request.body())
        auth = request.headers.get("authorization", "")
        log.auth_headers.append(auth)
        model = body.get("model")
        if model == "echo-key":
            message = f"Incorrect API key provided: {auth.removeprefix('Bearer ')}."
            return JSONResponse({"error": {"message": message, "type": "auth"}}, status_code=401)

        async def frames() -> AsyncIterator[bytes]:
            def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
                obj = {"id": "up", "object": "chat.completion.chunk", "model": model}
                obj["choices"] = [choice]
                return b"data: " + json.dumps(obj).encode() + b"\n\n"

            try:
                yield chunk({"role": "assistant", "reasoning_content": "Thinking it over. "})
                if model == "hang":
                    await asyncio.sleep(3600)
                yield chunk({"reasoning_content": "Done. "})
                yield chunk({"content": "ok"})
                yield chunk({}, "stop")
                yield b"data: [DONE]\n\n"
            finally:
                log.closed.set()

        return StreamingResponse(frames(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def upstream_config(base_url: str) -> str:
    return f"""
[models.remote]
provider = "openai"
base_url = "{base_url}/v1"
model = "stream-ok"
api_key_env = "{CANARY_ENV}"

[models.leaky]
provider = "openai"
base_url = "{base_url}/v1"
model = "echo-key"
api_key_env = "{CANARY_ENV}"

[models.hang]
provider = "openai"
base_url = "{base_url}/v1"
model = "hang"
api_key_env = "{CANARY_ENV}"
"""


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    import tests.fakes  # noqa: F401  (registers the scripted provider)
    from ponder.cli import main

    sys.exit(main(sys.argv[1:]))
