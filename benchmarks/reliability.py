"""The reliability table: each upstream fault, through the real gateway, and what the client saw.

The fault upstream is ``tests/faults.py`` (a raw-asyncio HTTP server playing one fault per
path); the gateway is ``create_app`` on uvicorn with a trace store, configured by
``tests.faults.fault_config`` — the same setup the fault suite (``tests/test_faults.py``)
asserts on. Each fault is requested ``--repeat`` times, streaming; the table gives what the
client received, which model answered, the trace's status and the traces lost (requests
with a response but no trace in the store). Prints a Markdown table.

Run: ``python benchmarks/reliability.py`` (about 30 s).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.faults import FaultServer, fault_config  # noqa: E402
from tests.gateway_harness import ThreadServer  # noqa: E402

from ponder.config import load_config  # noqa: E402
from ponder.server import ServerSettings, create_app  # noqa: E402
from ponder.store import TraceQuery, TraceRecord, TraceWriter, read  # noqa: E402

ROWS = [  # (model in fault_config, the fault, the policy that meets it)
    ("refused", "connection refused", "2 attempts, fallback"),
    ("refused_alone", "connection refused", "2 attempts, no fallback"),
    ("reset", "TCP reset in the middle of the thoughts", "3 attempts, fallback"),
    ("silent", "no bytes before the first token", "2 attempts, ttft_ms 300, fallback"),
    ("stall", "stall mid-stream (after a thought)", "3 attempts, idle_ms 300, fallback"),
    ("ratelimited", "429 with Retry-After: 1 (once)", "2 attempts"),
    ("http500", "HTTP 500", "2 attempts, fallback"),
    ("http502", "HTTP 502", "2 attempts, fallback"),
    ("http503", "HTTP 503", "2 attempts, fallback"),
    ("http529", "HTTP 529 (overloaded)", "2 attempts, fallback"),
    ("http529_alone", "HTTP 529 (overloaded)", "2 attempts, no fallback"),
    ("malformed", "malformed SSE line (after a thought)", "2 attempts, fallback"),
    ("utf8", "UTF-8 split across two chunks + an invalid byte", "defaults"),
    ("huge", "one 10 MB chunk", "defaults"),
    ("endless_alone", "thoughts that never end", "3 attempts, ttfa_ms 400, no fallback"),
    ("endless", "thoughts that never end", "3 attempts, ttfa_ms 400, fallback"),
    ("dribble", "one byte per second", "no retry, total_ms 2500, fallback"),
]


def request(base_url: str, model: str) -> tuple[str, str, str]:
    """(what the client saw, the model named by started, request id)."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    thoughts = answer = 0
    error = served = ""
    with httpx.stream("POST", base_url + "/v1/chat/completions", json=body, timeout=60) as r:
        request_id = r.headers["x-ponder-request-id"]
        if r.status_code != 200:
            r.read()
            return f"HTTP {r.status_code} {r.json()['error']['code']}", "-", request_id
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            obj = json.loads(line[6:])
            if "error" in obj:
                error = obj["error"]["code"]
            extra = obj.get("ponder", {})
            if extra.get("event") == "started":
                served = extra["model"]
            elif extra.get("event") == "progress" and extra.get("index") == -1:
                served = f"{served} → {extra['label'].rsplit('→ ', 1)[-1]} (switched)"
            for choice in obj.get("choices", []):
                delta = choice.get("delta", {})
                thoughts += len(delta.get("reasoning_content") or "")
                answer += len(delta.get("content") or "")
    parts = []
    if thoughts:
        parts.append("thoughts")
    if answer:
        parts.append(f"answer ({answer:,} chars)" if answer > 1000 else "answer")
    parts.append(f"error `{error}`" if error else "done")
    return ", then ".join(parts), served, request_id


def _status(record: TraceRecord) -> str:
    return record.status + (f" `{record.error_code}`" if record.error_code else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, FaultServer() as faults:
        path = Path(tmp) / "ponder.toml"
        path.write_text(fault_config(faults), encoding="utf-8")
        db = Path(tmp) / "traces.db"
        writer = TraceWriter(db)
        app = create_app(load_config(path), ServerSettings(), writer=writer)
        results = []
        with ThreadServer(app) as server:
            for model, fault, policy in ROWS:
                seen: Counter[tuple[str, str]] = Counter()
                ids = []
                for _ in range(args.repeat):
                    saw, served, request_id = request(server.base_url, model)
                    seen[(saw, served)] += 1
                    ids.append(request_id)
                results.append((model, fault, policy, seen, ids))
            time.sleep(0.3)
        writer.close()
        head = f"| fault | policy | client saw ({args.repeat} requests) | served by | trace |"
        print(head + " traces lost |")
        print("|---|---|---|---|---|---|")
        for _model, fault, policy, seen, ids in results:
            records = [read(db, TraceQuery(request_id=i)) for i in ids]
            lost = sum(1 for r in records if not r)
            statuses = Counter(_status(r[0]) for r in records if r)
            saw = "; ".join(f"{text}" + (f" (x{n})" if n != args.repeat else "")
                            for (text, _), n in seen.items())  # fmt: skip
            served = ", ".join(sorted({s for _, s in seen}))
            trace = ", ".join(f"{s}" for s in statuses)
            print(f"| {fault} | {policy} | {saw} | {served} | {trace} | {lost} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
