"""``ponder chat``: stream one prompt through the engine to the terminal.

The answer alone goes to stdout; the route, thoughts, progress, status line and metrics go
to stderr (see :mod:`ponder.render`). Each request is recorded in the trace store, as the
gateway records its requests, unless ``--no-store``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from ponder.request import ChatRequest, ThinkingSettings

EXAMPLE = 'ponder chat "What is 4821 * 37?"'


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="send one prompt and stream thoughts, progress, answer and metrics",
        description="Send PROMPT (or stdin) to a model and stream the reply. The answer alone"
        " goes to stdout; the route, the thoughts (dimmed, under a ticking 'Thinking…' line),"
        " progress and one metrics line go to stderr, so A=$(ponder chat …) captures the"
        f' answer. Examples: {EXAMPLE}; echo "347*28" | ponder chat -m deep.',
    )
    parser.add_argument("prompt", nargs="?", help="the prompt; read from stdin when omitted")
    parser.add_argument(
        "--model", "-m", default="auto", help="fast, deep, auto or a model from ponder.toml"
    )
    parser.add_argument(
        "--hide-thoughts",
        action="store_true",
        help='hide the thoughts and progress lines: one line "Thought for 7.2 s" instead',
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show the progress lines even with --hide-thoughts",
    )
    parser.add_argument(
        "--answer-only",
        action="store_true",
        help="print nothing but the answer (errors still go to stderr)",
    )
    parser.add_argument("--json", action="store_true", help="print the event stream as JSON lines")
    parser.add_argument("--budget", type=int, help="cap thought tokens (thinking budget)")
    parser.add_argument("--temperature", type=float, help="sampling temperature")
    parser.add_argument(
        "--db",
        default=None,
        help="trace store: a SQLite path or postgresql:// DSN (default $PONDER_DB, else"
        " ~/.local/share/ponder/traces.db)",
    )
    parser.add_argument("--no-store", action="store_true", help="do not record this request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.prompt is None and sys.stdin.isatty():
        print(
            f"ponder chat: no prompt. Give one as an argument ({EXAMPLE})"
            ' or on stdin (echo "347*28" | ponder chat).',
            file=sys.stderr,
        )
        return 2
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
    from ponder.events import Failed, Notice, to_dict
    from ponder.meter import Meter
    from ponder.render import ChatRenderer
    from ponder.wait_watch import StreamWatch, stall_after_ms, stall_floor_ms

    config = load_config(args.config)
    engine = Engine(config)
    recorder = None if args.no_store else _Recorder(request, args, config)
    try:
        engine.provider(request.model)  # unknown model: fail before printing anything
        meter = Meter()
        failure: Failed | None = None
        out, err = sys.stdout, sys.stderr
        if args.json:
            async for event in engine.stream(request):
                if recorder is not None:
                    recorder.feed(event)
                out.write(json.dumps(to_dict(event), ensure_ascii=False) + "\n")
                out.flush()
                if isinstance(event, Failed):
                    failure = event
                    print(f"ponder: {event.message}", file=err)
            return 1 if failure else 0
        renderer = ChatRenderer(
            out,
            None if args.answer_only else err,
            ansi=err.isatty(),
            hide_thoughts=args.hide_thoughts,
            show_progress=True if args.progress else None,
            requested=request.model,
            width=_width(err),
        )
        ticker = asyncio.create_task(_tick(renderer)) if renderer.ansi else None
        watch = StreamWatch(stall_after_ms(None, stall_floor_ms(config)))

        def notify(text: str | None) -> None:  # a stall or a loop: shown and recorded
            if text is not None:
                notice = Notice(text)
                renderer.handle(notice)
                if recorder is not None:
                    recorder.feed(notice)

        watcher = asyncio.create_task(_watch(watch, notify))
        try:
            async for event in engine.stream(request):
                meter.feed(event)
                if recorder is not None:
                    recorder.feed(event)
                renderer.handle(event)
                notify(watch.feed(event))
                if isinstance(event, Failed):
                    failure = event
        finally:
            for task in (ticker, watcher):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        renderer.finish(meter.metrics(), failure)
        if failure is not None and args.answer_only:
            print(f"ponder: {failure.message}", file=err)
        return 1 if failure else 0
    finally:
        if recorder is not None:
            await recorder.close(quiet=args.answer_only)
        await engine.aclose()


class _Recorder:
    """Records the request in the trace store, as the gateway does, however it ends."""

    def __init__(self, request: ChatRequest, args: argparse.Namespace, config: Any) -> None:
        from ponder.server.exchange import Exchange
        from ponder.server.gateway import collect_secrets
        from ponder.store import resolve_dsn

        self.dsn = resolve_dsn(args.db)  # a SQLite path or a postgresql:// DSN
        self.exchange = Exchange(request, stream=True)
        self.secrets = collect_secrets(config, None)

    def feed(self, event: Any) -> None:
        from ponder.events import Started

        if isinstance(event, Started):  # the gateway's doors take it from the first event
            self.exchange.started = event
        else:
            self.exchange.observe(event)

    async def close(self, *, quiet: bool) -> None:
        from ponder.store import StoreUnavailable, make_store

        x = self.exchange
        # No terminal event: the person pressed Ctrl-C (the gateway's client going away).
        status = x.status() if x.terminal is not None else "client_disconnected"
        store = make_store(self.dsn, pool_size=1)
        try:
            await store.open()
            await store.write([x.record(status, self.secrets)])
        except (OSError, StoreUnavailable) as exc:
            if not quiet:
                print(
                    f"ponder chat: could not record the request in {store.label!r}: {exc}"
                    " (pass --db PATH or a postgresql:// DSN, or --no-store).",
                    file=sys.stderr,
                )
        finally:
            await store.close()


def _width(stream: Any) -> int | None:
    """The terminal's width when ``stream`` is one (stdout may be a pipe while stderr is not)."""
    import os

    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else None
    except (OSError, ValueError, AttributeError):
        return None


async def _watch(watch: Any, notify: Any) -> None:
    """Look for a stall a few times a second, while the stream waits for its next event."""
    while True:
        await asyncio.sleep(0.1)
        notify(watch.check())


async def _tick(renderer: Any) -> None:
    while True:
        await asyncio.sleep(0.1)
        renderer.tick()
