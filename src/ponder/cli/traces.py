"""``ponder traces``: list, filter and export the gateway's trace store."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.store import TraceRecord

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
MIN_PROMPT = 24  # characters of the prompt a listing always shows
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "traces",
        help="list or export recorded requests (route, timings, tokens, errors)",
        description="List the traces of the gateway's and ponder chat's requests, newest first"
        " (the prompt cut to the terminal's width, OK ✓/✗ when a verifier knows the prompt),"
        " or export them as JSONL.",
    )
    parser.add_argument(
        "--db", default=None, help="SQLite path or postgresql:// DSN (default: as ponder serve)"
    )
    parser.add_argument("--model", help="only this answering model")
    parser.add_argument("--mode", choices=("fast", "deep"), help="only this mode")
    parser.add_argument("--status", choices=("ok", "error", "client_disconnected", "interrupted"))
    parser.add_argument("--since", help="only newer: 30m, 2h, 7d or an ISO date/time")
    parser.add_argument("-q", "--text", help="only traces whose prompt or answer contains this")
    parser.add_argument(
        "--min-cost", type=float, default=None, metavar="USD", help="only traces costing this much"
    )
    parser.add_argument("--by-cost", action="store_true", help="dearest first (unpriced last)")
    parser.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def parse_since(value: str, now: float | None = None) -> float:
    """``30m``/``2h``/``7d`` ago, or an ISO 8601 date/time (local time if naive)."""
    match = _SPAN.match(value.strip())
    if match:
        return (now or time.time()) - float(match.group(1)) * _SECONDS[match.group(2)]
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        from ponder.errors import InvalidRequestError

        raise InvalidRequestError(
            f"--since {value!r}: use a span like 30m, 2h, 7d or an ISO date like 2026-01-31."
        ) from None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


# How each trace ended, in the words the web UI's history uses.
_ENDS = {"client_disconnected": "stopped", "interrupted": "interrupted", "error": "error"}


def end_label(r: TraceRecord) -> str:
    if r.status != "ok":
        return _ENDS.get(r.status, r.status)
    return {"stop": "finished", "thinking_length": "budget"}.get(
        r.finish_reason or "", r.finish_reason or "finished"
    )


def verdict_mark(r: TraceRecord) -> str:
    """✓ or ✗ when a verifier knows the prompt and the model answered it; else blank."""
    if r.status != "ok" or r.finish_reason == "declined" or not r.answer.strip():
        return ""
    from ponder.server.verify import verify

    verdict = verify(r.prompt, r.answer)
    if not verdict.verifiable:
        return ""
    return "✓" if verdict.ok else "✗"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    from ponder.errors import ConfigError
    from ponder.store import StoreUnavailable, TraceQuery, make_store, read_traces, resolve_dsn

    path = resolve_dsn(args.db)
    query = TraceQuery(
        model=args.model,
        mode=args.mode,
        status=args.status,
        since=parse_since(args.since) if args.since else None,
        text=args.text,
        min_cost_usd=args.min_cost,
        sort="cost" if args.by_cost else "created",
        limit=args.limit or None,
    )
    from ponder.pricing import format_usd

    try:
        records = read_traces(path, query)
    except StoreUnavailable as exc:
        message = f"Cannot read the trace store: {exc}. Check --db or $PONDER_DB."
        raise ConfigError(message) from None
    out = sys.stdout
    if args.jsonl:
        for record in records:
            out.write(json.dumps(record.to_dict()) + "\n")
        return 0
    rows: list[tuple[str, ...]] = [
        ("TIME", "REQUEST", "MODEL", "MODE", "END", "TTFA ms", "E2E ms", "THINK/ANS", "COST",
         "OK")
    ]
    prompts = ["PROMPT"]
    for r in records:
        tokens = f"{r.thinking_tokens or 0}/{r.answer_tokens or 0}" + (
            "~" if r.tokens_estimated else ""
        )
        routed = r.model or r.requested_model
        if r.requested_model != routed:
            routed = f"{r.requested_model}→{routed}"
        rows.append(
            (
                datetime.fromtimestamp(r.created_at).strftime("%m-%d %H:%M:%S"),
                r.request_id,
                routed,
                r.mode or "-",
                end_label(r),
                _ms(r.ttfa_ms),
                _ms(r.e2e_ms),
                tokens,
                format_usd(r.cost_usd) + ("~" if r.cost_estimated and r.cost_usd else ""),
                verdict_mark(r),
            )
        )
        prompts.append(" ".join(r.prompt.split()))
    columns = shutil.get_terminal_size((120, 24)).columns
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    room = columns - sum(widths) - 2 * len(widths) - 1
    if room < MIN_PROMPT:  # a narrow terminal: the request id gives way to the prompt
        rows = [row[:1] + row[2:] for row in rows]
        room += widths.pop(1) + 2
    for row, prompt in zip(rows, prompts, strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        out.write("  ".join([*cells, _cut(prompt, max(room, MIN_PROMPT))]).rstrip() + "\n")
    if not records:
        out.write(f"(no traces in {make_store(path).label})\n")
    return 0
