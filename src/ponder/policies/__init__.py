"""Policies: wrappers that are themselves providers.

Reliability: each module is one policy you can read on its own — :mod:`~ponder.policies.timeout`,
:mod:`~ponder.policies.retry`, :mod:`~ponder.policies.breaker`,
:mod:`~ponder.policies.fallback` — and :mod:`~ponder.policies.stack` composes them per model
from ``ponder.toml`` (:mod:`~ponder.policies.settings`). A provider stays a plain stream of
events; the policies only read and forward it.

Hedging: :mod:`~ponder.policies.hedge` races a fast model against a deep one behind a
verifier (``provider = "hedge"``), and tells ``auto`` when racing pays.
"""
