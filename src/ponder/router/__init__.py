"""Routing: ``auto`` picks fast or deep per request. See :mod:`ponder.router.base`."""

from ponder.router.base import Decision, Router, RoutingProvider

__all__ = ["Decision", "Router", "RoutingProvider"]
