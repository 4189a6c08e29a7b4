"""What a caller asks for, independent of any provider's wire format."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Literal

Role = Literal["system", "user", "assistant"]
Effort = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    # An assistant turn's earlier thoughts and the provider's signature over them, so a
    # later turn can send them back (Anthropic requires this for tool-use continuations).
    thinking: str | None = None
    thinking_signature: str | None = None


@dataclass(frozen=True, slots=True)
class ThinkingSettings:
    """Per-request thinking override. ``None`` fields fall back to the model's config."""

    enabled: bool | None = None
    budget: int | None = None
    effort: Effort | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[Message, ...]
    model: str = "auto"
    thinking: ThinkingSettings = field(default_factory=ThinkingSettings)
    temperature: float | None = None
    max_tokens: int | None = None
    # A latency budget from the client: the router must not pick a mode that misses it.
    max_ttfa_ms: float | None = None
    request_id: str = field(default_factory=lambda: "req_" + uuid.uuid4().hex[:20])

    @classmethod
    def from_prompt(cls, prompt: str, model: str = "auto", **kwargs: object) -> ChatRequest:
        return cls(messages=(Message("user", prompt),), model=model, **kwargs)  # type: ignore[arg-type]

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""

    def with_thinking(self, thinking: ThinkingSettings) -> ChatRequest:
        return replace(self, thinking=thinking)
