"""Typed configuration from ``ponder.toml``.

Secrets never live in the file: a model names the environment variable holding its key
(``api_key_env``), and :meth:`ModelConfig.api_key` is the one place that reads it.
``fast`` and ``deep`` always exist; unless the file says otherwise they are the embedded
model with thinking off and on. ``hedge`` races them behind the embedded model's verifier.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, UnknownModelError
from ponder.policies.settings import POLICY_KEYS, Policies, parse_policies
from ponder.request import ChatRequest, Effort

CONFIG_ENV = "PONDER_CONFIG"
DEFAULT_PATH = Path("ponder.toml")
AUTO = "auto"

# How a model's thinking switch is spelled on the wire, for OpenAI-compatible servers.
THINKING_FLAVOURS = ("none", "deepseek", "qwen", "openai", "openrouter")
EFFORTS: tuple[Effort, ...] = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class ThinkingConfig:
    """A model's thinking settings; a request may override ``enabled``, ``budget``, ``effort``."""

    enabled: bool = True
    budget: int | None = None
    effort: Effort | None = None
    # A request's own word for its effort (see ThinkingSettings.effort_word).
    effort_word: str | None = None
    # openai provider only: which request field turns thinking on/off (see THINKING_FLAVOURS).
    flavour: str = "none"
    # Inline <think> tags in the answer text (llama.cpp, Ollama /v1 with some templates):
    # None detects them (content opening with <think> is thoughts), True always splits,
    # False never does.
    inline_tags: bool | None = None
    # The chat template already wrote the opening <think>: the stream starts inside thoughts.
    opens_in_template: bool = False

    def merged(self, request: ChatRequest) -> ThinkingConfig:
        override = request.thinking
        if (
            override.enabled is None
            and override.budget is None
            and override.effort is None
            and self.effort_word is None
        ):
            return self  # nothing to override (most requests; asked for several times each)
        return ThinkingConfig(
            enabled=self.enabled if override.enabled is None else override.enabled,
            budget=self.budget if override.budget is None else override.budget,
            effort=self.effort if override.effort is None else override.effort,
            effort_word=None if override.effort is None else override.effort_word,
            flavour=self.flavour,
            inline_tags=self.inline_tags,
            opens_in_template=self.opens_in_template,
        )


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # defaults to ``input``
    reasoning: float | None = None  # thought tokens; defaults to ``output``

    @property
    def free(self) -> bool:
        return not (self.input or self.output or self.cached_input or self.reasoning)

    def as_dict(self) -> dict[str, float | None]:
        return {
            "input": self.input,
            "output": self.output,
            "cached_input": self.cached_input,
            "reasoning": self.reasoning,
        }


FREE = Price(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    name: str
    provider: str
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    thinking: ThinkingConfig = field(default_factory=ThinkingConfig)
    timeout_s: float = 600.0
    # USD per million tokens; None: unknown (see ponder.pricing).
    price: Price | None = None
    # Refuse requests (429) once this model's spend today (UTC) reaches this many USD.
    daily_cap_usd: float | None = None
    # Retries, timeouts, fallbacks and breaker (ponder.policies wraps the provider in them).
    policies: Policies = field(default_factory=Policies)
    # Provider-specific extras (e.g. ``path`` for the local provider); passed through as is.
    options: Mapping[str, Any] = field(default_factory=dict)

    def api_key(self) -> str | None:
        """The key's value from the environment, or None when the model needs none / is unset."""
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None

    @property
    def connect_timeout_s(self) -> float | None:
        connect_ms = self.policies.timeouts.connect_ms
        return None if connect_ms is None else connect_ms / 1000

    @property
    def upstream_model(self) -> str:
        return self.model or self.name


@dataclass(frozen=True, slots=True)
class Config:
    models: Mapping[str, ModelConfig]
    path: Path | None = None
    # Router and server settings are read by their own modules from these raw tables.
    router: Mapping[str, Any] = field(default_factory=dict)
    server: Mapping[str, Any] = field(default_factory=dict)

    def model(self, name: str) -> ModelConfig:
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModelError(name, self.names()) from None

    def resolve(self, name: str) -> str:
        """The alias a request's ``model`` names: an alias, ``auto``, or the upstream model
        id of exactly one configured model (clients such as Claude Code send their own model
        ids: ``claude-sonnet-4-5`` reaches the alias configured for it)."""
        if name == AUTO or name in self.models:
            return name
        matches = [alias for alias, m in self.models.items() if m.model == name]
        if len(matches) == 1:
            return matches[0]
        raise UnknownModelError(name, self.names())

    def names(self) -> list[str]:
        """Every name a request may use, ``auto`` included."""
        return sorted({*self.models, AUTO})


def default_models() -> dict[str, ModelConfig]:
    return {
        "fast": ModelConfig("fast", "local", thinking=ThinkingConfig(enabled=False)),
        "deep": ModelConfig("deep", "local", thinking=ThinkingConfig(enabled=True)),
        # fast raced against deep, the embedded model's checks accepting fast's answer early
        "hedge": ModelConfig(
            "hedge",
            "hedge",
            options={
                "fast": "fast",
                "deep": "deep",
                "verifier": "embedded",
                # the shipped router knows these two: race only where it lowers the wait
                "race": "when_it_pays",
            },
        ),
    }


def load_config(path: str | Path | None = None) -> Config:
    """Read ``path``, else ``$PONDER_CONFIG``, else ``./ponder.toml``; defaults when none exists.

    A path given explicitly (argument or env var) must exist.
    """
    explicit = path if path is not None else os.environ.get(CONFIG_ENV)
    file = Path(explicit) if explicit else DEFAULT_PATH
    if not file.exists():
        if explicit:
            raise ConfigError(f"Config file {str(file)!r} does not exist.")
        return Config(models=default_models())
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read {str(file)!r}: {exc}") from exc
    return parse_config(data, path=file)


def parse_config(data: Mapping[str, Any], path: Path | None = None) -> Config:
    models = default_models()
    tables = data.get("models", {})
    if not isinstance(tables, Mapping):
        raise ConfigError("[models] must be a table of model tables, e.g. [models.deep].")
    for name, table in tables.items():
        models[name] = _parse_model(name, table)
    if AUTO in models:
        raise ConfigError("'auto' is reserved for the router; name the model something else.")
    for model in models.values():
        for fallback in model.policies.fallbacks:
            if fallback not in models or fallback == model.name:
                raise ConfigError(
                    f"[models.{model.name}] fallbacks names {fallback!r}, which is"
                    + (" the model itself." if fallback == model.name else " not a model.")
                    + f" Known models: {', '.join(sorted(models))}."
                )
    return Config(
        models=models,
        path=path,
        router=dict(data.get("router", {})),
        server=dict(data.get("server", {})),
    )


_MODEL_KEYS = {
    "provider",
    "base_url",
    "model",
    "api_key_env",
    "thinking",
    "timeout_s",
    "price",
    "daily_cap_usd",
}
_PRICE_KEYS = {"input", "output", "cached_input", "reasoning"}


def _usd(value: Any, where: str, *, required: bool) -> float | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where} must be a number of USD (0 or more).")
    return float(value)


