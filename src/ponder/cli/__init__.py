"""The ``ponder`` command: thin sub-commands over the library.

Each sub-command lives in its own module here and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` (returning an exit code). Modules keep heavy imports
inside their functions so ``ponder --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ponder import __version__
from ponder.errors import PonderError

COMMANDS = ("chat", "models", "serve", "traces", "db", "bench", "router", "stub")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ponder",
        description="A reasoning-aware LLM gateway, chat UI and benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"ponder {__version__}")
    parser.add_argument(
        "--config",
        default=None,
        help="path to ponder.toml (default: $PONDER_CONFIG, else ./ponder.toml, else built-in"
        " fast/deep on the embedded model)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"ponder.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ponder.cli.{name}":
                continue  # that command is not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except PonderError as exc:
        print(f"ponder: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `ponder ... | head` closed the pipe: not an error. Point stdout at devnull so the
        # interpreter's final flush does not print a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
