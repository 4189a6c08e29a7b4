"""``ponder traces``: list, filter and export the gateway's trace store."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime
from typing import Any

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "traces",
        help="list or export recorded requests (route, timings, tokens, errors)",
        description="List the gateway's traces, newest first, or export them as JSONL.",
    )
    parser.add_argument("--db", default=None, help="trace store (default: as ponder serve)")
    parser.add_argument("--model", help="only this answering model")
    parser.add_argument("--mode", choices=("fast", "deep"), help="only this mode")
    parser.add_argument("--status", choices=("ok", "error", "client_disconnected", "interrupted"))
    parser.add_argument("--since", help="only newer: 30m, 2h, 7d or an ISO date/time")
    parser.add_argument("-q", "--text", help="only traces whose prompt or answer contains this")
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


def run(args: argparse.Namespace) -> int:
    from ponder.store import TraceQuery, default_db_path, read

    path = args.db or default_db_path()
    query = TraceQuery(
        model=args.model,
        mode=args.mode,
        status=args.status,
        since=parse_since(args.since) if args.since else None,
        text=args.text,
        limit=args.limit or None,
    )
    records = read(path, query)
    out = sys.stdout
    if args.jsonl:
        for record in records:
            out.write(json.dumps(record.to_dict()) + "\n")
        return 0
    rows = [
        ("TIME", "REQUEST", "MODEL", "MODE", "STATUS", "TTFA ms", "E2E ms", "THINK/ANS", "REASON")
    ]
    for r in records:
        tokens = f"{r.thinking_tokens or 0}/{r.answer_tokens or 0}" + (
            "~" if r.tokens_estimated else ""
        )
        rows.append(
            (
                datetime.fromtimestamp(r.created_at).strftime("%m-%d %H:%M:%S"),
                r.request_id,
                r.model or r.requested_model,
                r.mode or "-",
                r.status,
                _ms(r.ttfa_ms),
                _ms(r.e2e_ms),
                tokens,
                (r.route_reason or r.error_message or "")[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
    if not records:
        out.write(f"(no traces in {path})\n")
    return 0