def _parse_price(raw: Any, where: str) -> Price | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{where} price must be a table in USD per million tokens,"
            " e.g. price = { input = 0.60, output = 2.50 }."
        )
    unknown = set(raw) - _PRICE_KEYS
    if unknown:
        raise ConfigError(f"{where} price has unknown keys: {', '.join(sorted(unknown))}.")
    if "input" not in raw or "output" not in raw:
        raise ConfigError(f"{where} price needs both input and output (USD per million tokens).")
    return Price(
        input=_usd(raw["input"], f"{where} price.input", required=True) or 0.0,
        output=_usd(raw["output"], f"{where} price.output", required=True) or 0.0,
        cached_input=_usd(raw.get("cached_input"), f"{where} price.cached_input", required=False),
        reasoning=_usd(raw.get("reasoning"), f"{where} price.reasoning", required=False),
    )
_THINKING_KEYS = {"enabled", "budget", "effort", "flavour", "inline_tags", "opens_in_template"}


def _optional_bool(value: Any, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ConfigError(f"{where} must be true or false (or left out to detect).")


def _parse_model(name: str, table: Any) -> ModelConfig:
    where = f"[models.{name}]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table.")
    provider = table.get("provider")
    if not isinstance(provider, str) or not provider:
        raise ConfigError(f'{where} needs provider = "<kind>" (e.g. openai, anthropic, local).')
    if "api_key" in table:
        raise ConfigError(
            f'{where} has api_key: secrets never go in the file. Use api_key_env = "ENV_VAR".'
        )
    thinking_table = table.get("thinking", {})
    if not isinstance(thinking_table, Mapping):
        raise ConfigError(
            f"{where} thinking must be a table, e.g. thinking = {{ enabled = true }}."
        )
    unknown = set(thinking_table) - _THINKING_KEYS
    if unknown:
        raise ConfigError(f"{where} thinking has unknown keys: {', '.join(sorted(unknown))}.")
    flavour = thinking_table.get("flavour", "none")
    if flavour not in THINKING_FLAVOURS:
        raise ConfigError(
            f"{where} thinking.flavour must be one of {', '.join(THINKING_FLAVOURS)}."
        )
    effort = thinking_table.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise ConfigError(f"{where} thinking.effort must be one of {', '.join(EFFORTS)}.")
    budget = thinking_table.get("budget")
    if budget is not None and (not isinstance(budget, int) or budget <= 0):
        raise ConfigError(f"{where} thinking.budget must be a positive integer of tokens.")
    thinking = ThinkingConfig(
        enabled=bool(thinking_table.get("enabled", True)),
        budget=budget,
        effort=effort,
        flavour=flavour,
        inline_tags=_optional_bool(
            thinking_table.get("inline_tags"), f"{where} thinking.inline_tags"
        ),
        opens_in_template=bool(thinking_table.get("opens_in_template", False)),
    )
    options = {k: v for k, v in table.items() if k not in _MODEL_KEYS | POLICY_KEYS}
    return ModelConfig(
        name=name,
        provider=provider,
        base_url=table.get("base_url"),
        model=table.get("model"),
        api_key_env=table.get("api_key_env"),
        thinking=thinking,
        timeout_s=float(table.get("timeout_s", 600.0)),
        price=_parse_price(table.get("price"), where),
        daily_cap_usd=_usd(table.get("daily_cap_usd"), f"{where} daily_cap_usd", required=False),
        policies=parse_policies(where, table),
        options=options,
    )
