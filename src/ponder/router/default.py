"""Which router ``auto`` uses out of the box.

The learned router (:mod:`ponder.router.learned`) from ``[router] path`` in ponder.toml, else
the one shipped with the package (``default_router.json``, trained on the embedded model's
bench outcomes); the rule router when ``[router] kind = "rules"`` or no model file ships.
``[router] D_minutes`` prices a wrong answer (default 15); ``deep_ttfa_ms`` / ``fast_ttfa_ms``
replace the model's TTFA estimates for the latency budget.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from ponder.config import Config
from ponder.errors import ConfigError
from ponder.router.base import Router
from ponder.router.latency import LatencyTracker
from ponder.router.rules import DEFAULT_DEEP_TTFA_MS, DEFAULT_FAST_TTFA_MS, RuleRouter

log = logging.getLogger(__name__)
SHIPPED = "default_router.json"


def latency_tracker(config: Config) -> LatencyTracker:
    """Recent TTFA per mode, falling back to ``[router] deep_ttfa_ms`` / ``fast_ttfa_ms``."""
    return LatencyTracker(
        {
            "deep": float(config.router.get("deep_ttfa_ms", DEFAULT_DEEP_TTFA_MS)),
            "fast": float(config.router.get("fast_ttfa_ms", DEFAULT_FAST_TTFA_MS)),
        }
    )


def shipped_router_path() -> Path | None:
    """The packaged default model file, or None when this install has none."""
    file = resources.files("ponder.router").joinpath(SHIPPED)
    return Path(str(file)) if file.is_file() else None


def load_default_router(config: Config, latency: LatencyTracker | None = None) -> Router:
    """The router for ``auto``. The server passes its ``latency`` tracker, fed by traces."""
    from ponder.router.learned import DEFAULT_D_MINUTES, LearnedRouter, LinearScorer

    tracker = latency or latency_tracker(config)
    kind = config.router.get("kind", "learned")
    if kind == "rules":
        return RuleRouter(tracker)
    if kind != "learned":
        raise ConfigError(f"[router] kind must be \"learned\" or \"rules\", not {kind!r}.")
    d_minutes = float(config.router.get("D_minutes", DEFAULT_D_MINUTES))
    # A TTFA set in the file overrides the model's per-prompt estimate (this hardware).
    configured = {
        mode: float(config.router[f"{mode}_ttfa_ms"])
        for mode in ("fast", "deep")
        if f"{mode}_ttfa_ms" in config.router
    }
    path = config.router.get("path")
    if path:
        try:
            scorer = LinearScorer.load(Path(str(path)).expanduser())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            message = f"[router] path {str(path)!r}: cannot load it ({exc})."
            raise ConfigError(message) from exc
        return LearnedRouter(scorer, d_minutes, tracker, configured)
    shipped = shipped_router_path()
    if shipped is None:
        return RuleRouter(tracker)
    try:
        scorer = LinearScorer.load(shipped)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a broken install: still serve
        log.warning("shipped router model unreadable (%s); using the rule router", exc)
        return RuleRouter(tracker)
    return LearnedRouter(scorer, d_minutes, tracker, configured)
