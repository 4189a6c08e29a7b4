"""``ponder stub``: serve an OpenAI-compatible thinking model with a known schedule."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be a whole number >= 0")
    return number


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stub",
        help="a stub thinking model with a known schedule (OpenAI-compatible, for testing)",
        description="Serve POST /v1/chat/completions as a thinking model that sends its"
        " reasoning (in reasoning_content) and then its answer on a known schedule: the first"
        " token TTFT ms after the request, then one token every ITL ms. Point a client, ponder"
        " (provider = \"openai\", base_url = the printed URL) or `ponder bench speed` at it."
        " A request may override its own schedule with a `stub` object in the body, e.g."
        ' {"stub": {"ttft_ms": 50, "thought_tokens": 0}}.',
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port (default 8100; 0: any)")
    parser.add_argument("--model", default="ponder-stub", help="model id it reports")
    parser.add_argument("--ttft-ms", type=_non_negative, default=400.0,
                        help="request read -> first token (default 400)")
    parser.add_argument("--thought-tokens", type=_count, default=64,
                        help="reasoning tokens before the answer (default 64)")
    parser.add_argument("--answer-tokens", type=_count, default=32,
                        help="answer tokens (default 32)")
    parser.add_argument("--itl-ms", type=_non_negative, default=20.0,
                        help="gap between two tokens (default 20)")
    parser.add_argument("--jitter-ms", type=_non_negative, default=0.0,
                        help="each token moves by a uniform draw in +-this (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="jitter seed (default 0)")
    parser.add_argument("--reasoning-field", choices=("reasoning_content", "reasoning"),
                        default="reasoning_content",
                        help="the delta field thoughts go in (default reasoning_content)")
    parser.add_argument("--api-key-env", default=None, metavar="VAR",
                        help="require `Authorization: Bearer $VAR` (default: no key)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from ponder.stub.schedule import Schedule, ScheduleError
    from ponder.stub.server import StubSettings, run_stub

    try:
        schedule = Schedule(args.ttft_ms, args.thought_tokens, args.answer_tokens, args.itl_ms,
                            args.jitter_ms, args.seed)
    except ScheduleError as exc:
        print(f"ponder stub: {exc.message}", file=sys.stderr)
        return 2
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"ponder stub: --api-key-env {args.api_key_env} names an unset or empty"
                  " variable; set it to the key clients must send.", file=sys.stderr)
            return 2
    settings = StubSettings(schedule, args.model, args.reasoning_field, api_key)
    try:
        run_stub(settings, args.host, args.port)
    except OSError as exc:
        print(f"ponder stub: cannot listen on {args.host}:{args.port}: {exc.strerror}."
              " Pick another --port (0: any free port).", file=sys.stderr)
        return 1
    return 0
