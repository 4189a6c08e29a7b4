"""``ponder bench speed``: latency and throughput under load, thinking and answer apart."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any


def _csv_numbers(kind: type[int] | type[float]) -> Any:
    def parse(value: str) -> tuple[float, ...]:
        try:
            items = tuple(kind(v) for v in value.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated numbers, got {value!r}"
            ) from None
        if not items or any(v <= 0 for v in items):
            raise argparse.ArgumentTypeError("expected comma-separated numbers > 0")
        return items

    return parse


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def _slo(value: str) -> dict[str, float]:
    from ponder.bench.speed.stats import SLOError, parse_slo

    try:
        return parse_slo(value)
    except SLOError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def register_speed(sub: Any) -> None:
    from ponder.bench.speed.profiles import PROFILES
    from ponder.bench.speed.stats import TPOT_DEFINITION

    speed = sub.add_parser(
        "speed",
        help="latency and throughput under load: TTFT, TTFA, thinking vs answer tok/s, goodput",
        description="Load a model with one or more steps (a profile) and meter every request:"
        " TTFT, TTFA (first answer token), thinking time, E2E, ITL, TPOT, thinking and answer"
        " tokens. Per step: p50/p90/p99, req/s, thinking and answer tok/s, goodput against"
        " --slo. Writes requests.jsonl, steps.csv, report.html and run.json under --out."
        f" {TPOT_DEFINITION}.",
    )
    where = speed.add_argument_group("target")
    where.add_argument("--model", required=True, help="a model in ponder.toml; with --base-url,"
                       " the model id sent to that server")
    where.add_argument("--base-url", default=None, help="an OpenAI-compatible base URL"
                       " (http://host:port/v1) to load directly, bypassing ponder.toml")
    where.add_argument("--api-key-env", default=None, metavar="VAR",
                       help="with --base-url: the env var holding the bearer key")
    where.add_argument("--extra-body", default=None, metavar="JSON",
                       help="with --base-url: a JSON object merged into every request body")
    where.add_argument("--inline-tags", action="store_true",
                       help="with --base-url: thoughts arrive inline as <think>…</think>")
    where.add_argument("--max-tokens", type=_positive_int, default=None,
                       help="max_tokens of every request")
    load = speed.add_argument_group("load")
    load.add_argument("--profile", choices=PROFILES, default="sweep",
                      help="synchronous; concurrent (--concurrency); constant or poisson"
                      " (--rate); sweep: synchronous, throughput, then --sweep-rates rates in"
                      " between (default sweep)")
    load.add_argument("--concurrency", type=_csv_numbers(int), default=(),
                      help="requests in flight per step, e.g. 1,16,64,256")
    load.add_argument("--rate", type=_csv_numbers(float), default=(),
                      help="requests per second per step, e.g. 2,5,10")
    load.add_argument("--sweep-rates", type=_positive_int, default=4,
                      help="constant-rate steps between synchronous and throughput (default 4)")
    load.add_argument("--max-concurrency", type=_positive_int, default=256,
                      help="the throughput step's concurrency and every open-loop step's cap"
                      " (default 256)")
    load.add_argument("--duration", type=_non_negative, default=30.0,
                      help="seconds per step after warm-up (default 30; 0: only --max-requests)")
    load.add_argument("--max-requests", type=_positive_int, default=None,
                      help="measured requests per step at most")
    load.add_argument("--warmup", type=_non_negative, default=2.0,
                      help="seconds at the start of each step left out of the figures (default 2)")
    load.add_argument("--seed", type=int, default=0, help="Poisson arrivals seed (default 0)")
    prompts = speed.add_argument_group("prompts (one of)")
    prompts.add_argument("--prompts", type=Path, default=None, metavar="FILE",
                         help='one prompt per line, or JSONL with a "prompt" string')
    prompts.add_argument("--suite", default=None,
                         help="the prompts of bench suites' tasks, e.g. arith,ledger")
    prompts.add_argument("--n-per-level", type=_positive_int, default=10,
                         help="with --suite: tasks per level (default 10)")
    prompts.add_argument("--prompt-tokens", type=_positive_int, default=None,
                         help="generated prompts of about N tokens (default 64)")
    out = speed.add_argument_group("output")
    out.add_argument("--slo", type=_slo, default={},
                     help="goodput bounds in ms, e.g. ttfa=2000,e2e=30000 (metrics: ttft, ttfa,"
                     " e2e, tpot, itl)")
    out.add_argument("--out", type=Path, default=None,
                     help="output folder (default runs/speed-<timestamp>)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    speed.set_defaults(func=run_speed_command)


def _fail(message: str) -> int:
    print(f"ponder bench speed: {message}", file=sys.stderr)
    return 2


def run_speed_command(args: argparse.Namespace) -> int:
    from ponder.bench.speed import prompts as prompt_sources
    from ponder.bench.speed.profiles import OPEN_LOOP
    from ponder.bench.speed.run import SpeedSettings, run_speed
    from ponder.bench.speed.runner import Limits
    from ponder.bench.speed.targets import EndpointTarget, EngineTarget, Target

    if args.concurrency and args.profile != "concurrent":
        return _fail("--concurrency applies to --profile concurrent (sweep and rate profiles"
                     " cap concurrency with --max-concurrency).")
    if args.rate and args.profile not in OPEN_LOOP:
        return _fail("--rate applies to --profile constant or poisson.")
    duration = args.duration or None
    if duration is None and args.max_requests is None:
        return _fail("--duration 0 needs --max-requests N, or a step would never end.")
    chosen = [n for n, v in (("--prompts", args.prompts), ("--suite", args.suite),
                             ("--prompt-tokens", args.prompt_tokens)) if v is not None]
    if len(chosen) > 1:
        return _fail(f"choose one prompt source, not {' and '.join(chosen)}.")
    direct_only = [n for n, v in (("--api-key-env", args.api_key_env),
                                  ("--extra-body", args.extra_body),
                                  ("--inline-tags", args.inline_tags or None)) if v]
    if direct_only and args.base_url is None:
        return _fail(f"{', '.join(direct_only)} need --base-url (a ponder.toml model carries"
                     " its own key, body and tags settings).")
    extra: dict[str, Any] = {}
    if args.extra_body is not None:
        try:
            extra = json.loads(args.extra_body)
        except ValueError:
            extra = None  # type: ignore[assignment]
        if not isinstance(extra, dict):
            return _fail(f"--extra-body must be a JSON object, got {args.extra_body!r}.")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            return _fail(f"--api-key-env {args.api_key_env}: that variable is not set.")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out: Path = args.out or Path("runs") / f"speed-{stamp}"
    if args.prompts is not None:
        prompts = prompt_sources.from_file(args.prompts)
    elif args.suite is not None:
        names = tuple(s.strip() for s in args.suite.split(",") if s.strip())
        out.mkdir(parents=True, exist_ok=True)
        prompts = prompt_sources.from_suites(names, args.n_per_level, args.seed, out)
    else:
        prompts = prompt_sources.generated(args.prompt_tokens or 64)

    if args.base_url is not None:
        try:
            EndpointTarget(args.base_url, args.model)
        except ValueError as exc:
            return _fail(str(exc) + ".")

        def target() -> Target:
            return EndpointTarget(args.base_url, args.model, api_key, args.max_tokens, extra,
                                  args.inline_tags)
    else:
        from ponder.config import load_config

        config = load_config(args.config)
        if args.model != "auto":
            config.model(args.model)  # an unknown name fails now, naming the known ones

        def target() -> Target:
            return EngineTarget(config, args.model, args.max_tokens)

    settings = SpeedSettings(
        profile=args.profile,
        concurrencies=tuple(int(n) for n in args.concurrency),
        rates=tuple(args.rate),
        sweep_rates=args.sweep_rates,
        limits=Limits(duration, args.max_requests, args.warmup, args.max_concurrency),
        slo=args.slo,
        seed=args.seed,
        out=out,
    )
    result = run_speed(target, settings, prompts, show_progress=not args.no_progress)
    print(result.text)
    print(f"\nwrote {out / 'requests.jsonl'}, {out / 'steps.csv'}, {out / 'report.html'}")
    return 0 if any(r.requests for r in result.rows) else 1
