"""ponder's own request extension: the ``ponder`` object of a chat completion's body.

``{"verify": "regex", "pattern": "^42$"}`` (or ``"verify": {"name": "regex", "pattern":
...}``) names the verifier a hedge judges fast's answer with, with the options a request may
give it (each verifier lists them: a client cannot point the sql verifier at another file);
``"hedge": false`` opts the request out of hedging; ``"max_cost_usd"`` is the cost budget
(read with its header by :func:`ponder.server.params.max_cost`). Anything else is refused by
name, with the fields that are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ponder.errors import ConfigError
from ponder.request import VerifySpec
from ponder.server.errors import ParamError
from ponder.verify import available_verifiers, get_verifier


def _unknown_fields(rest: Mapping[str, Any]) -> ParamError:
    names = ", ".join(sorted(rest))
    known = ", ".join(["verify", "hedge", *sorted(_PONDER_READ_ELSEWHERE)])
    return ParamError("ponder", f"Unknown ponder field(s): {names}; known: {known}.")


# Keys of the ponder object that other parsers read (the cost budget: params.max_cost).
_PONDER_READ_ELSEWHERE = frozenset({"max_cost_usd"})


def ponder_extension(raw: Any) -> dict[str, Any]:
    """ponder's extension object: ``{"verify": "regex", "pattern": "^42$"}`` (or ``"verify":
    {"name": "regex", "pattern": ...}``) names the verifier a hedge judges fast's answer with;
    ``"hedge": false`` opts the request out of hedging."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ParamError("ponder", "'ponder' must be an object, e.g. {\"verify\": \"embedded\"}.")
    fields: dict[str, Any] = {}
    hedge = raw.get("hedge")
    if hedge is not None:
        if not isinstance(hedge, bool):
            raise ParamError("ponder.hedge", "'ponder.hedge' must be true or false.")
        fields["hedge"] = hedge
    verify = raw.get("verify")
    rest = {
        k: v for k, v in raw.items() if k not in ("verify", "hedge", *_PONDER_READ_ELSEWHERE)
    }
    if verify is None:
        if rest:
            raise _unknown_fields(rest)
        return fields
    if isinstance(verify, Mapping):
        if rest:
            raise _unknown_fields(rest)
        name, options = verify.get("name"), {k: v for k, v in verify.items() if k != "name"}
    else:
        name, options = verify, rest
    if not isinstance(name, str) or not name:
        raise ParamError("ponder.verify", "'ponder.verify' must name a verifier, e.g. \"sql\".")
    try:
        verifier = get_verifier(name)
    except ConfigError:
        raise ParamError(
            "ponder.verify",
            f"Unknown verifier {name!r}. Available: {', '.join(available_verifiers())}.",
        ) from None
    refused = set(options) - verifier.request_options
    if refused:
        allowed = ", ".join(sorted(verifier.request_options)) or "none"
        raise ParamError(
            "ponder.verify",
            f"The {name} verifier does not take {', '.join(sorted(refused))} from a request"
            f" (it may take: {allowed}); server-side settings go in ponder.toml.",
        )
    fields["verify"] = VerifySpec(name, dict(options))
    return fields
