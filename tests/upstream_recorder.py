"""Validating upstreams for request-fidelity tests: each provider's API as a :data:`Responder`
on the replay server, refusing what the real API refuses (with that API's own error body) and
otherwise answering with a short, well-formed stream. The replay server records every request,
so a test asserts the exact body a provider sent.

The rules checked are the documented ones a provider could break by forwarding a client's
request carelessly:

- Anthropic Messages: only known top-level fields; ``max_tokens`` required; no ``system`` role
  inside ``messages``; ``budget_tokens`` at least 1024 and below ``max_tokens``; with thinking
  on, no ``temperature`` and no ``top_p`` below 0.95.
- OpenAI Chat Completions: a non-empty ``messages`` of known roles; ``stream_options`` only when
  streaming; at most 4 ``stop`` sequences; reasoning models (``o1``/``o3``/``o4``/``gpt-5``…)
  refuse ``max_tokens`` (they take ``max_completion_tokens``).
- Ollama ``/api/chat``: a ``model``, known roles, ``options`` an object.

:data:`UPSTREAMS` maps a provider kind to the path it posts to and its responder;
:func:`toml_table` writes a model table for a ``ponder.toml``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.replay import Recorded, Reply, json_reply

Problem = str | None


# -- canned successful replies -----------------------------------------------------------------


def _sse(events: list[Any], done: bool = False) -> Reply:
    frames = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    if done:
        frames.append(b"data: [DONE]\n\n")
    return Reply(chunks=[(0, b"".join(frames))])


def openai_ok(body: Mapping[str, Any]) -> Reply:
    model = body.get("model")
    if body.get("stream") is False:
        message = {"role": "assistant", "content": "ok"}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return json_reply(200, {"id": "c", "object": "chat.completion", "choices": [choice]})

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [choice]}

    return _sse([chunk({"role": "assistant", "content": "ok"}), chunk({}, "stop")], done=True)


def anthropic_ok(body: Mapping[str, Any]) -> Reply:
    def text(piece: str) -> dict[str, str]:
        return {"type": "text_delta", "text": piece}

    usage = {"input_tokens": 5, "output_tokens": 1}
    return _sse(
        [
            {"type": "message_start", "message": {"id": "m", "role": "assistant", "usage": usage}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
            {"type": "content_block_delta", "index": 0, "delta": text("o")},
            {"type": "content_block_delta", "index": 0, "delta": text("k")},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage},
            {"type": "message_stop"},
        ]
    )


def ollama_ok(body: Mapping[str, Any]) -> Reply:
    model = body.get("model")
    lines = [
        {"model": model, "message": {"role": "assistant", "content": "ok"}, "done": False},
        {"model": model, "done": True, "done_reason": "stop", "eval_count": 1},
    ]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    return Reply(chunks=[(0, data)], content_type="application/x-ndjson")


# -- the rules -----------------------------------------------------------------------------------

ANTHROPIC_FIELDS = frozenset(
    {
        "model", "messages", "max_tokens", "system", "stream", "temperature", "top_p", "top_k",
        "stop_sequences", "thinking", "metadata", "tools", "tool_choice", "output_config",
        "service_tier", "container", "mcp_servers",
    }
)  # fmt: skip


def anthropic_problem(body: Mapping[str, Any]) -> Problem:
    extra = sorted(set(body) - ANTHROPIC_FIELDS)
    if extra:
        return f"{extra[0]}: Extra inputs are not permitted"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return "max_tokens: Field required"
    for i, message in enumerate(body.get("messages") or []):
        if message.get("role") not in ("user", "assistant"):
            return (
                f"messages.{i}.role: Unexpected role {message.get('role')!r}. The Messages API"
                " accepts a top-level `system` parameter, not \"system\" as an input message role."
            )
    if not body.get("messages"):
        return "messages: at least one message is required"
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if max_tokens <= budget:
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
    if isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"):
        if "temperature" in body and body["temperature"] != 1:
            return "`temperature` may only be set to 1 when thinking is enabled."
        if "top_p" in body and not 0.95 <= body["top_p"] <= 1:
            return "`top_p` must be between 0.95 and 1 (or unset) when thinking is enabled."
        if "top_k" in body:
            return "`top_k` must be unset when thinking is enabled."
    return None


def anthropic_error(problem: str) -> Reply:
    error = {"type": "invalid_request_error", "message": problem}
    return json_reply(400, {"type": "error", "error": error})


OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# Models that refuse ``max_tokens`` (the reasoning families).
OPENAI_REASONING = re.compile(r"^(o\d|gpt-5)")


def openai_problem(body: Mapping[str, Any]) -> Problem:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "[] is too short - 'messages'"
    for message in messages:
        if message.get("role") not in OPENAI_ROLES:
            role = message.get("role")
            return f"Invalid value: {role!r}. Supported values are: {sorted(OPENAI_ROLES)}."
    if "stream_options" in body and body.get("stream") is not True:
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > 4:
        return f"{stop!r} is too long - 'stop'"
    if "max_tokens" in body and OPENAI_REASONING.match(str(body.get("model"))):
        return (
            "Unsupported parameter: 'max_tokens' is not supported with this model."
            " Use 'max_completion_tokens' instead."
        )
    return None


def openai_error(problem: str) -> Reply:
    error = {"message": problem, "type": "invalid_request_error", "param": None, "code": None}
    return json_reply(400, {"error": error})


def ollama_problem(body: Mapping[str, Any]) -> Problem:
    if not body.get("model"):
        return "model is required"
    for message in body.get("messages") or []:
        if message.get("role") not in ("system", "user", "assistant", "tool"):
            return f"invalid role: {message.get('role')}"
    if "options" in body and not isinstance(body["options"], Mapping):
        return "json: cannot unmarshal options into Go struct field of type map[string]interface {}"
    return None


def ollama_error(problem: str) -> Reply:
    return json_reply(400, {"error": problem})


@dataclass(frozen=True)
class Upstream:
    """One provider's API: the path its chat requests go to, how it validates, what it says."""

    path: str
    problem: Callable[[Mapping[str, Any]], Problem]
    error: Callable[[str], Reply]
    ok: Callable[[Mapping[str, Any]], Reply]
    base_path: str = ""  # what the model's base_url ends with

    def respond(self, recorded: Recorded) -> Reply:
        body = recorded.json()
        problem = self.problem(body)
        return self.error(problem) if problem is not None else self.ok(body)


UPSTREAMS: Mapping[str, Upstream] = {
    "openai": Upstream("/v1/chat/completions", openai_problem, openai_error, openai_ok, "/v1"),
    "anthropic": Upstream("/v1/messages", anthropic_problem, anthropic_error, anthropic_ok),
    "ollama": Upstream("/api/chat", ollama_problem, ollama_error, ollama_ok),
}


# -- writing ponder.toml tables --------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string uses the same escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def toml_table(name: str, table: Mapping[str, Any]) -> str:
    lines = [f"[models.{name}]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"
