"""Which router ``auto`` uses out of the box."""

from __future__ import annotations

from ponder.config import Config
from ponder.router.base import Router
from ponder.router.latency import LatencyTracker
from ponder.router.rules import DEFAULT_DEEP_TTFA_MS, DEFAULT_FAST_TTFA_MS, RuleRouter


def latency_tracker(config: Config) -> LatencyTracker:
    """Recent TTFA per mode, falling back to ``[router] deep_ttfa_ms`` / ``fast_ttfa_ms``."""
    return LatencyTracker(
        {
            "deep": float(config.router.get("deep_ttfa_ms", DEFAULT_DEEP_TTFA_MS)),
            "fast": float(config.router.get("fast_ttfa_ms", DEFAULT_FAST_TTFA_MS)),
        }
    )


def load_default_router(config: Config, latency: LatencyTracker | None = None) -> Router:
    """The router for ``auto``. The server passes its ``latency`` tracker, fed by traces."""
    return RuleRouter(latency or latency_tracker(config))
