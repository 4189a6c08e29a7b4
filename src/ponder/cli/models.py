"""``ponder models``: every configured model, whether it can be used right now, and its
reliability policies (retries, timeouts, fallbacks, breaker — defaults included); with
``--gateway URL``, each breaker's state in that running gateway."""

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
    parser.add_argument(
        "--gateway",
        default=None,
        metavar="URL",
        help="a running gateway (e.g. http://127.0.0.1:8000) whose breaker states to show",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from ponder.config import load_config
    from ponder.engine import Engine
    from ponder.errors import PonderError
    from ponder.providers.base import Availability

    config = load_config(args.config)
    # Through the engine, so a wrapper (the hedge) checks the models it wraps.
    engine = Engine(config)

    async def check(name: str) -> Availability:
        try:
            provider = engine.provider(name)
        except PonderError as exc:
            return Availability(False, exc.message)
        try:
            return await asyncio.wait_for(provider.check(), args.timeout)
        except TimeoutError:
            return Availability(False, f"no answer within {args.timeout:g} s")
        except PonderError as exc:
            return Availability(False, exc.message)

    names = sorted(config.models)
    try:
        results = await asyncio.gather(*(check(n) for n in names))
    finally:
        await engine.aclose()
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
    print()
    _print_policies(config, names, _breaker_states(args.gateway, args.timeout))
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


def _breaker_states(gateway: str | None, timeout: float) -> dict[str, str] | None:
    """model -> breaker state, read from a running gateway's /metrics (None: not asked)."""
    if gateway is None:
        return None
    import re

    import httpx

    names = {0: "closed", 1: "open", 2: "half-open"}
    try:
        text = httpx.get(gateway.rstrip("/") + "/metrics", timeout=timeout).text
    except httpx.HTTPError as exc:
        print(f"ponder: cannot read {gateway}/metrics: {type(exc).__name__}")
        return {}
    found = re.findall(r'^ponder_circuit_breaker_state\{model="([^"]+)"\} (\d)$', text, re.M)
    return {model: names.get(int(value), value) for model, value in found}


def _print_policies(config: Any, names: list[str], states: dict[str, str] | None) -> None:
    from ponder.policies.status import summary

    rows: list[tuple[str, ...]] = [("MODEL", "RETRIES", "TIMEOUTS", "FALLBACKS", "BREAKER")]
    for name in names:
        cells = [text for _, text in summary(config.models[name])]
        if states is not None:
            cells[3] += f" [{states.get(name, 'not used yet')}]"
        rows.append((name, *cells))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
