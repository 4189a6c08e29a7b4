"""What a caller asks for, independent of any provider's wire format.

A request is a sequence of messages; a message is a sequence of typed parts:

- :class:`TextPart` — text;
- :class:`ImagePart` — an image by URL (``https://…`` or a ``data:`` URL);
- :class:`ToolCallPart` — an assistant's call of a tool: id, name, JSON arguments as text;
- :class:`ToolResultPart` — what a tool returned for a call id (in a ``tool`` message);
- :class:`ReasoningPart` — an assistant's thoughts: the text, plus the opaque state its
  provider needs back to continue (a signature, redacted or encrypted data, OpenRouter's
  ``reasoning_details``), tagged with the provider kind and upstream model that produced it.
  Only a provider of the same kind and model may use ``state``; any other sees the text.

A provider turns parts into its wire format (and drops or converts what its API cannot take);
a front door does the same for its clients.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
Effort = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    url: str  # https://… or data:<media type>;base64,…
    detail: str | None = None  # OpenAI's low/high/auto hint, passed where a provider takes it
    type: Literal["image"] = "image"

    @property
    def data_url(self) -> tuple[str, str] | None:
        """(media type, base64 data) of a ``data:`` URL, else None."""
        if not self.url.startswith("data:"):
            return None
        head, _, data = self.url[5:].partition(",")
        media_type, _, encoding = head.partition(";")
        if encoding != "base64" or not data:
            return None
        return media_type or "application/octet-stream", data


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model wrote it
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    call_id: str
    content: str
    is_error: bool = False
    name: str | None = None  # the tool's name, when the client said (Ollama wants it)
    type: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    text: str
    # The producer: a provider kind ("anthropic", "openai", …) and its upstream model id.
    provider: str | None = None
    model: str | None = None
    signature: str | None = None  # Anthropic's signature over the thinking block
    redacted: bool = False  # the text is hidden; ``state`` holds the encrypted data
    # Anything else the producer needs back verbatim (e.g. {"field": "reasoning_details",
    # "details": [...]}, {"data": "<redacted thinking>"}); only the producer reads it.
    state: Mapping[str, Any] | None = None
    type: Literal["reasoning"] = "reasoning"

    def made_by(self, provider: str, model: str) -> bool:
        """Whether this reasoning's opaque state is valid for ``provider``/``model``."""
        return self.provider == provider and self.model == model

    @property
    def has_state(self) -> bool:
        return bool(self.signature or self.redacted or self.state)


Part = TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart


@dataclass(frozen=True, slots=True, init=False)
class Message:
    """One turn. ``Message("user", "hi")`` is a text message; pass parts for anything else.

    ``thinking=`` adds the turn's earlier thoughts as a :class:`ReasoningPart` before the text
    (what a client that keeps ``reasoning_content`` sends back).
    """

    role: Role
    parts: tuple[Part, ...]

    def __init__(
        self,
        role: Role,
        content: str | Sequence[Part] = "",
        *,
        thinking: str | None = None,
    ) -> None:
        parts: list[Part] = []
        if thinking:
            parts.append(ReasoningPart(thinking))
        if isinstance(content, str):
            if content:
                parts.append(TextPart(content))
        else:
            parts.extend(content)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "parts", tuple(parts))

    @property
    def content(self) -> str:
        """The text parts joined (what a text-only consumer sees)."""
        parts = self.parts
        if len(parts) == 1 and type(parts[0]) is TextPart:  # most messages: one text part
            return parts[0].text
        return "".join([p.text for p in parts if isinstance(p, TextPart)])

    @property
    def thinking(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, ReasoningPart))

    @property
    def reasoning(self) -> tuple[ReasoningPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ReasoningPart))

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))

    @property
    def tool_results(self) -> tuple[ToolResultPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolResultPart))

    @property
    def images(self) -> tuple[ImagePart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ImagePart))

    def with_parts(self, parts: Iterable[Part]) -> Message:
        return Message(self.role, tuple(parts))


@dataclass(frozen=True, slots=True)
class ThinkingSettings:
    """Per-request thinking override. ``None`` fields fall back to the model's config."""

    enabled: bool | None = None
    budget: int | None = None
    effort: Effort | None = None
    # The client's own word for the effort when it is finer than ``effort`` ("minimal",
    # "xhigh"): sent as it is to an upstream that takes the same words, else ``effort`` is.
    effort_word: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is its JSON Schema."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None

    @classmethod
    def declared(
        cls, name: str, description: Any, parameters: Mapping[str, Any] | None, strict: Any
    ) -> ToolSpec:
        """A tool as a client declared it, once a door has checked its name and schema: a
        description or ``strict`` of the wrong type is left out rather than refused."""
        return cls(
            name=name,
            description=description if isinstance(description, str) else None,
            parameters=dict(parameters) if parameters is not None else None,
            strict=strict if isinstance(strict, bool) else None,
        )


ToolChoiceKind = Literal["auto", "none", "required", "tool"]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """``auto`` (the model decides), ``none``, ``required`` (some tool), ``tool`` (``name``)."""

    kind: ToolChoiceKind = "auto"
    name: str | None = None

    @property
    def forces_call(self) -> bool:
        return self.kind in ("required", "tool")


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """Structured output: ``json_object`` (any JSON) or ``json_schema`` (``schema``)."""

    kind: Literal["json_object", "json_schema"]
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class VerifySpec:
    """A verifier the request names (``ponder.verify``) and the options it gives it."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[Message, ...]
    model: str = "auto"
    thinking: ThinkingSettings = field(default_factory=ThinkingSettings)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None  # None: the provider's default (auto when tools)
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    # A latency budget from the client: the router must not pick a mode that misses it.
    max_ttfa_ms: float | None = None
    # A cost budget in USD: ``auto`` picks a mode expected to cost no more (ponder.budget).
    max_cost_usd: float | None = None
    # ponder's extension object: a verifier for hedged answers, and the hedge opt-out
    # (False: never race two models for this request).
    verify: VerifySpec | None = None
    hedge: bool | None = None
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

    @property
    def offers_tools(self) -> bool:
        """Whether the model may call a tool in this request."""
        return bool(self.tools) and (self.tool_choice is None or self.tool_choice.kind != "none")

    def with_thinking(self, thinking: ThinkingSettings) -> ChatRequest:
        return replace(self, thinking=thinking)

    def with_messages(self, messages: Iterable[Message]) -> ChatRequest:
        return replace(self, messages=tuple(messages))
