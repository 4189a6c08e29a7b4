"""``ponder chat``: stream one prompt through the engine to the terminal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from ponder.request import ChatRequest, ThinkingSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="send one prompt and stream thoughts, progress, answer and metrics",
        description="Send PROMPT (or stdin) to a model and stream the reply. Thoughts are shown"
        " dimmed under a ticking 'Thinking…' line, then the answer, then one metrics line.",
    )
    parser.add_argument("prompt", nargs="?", help="the prompt; read from stdin when omitted")
    parser.add_argument(
        "--model", "-m", default="auto", help="fast, deep, auto or a model from ponder.toml"
    )
    parser.add_argument(
        "--hide-thoughts",
        action="store_true",
        help='collapse the thoughts to one line: "Thought for 7.2 s · ~512 tokens"'
        " (a live estimate; the metrics line has the exact counts)",
    )
    parser.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    parser.add_argument("--budget", type=int, help="cap thought tokens (thinking budget)")
    parser.add_argument("--temperature", type=float, help="sampling temperature")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        print("ponder chat: give a prompt as an argument or on stdin.", file=sys.stderr)
        return 2
    if args.budget is not None and args.budget <= 0:
        print("ponder chat: --budget must be a positive number of tokens.", file=sys.stderr)
        return 2
    request = ChatRequest.from_prompt(
        prompt.strip(),
        model=args.model,
        thinking=ThinkingSettings(budget=args.budget),
        temperature=args.temperature,
    )
    return asyncio.run(_chat(args, request))


async def _chat(args: argparse.Namespace, request: ChatRequest) -> int:
    from ponder.config import load_config
    from ponder.engine import Engine
    from ponder.events import Failed, to_dict
    from ponder.meter import Meter
    from ponder.render import ChatRenderer

    engine = Engine(load_config(args.config))
    try:
        engine.provider(request.model)  # unknown model: fail before printing anything
        meter = Meter()
        failure: Failed | None = None
        out = sys.stdout
        if args.json:
            async for event in engine.stream(request):
                out.write(json.dumps(to_dict(event), ensure_ascii=False) + "\n")
                out.flush()
                if isinstance(event, Failed):
                    failure = event
                    print(f"ponder: {event.message}", file=sys.stderr)
            return 1 if failure else 0
        renderer = ChatRenderer(out, ansi=out.isatty(), hide_thoughts=args.hide_thoughts)
        ticker = asyncio.create_task(_tick(renderer)) if renderer.ansi else None
        try:
            async for event in engine.stream(request):
                meter.feed(event)
                renderer.handle(event)
                if isinstance(event, Failed):
                    failure = event
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
        renderer.finish(meter.metrics(), failure)
        return 1 if failure else 0
    finally:
        await engine.aclose()


async def _tick(renderer: Any) -> None:
    while True:
        await asyncio.sleep(0.1)
        renderer.tick()
