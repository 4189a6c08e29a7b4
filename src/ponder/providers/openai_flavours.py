"""How each ``thinking.flavour`` spells thinking on an OpenAI-compatible server, and where a
history turn carries its thoughts back (:mod:`ponder.providers.openai` applies them).

- ``none``: the server has no switch (the model always or never thinks);
- ``deepseek``: DeepSeek V3.1+ and Moonshot Kimi, ``thinking: {type}``; tool-call turns must
  carry their ``reasoning_content`` back;
- ``qwen``: Qwen3 on vLLM/SGLang/llama.cpp, the chat template's ``enable_thinking``;
- ``openai``: OpenAI reasoning models, ``reasoning_effort`` (``max_tokens`` sent as
  ``max_completion_tokens``, sampling settings they refuse left out);
- ``openrouter``: ``reasoning: {effort | max_tokens | enabled}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ponder.config import ThinkingConfig

Body = dict[str, Any]


def _deepseek(thinking: ThinkingConfig, body: Body) -> None:
    """DeepSeek V3.1+ and Moonshot Kimi: ``thinking: {type: enabled|disabled}``."""
    body["thinking"] = {"type": "enabled" if thinking.enabled else "disabled"}


def _qwen(thinking: ThinkingConfig, body: Body) -> None:
    """Qwen3 on vLLM/SGLang/llama.cpp: the chat template's ``enable_thinking`` switch."""
    kwargs = dict(body.get("chat_template_kwargs") or {})
    kwargs["enable_thinking"] = thinking.enabled
    body["chat_template_kwargs"] = kwargs


def _budget_effort(budget: int) -> str:
    return "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"


# The efforts OpenAI's reasoning models take besides low, medium and high (GPT-5 "minimal",
# the Codex models' "xhigh"): a client's own word among these is sent as it is.
_OPENAI_EFFORT_WORDS = frozenset(("minimal", "xhigh"))
_OPENROUTER_EFFORT_WORDS = frozenset(("minimal",))


def _effort(thinking: ThinkingConfig, words: frozenset[str]) -> str | None:
    if thinking.effort_word in words:
        return thinking.effort_word
    return thinking.effort


def _openai(thinking: ThinkingConfig, body: Body) -> None:
    """OpenAI reasoning models: ``reasoning_effort``; "off" is the lowest effort, ``minimal``
    (o-series models cannot switch reasoning off). A budget picks the nearest effort."""
    if not thinking.enabled:
        body["reasoning_effort"] = "minimal"
    elif thinking.effort is not None:
        body["reasoning_effort"] = _effort(thinking, _OPENAI_EFFORT_WORDS)
    elif thinking.budget is not None:
        body["reasoning_effort"] = _budget_effort(thinking.budget)
    if "max_tokens" in body:  # reasoning models take max_completion_tokens only
        body["max_completion_tokens"] = body.pop("max_tokens")
    # They refuse any sampling setting but the default ("Unsupported value: 'temperature'
    # does not support 0.2 with this model"): dropped, and the stream says so.
    for key in ("temperature", "top_p"):
        if body.get(key, 1) != 1:
            del body[key]


def _openrouter(thinking: ThinkingConfig, body: Body) -> None:
    """OpenRouter: ``reasoning: {effort}`` or ``{max_tokens}``, ``{enabled: false}`` when off."""
    if not thinking.enabled:
        body["reasoning"] = {"enabled": False}
    elif thinking.effort is not None:
        body["reasoning"] = {"effort": _effort(thinking, _OPENROUTER_EFFORT_WORDS)}
    elif thinking.budget is not None:
        body["reasoning"] = {"max_tokens": thinking.budget}
    else:
        body["reasoning"] = {"enabled": True}


def _none(thinking: ThinkingConfig, body: Body) -> None:
    """The server has no switch (or the model always/never thinks): send nothing."""


@dataclass(frozen=True, slots=True)
class Flavour:
    apply: Callable[[ThinkingConfig, Body], None]
    # The field an assistant history turn carries its thoughts back in, or None.
    history_field: str | None = None
    # With thinking on, the API refuses an assistant tool-call turn without its thoughts
    # (DeepSeek, Kimi: "reasoning_content is missing in assistant tool call message").
    tool_turns_need_reasoning: bool = False


FLAVOURS: Mapping[str, Flavour] = {
    "none": Flavour(_none),
    "deepseek": Flavour(
        _deepseek, history_field="reasoning_content", tool_turns_need_reasoning=True
    ),
    "qwen": Flavour(_qwen),
    "openai": Flavour(_openai),
    "openrouter": Flavour(_openrouter, history_field="reasoning"),
}
