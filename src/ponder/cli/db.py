"""``ponder db migrate``: apply the trace store's pending migrations (SQLite or PostgreSQL).

``ponder serve`` applies them at start too; this is for a deploy step that migrates once,
before the gateways roll, and for checking which migrations a database has.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "db",
        help="manage the trace store (migrations)",
        description="Manage the trace store: SQLite by path, PostgreSQL by postgresql:// DSN.",
    )
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION")
    migrate = commands.add_parser(
        "migrate",
        help="apply pending migrations and say which",
        description="Apply every pending migration (each once, in order, in its own"
        " transaction). Safe to run while gateways are up and from several hosts at once.",
    )
    migrate.add_argument(
        "--db", default=None, help="SQLite path or postgresql:// DSN (default: as ponder serve)"
    )
    migrate.set_defaults(func=run_migrate)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_migrate(args: argparse.Namespace) -> int:
    from ponder.errors import ConfigError
    from ponder.store import StoreUnavailable, make_store, migrate_store, resolve_dsn

    dsn = resolve_dsn(args.db)
    label = make_store(dsn).label
    try:
        applied = migrate_store(dsn)
    except StoreUnavailable as exc:
        message = f"Cannot migrate the trace store: {exc}. Check --db or $PONDER_DB."
        raise ConfigError(message) from None
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print(f"{label}: up to date")
    return 0
