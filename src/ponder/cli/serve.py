"""``ponder serve``: the gateway on uvicorn (OpenAI Chat Completions and Responses, Anthropic
Messages).

Binds 127.0.0.1:8000 by default. Binding beyond loopback needs ``PONDER_API_KEY`` (the
bearer token clients then send); when set on loopback it is honoured too. On SIGTERM the
server stops accepting, lets in-flight requests finish for ``--drain-timeout`` seconds,
records the rest as interrupted, and flushes the trace store before exiting. Past
``--max-in-flight`` requests at once, new ones get 429 with ``Retry-After`` (load shedding).

The trace store is SQLite by default, or PostgreSQL by DSN (``--db postgresql://…`` or
``$PONDER_DB``); several gateways on one PostgreSQL share their traces. Migrations are
applied at start.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.store import TraceWriter

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the gateway (fast, deep and auto modes)",
        description="Serve /v1/chat/completions (OpenAI), /v1/messages (Anthropic: Claude"
        " Code), /v1/responses (OpenAI Responses: Codex CLI), /v1/models, /healthz, /metrics"
        " and the web UI's /api. Needs PONDER_API_KEY to bind beyond loopback;"
        " PONDER_SIGNING_KEY signs the reasoning handed to Messages and Responses clients"
        " (default: a key kept next to the trace store).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--config", default=argparse.SUPPRESS, help="path to ponder.toml")
    parser.add_argument(
        "--db",
        default=None,
        help="trace store: a SQLite path or postgresql://user@host/db"
        " (default $PONDER_DB, else ~/.local/share/ponder/traces.db)",
    )
    parser.add_argument("--no-store", action="store_true", help="keep no traces")
    parser.add_argument(
        "--db-pool-size",
        type=int,
        default=4,
        help="PostgreSQL connections for reads (history, /api/traces); writes use 2 (default 4)",
    )
    parser.add_argument(
        "--trace-queue",
        type=int,
        default=10_000,
        help="traces held in memory while the store lags, before they spill to the journal"
        " (default 10000)",
    )
    parser.add_argument(
        "--journal-dir",
        default=None,
        help="where traces wait while the store is down (default $PONDER_JOURNAL_DIR, else"
        " beside a SQLite file, else ~/.local/state/ponder/journal)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="seconds in-flight requests may finish after SIGTERM (default 10)",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=1024 * 1024, help="request body limit (1 MiB)"
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="requests served at once before new ones get 429 + Retry-After"
        " (default: server.max_in_flight in ponder.toml, else 256)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    parser.add_argument("--access-log", action="store_true", help="log every request line")
    parser.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    from ponder.server.gateway import API_KEY_ENV

    api_key = os.environ.get(API_KEY_ENV) or None
    if not is_loopback(args.host) and api_key is None:
        print(
            f"ponder: refusing to bind {args.host}: it is reachable beyond this machine and"
            f" {API_KEY_ENV} is not set. Set {API_KEY_ENV} to the bearer token clients must"
            " send, or bind 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    return _serve(args, api_key)


def _open_store(args: argparse.Namespace) -> TraceWriter:
    from ponder.errors import ConfigError
    from ponder.store import StoreUnavailable, TraceWriter, resolve_dsn

    dsn = resolve_dsn(args.db)
    try:
        return TraceWriter(
            dsn,
            queue_limit=args.trace_queue,
            journal_dir=args.journal_dir,
            pool_size=args.db_pool_size,
        )
    except (OSError, StoreUnavailable, TimeoutError) as exc:
        raise ConfigError(
            f"Cannot open the trace store: {exc}. Pass --db PATH, --db postgresql://…"
            " (check that the database is up and the DSN right), or --no-store."
        ) from None


def _max_in_flight(flag: int | None, server: Mapping[str, Any]) -> int:
    from ponder.errors import ConfigError
    from ponder.server.gateway import DEFAULT_MAX_IN_FLIGHT

    value = flag if flag is not None else server.get("max_in_flight", DEFAULT_MAX_IN_FLIGHT)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"max_in_flight must be a positive integer, not {value!r}.")
    return value


def _serve(args: argparse.Namespace, api_key: str | None) -> int:
    import uvicorn

    from ponder.config import load_config
    from ponder.server import ServerSettings, create_app
    from ponder.server.heap import settle_heap

    config = load_config(args.config)
    writer = None if args.no_store else _open_store(args)
    settings = ServerSettings(
        api_key=api_key,
        body_limit=args.max_body_bytes,
        drain_timeout_s=args.drain_timeout,
        max_in_flight=_max_in_flight(args.max_in_flight, config.server),
    )
    app = create_app(config, settings, writer=writer)
    gateway = app.state.gateway
    settle_heap()

    class Server(uvicorn.Server):  # type: ignore[misc]
        def handle_exit(self, sig: int, frame: Any) -> None:
            gateway.draining = True  # requests cut off from here on are "interrupted"
            super().handle_exit(sig, frame)

    uv_config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=args.drain_timeout,
        lifespan="on",
    )
    store = "off" if writer is None else writer.label
    auth = "bearer token required" if api_key else "no auth (loopback)"
    print(
        f"ponder: serving http://{args.host}:{args.port} (traces: {store}; {auth})",
        file=sys.stderr,
        flush=True,
    )
    try:
        Server(uv_config).run()
    finally:
        if writer is not None:
            writer.close()
    return 0
