"""Which router ``auto`` uses out of the box."""

from __future__ import annotations

from ponder.config import Config
from ponder.router.base import Router
from ponder.router.rules import RuleRouter


def load_default_router(config: Config) -> Router:
    return RuleRouter()
