"""``ponder router``: fit, evaluate and try the learned router.

    ponder router fit   --from attempts.jsonl [--out router.json]
    ponder router eval  --from attempts.jsonl [--router router.json]
    ponder router route "What is 4821 × 37?" [--router router.json] [--max-ttfa-ms 500]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError

DEFAULT_OUT = "router.json"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "router", help="fit, evaluate and try the learned router for auto mode",
        description="The learned router estimates P(correct) and latency of fast and deep per "
        "prompt, and picks the lower expected time-to-correct E2E + (1 - p)*D.",
    )
    commands = parser.add_subparsers(dest="router_command", metavar="ACTION")

    fit = commands.add_parser("fit", help="train a router from bench attempts")
    _add_from(fit)
    fit.add_argument("--out", default=DEFAULT_OUT, help=f"model file (default {DEFAULT_OUT})")
    fit.set_defaults(func=_fit)

    ev = commands.add_parser(
        "eval", help="template-held-out evaluation against baselines and the oracle"
    )
    _add_from(ev)
    ev.add_argument("--router", default=None,
                    help="judge this saved router as is (default: refit on each fold)")
    ev.add_argument("--folds", type=int, default=5, help="template folds (default 5)")
    ev.add_argument("--d-minutes", type=float, default=15.0,
                    help="cost of a wrong answer, D, in minutes (default 15)")
    ev.add_argument("--no-knn", action="store_true", help="skip the kNN baseline")
    ev.set_defaults(func=_eval)

    route = commands.add_parser("route", help="show the decision for one prompt")
    route.add_argument("prompt")
    route.add_argument("--router", default=None, help="model file (default: the shipped one)")
    route.add_argument("--max-ttfa-ms", type=float, default=None, help="latency budget")
    route.add_argument("--d-minutes", type=float, default=15.0)
    route.set_defaults(func=_route)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _add_from(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="sources", action="append", required=True,
                        metavar="ATTEMPTS_JSONL",
                        help="bench attempts file (ponder bench correct); repeatable")


def _outcomes(args: argparse.Namespace) -> list[Any]:
    from ponder.router.data import load_outcomes

    outcomes = []
    for source in args.sources:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"No attempts file at {source!r}; run `ponder bench correct` first.")
        outcomes.extend(load_outcomes(path))
    if not outcomes:
        raise ConfigError("No usable first attempts (fast or deep) in the attempts file(s).")
    return outcomes


def _require_sklearn(command: str) -> None:
    """Fitting and evaluating need scikit-learn, which serving does not: it is an extra."""
    try:
        import sklearn  # noqa: F401
    except ModuleNotFoundError:
        raise ConfigError(
            f"`ponder router {command}` needs scikit-learn: pip install 'ponder[router]'."
        ) from None


def _fit(args: argparse.Namespace) -> int:
    _require_sklearn("fit")
    from ponder.router.train import fit_scorer

    outcomes = _outcomes(args)
    try:
        scorer = fit_scorer(outcomes)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    scorer.save(args.out)
    info = scorer.meta["trained_on"]
    print(f"fitted on {info['outcomes']} first attempts, {info['prompts']} prompts, "
          f"{info['templates']} templates; pass rate {info['pass_rate']}")
    for mode in ("fast", "deep"):
        head = scorer.meta[f"p_{mode}"]
        print(f"  P(correct | {mode}): C={head['C']} platt={head['platt']}")
    print(f"saved {args.out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    _require_sklearn("eval")
    from ponder.router.evaluate import evaluate, format_report
    from ponder.router.learned import LinearScorer

    outcomes = _outcomes(args)
    scorer = LinearScorer.load(args.router) if args.router else None
    try:
        report = evaluate(outcomes, scorer=scorer, k=args.folds, d_minutes=args.d_minutes,
                          knn=not args.no_knn)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    print(format_report(report))
    return 0


def _route(args: argparse.Namespace) -> int:
    from ponder.request import ChatRequest
    from ponder.router.default import shipped_router_path
    from ponder.router.learned import LearnedRouter, LinearScorer

    path = args.router or shipped_router_path()
    if path is None:
        raise ConfigError("No router model: pass --router, or fit one with `ponder router fit`.")
    router = LearnedRouter(LinearScorer.load(path), args.d_minutes)
    decision = router.decide(ChatRequest.from_prompt(args.prompt, max_ttfa_ms=args.max_ttfa_ms))
    print(f"{decision.mode}: {decision.reason}")
    for name, value in (decision.estimates or {}).items():
        print(f"  {name} = {value:g}")
    return 0
