"""Verifiers: judge an answer to a request (does the query run, do the tests pass, does the
JSON match its schema, is the arithmetic right), so a hedge can accept a fast answer early.

See :mod:`ponder.verify.base` for the interface and :mod:`ponder.verify.registry` for lookup.
"""

from ponder.verify.base import Judgement, Verifier, VerifierOptionError
from ponder.verify.registry import (
    available_verifiers,
    get_verifier,
    judge,
    register_verifier,
    unregister_verifier,
)

__all__ = [
    "Judgement",
    "Verifier",
    "VerifierOptionError",
    "available_verifiers",
    "get_verifier",
    "judge",
    "register_verifier",
    "unregister_verifier",
]
