"""``ponder models``: every configured model and whether it can be used right now."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ponder.config import ModelConfig


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list models and whether each is usable (key present, server reachable)",
        description="List the models from ponder.toml (plus the built-in fast, deep and auto)"
        " and check each: its API key is set, its server answers.",
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per check")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from ponder.config import load_config
    from ponder.errors import PonderError
    from ponder.providers.base import Availability
    from ponder.registry import create_provider

    config = load_config(args.config)

    async def check(name: str) -> Availability:
        try:
            provider = create_provider(config.model(name))
        except PonderError as exc:
            return Availability(False, exc.message)
        try:
            return await asyncio.wait_for(provider.check(), args.timeout)
        except TimeoutError:
            return Availability(False, f"no answer within {args.timeout:g} s")
        except PonderError as exc:
            return Availability(False, exc.message)
        finally:
            await provider.aclose()

    names = sorted(config.models)
    results = await asyncio.gather(*(check(n) for n in names))
    rows = [("MODEL", "PROVIDER", "UPSTREAM", "THINKING", "PRICE $/Mtok in/out", "STATUS")]
    for name, status in zip(names, results, strict=True):
        model = config.models[name]
        thinking = "on" if model.thinking.enabled else "off"
        if model.thinking.budget:
            thinking += f" (budget {model.thinking.budget})"
        mark = "ok" if status.usable else "unusable"
        rows.append(
            (
                name,
                model.provider,
                model.model or "-",
                thinking,
                describe_price(model),
                f"{mark}: {status.detail}",
            )
        )
    auto = ("auto", "router", "fast|deep", "per request", "as routed")
    rows.append((*auto, "ok: routes to fast or deep"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
    return 0 if all(r.usable for r in results) else 1


def describe_price(model: ModelConfig) -> str:
    """``0.60/2.50`` (thoughts ``r …`` when priced apart), ``free``, or ``unknown``."""
    from ponder.pricing import price_for

    price = price_for(model)
    if price is None:
        return "unknown (no price)"
    if price.free:
        return "free (runs here)" if model.price is None else "free"
    text = f"{price.input:g}/{price.output:g}"
    if price.cached_input is not None:
        text += f" cached {price.cached_input:g}"
    if price.reasoning is not None:
        text += f" thinking {price.reasoning:g}"
    cap = model.daily_cap_usd
    return text + (f" · cap ${cap:g}/day" if cap is not None else "")
