"""``POST /api/estimate``: what each mode would likely cost for a prompt, before sending it.

Body ``{"prompt": "...", "model": "auto"}`` (``model`` optional). For ``auto`` (the default)
the answer has an estimate per mode (the models ``fast`` and ``deep`` name) and which mode
auto would choose, with its reason; for a named model, that model's estimate alone. An
estimate is ``null`` when the gateway has too little history for the model: ponder never
guesses a number it has no data for. ``stall_after_ms`` says, per model, how long without a
token the UI should call a stall (:mod:`ponder.wait_watch`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ponder.config import AUTO
from ponder.request import ChatRequest
from ponder.server.door import read_body
from ponder.server.errors import ParamError
from ponder.server.gateway import Gateway
from ponder.server.parse import parse_body

MAX_PROMPT_CHARS = 100_000
MODE_MODELS = ("fast", "deep")


async def api_estimate(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    body = parse_body(await read_body(request, gateway.settings.body_limit))
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ParamError("prompt", "'prompt' must be a non-empty string: the message to send.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ParamError("prompt", f"'prompt' must be at most {MAX_PROMPT_CHARS} characters.")
    model = body.get("model", AUTO)
    if not isinstance(model, str) or not model:
        raise ParamError("model", "'model' must be a model name: fast, deep, auto or an alias.")
    if model != AUTO:
        gateway.config.model(model)  # raises UnknownModelError listing the known models
        return JSONResponse(
            {
                "model": model,
                "estimates": {model: _one(gateway, model, prompt)},
                "stall_after_ms": {model: gateway.stall_after_ms(model)},
            }
        )
    known = set(gateway.config.names())
    estimates = {m: _one(gateway, m, prompt) for m in MODE_MODELS if m in known}
    decision = gateway.engine.router.decide(ChatRequest.from_prompt(prompt))
    return JSONResponse(
        {
            "model": AUTO,
            "estimates": estimates,
            "auto": {"mode": decision.mode, "reason": decision.reason},
            "stall_after_ms": {m: gateway.stall_after_ms(m) for m in estimates},
        }
    )


def _one(gateway: Gateway, model: str, prompt: str) -> dict[str, Any] | None:
    estimate = gateway.estimator.estimate(model, prompt)
    return estimate.as_dict() if estimate is not None else None
