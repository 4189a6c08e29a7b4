"""One small exception tree. The boundary (CLI, server) maps it to messages and JSON errors.

Every message is written for the person who has to act on it, and never contains a secret.
"""

from __future__ import annotations

from collections.abc import Iterable

from ponder.events import Failed, FailureSide


class PonderError(Exception):
    """Base of every error ponder raises on purpose."""

    side: FailureSide = "ponder"
    code: str = "ponder_error"
    http_status: int = 500
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_event(self) -> Failed:
        status = getattr(self, "status", None)
        param = getattr(self, "param", None)
        return Failed(
            side=self.side,
            code=self.code,
            message=self.message,
            retryable=self.retryable,
            status=status if isinstance(status, int) else None,
            param=param if isinstance(param, str) else None,
        )


class ConfigError(PonderError):
    """ponder.toml is missing a piece, or a piece is malformed."""

    side: FailureSide = "config"
    code = "config_error"
    http_status = 500


class UnknownModelError(ConfigError):
    code = "model_not_found"
    http_status = 404

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"Unknown model {name!r}. Known models: {', '.join(self.known) or '(none)'}."
            " Add it under [models.<name>] in ponder.toml."
        )


class MissingKeyError(ConfigError):
    code = "missing_api_key"
    http_status = 401

    def __init__(self, model: str, env_var: str) -> None:
        self.env_var = env_var
        super().__init__(
            f"Model {model!r} needs an API key: set the environment variable {env_var}."
        )


class InvalidRequestError(PonderError):
    """The caller sent something ponder cannot use."""

    side: FailureSide = "client"
    code = "invalid_request_error"
    http_status = 400


class UnsupportedRequestError(InvalidRequestError):
    """The request asks for something the chosen model or its API cannot do; ``param`` names
    the field. Raised by a provider before it sends anything upstream."""

    code = "unsupported_value"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class ReasoningMissingError(InvalidRequestError):
    """The upstream needs an earlier turn's reasoning back and there is none to send."""

    code = "reasoning_missing"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.param = "messages"


class ToolsUnsupportedError(UnsupportedRequestError):
    """The request forces a tool call on a model that cannot call tools."""

    def __init__(self, model: str, capable: Iterable[str] = ()) -> None:
        self.model = model
        self.capable = sorted(capable)
        others = (
            f" Models configured here that can: {', '.join(self.capable)}."
            if self.capable
            else " No model configured here can: add one under [models.<name>] in ponder.toml."
        )
        super().__init__(
            "tool_choice",
            f"Model {model!r} cannot call tools, and tool_choice forces a call."
            f" Send tool_choice auto (it then answers without tools) or use another model.{others}",
        )

    def with_capable(self, capable: Iterable[str]) -> ToolsUnsupportedError:
        return ToolsUnsupportedError(self.model, capable)


class UpstreamError(PonderError):
    """The provider answered with an error status."""

    side: FailureSide = "upstream"
    code = "upstream_error"
    http_status = 502

    def __init__(
        self, provider: str, status: int, message: str, retry_after_s: float | None = None
    ) -> None:
        self.provider = provider
        self.status = status
        self.retryable = status in (408, 409, 429) or status >= 500
        # What the server asked for in Retry-After / retry-after-ms, when it said.
        self.retry_after_s = retry_after_s
        super().__init__(f"{provider} returned HTTP {status}: {message}")


class UpstreamUnreachableError(PonderError):
    """Could not connect, or the connection timed out."""

    side: FailureSide = "network"
    code = "upstream_unreachable"
    http_status = 502
    retryable = True


class StreamBrokenError(PonderError):
    """The upstream stream was malformed or dropped mid-way; what arrived is kept."""

    side: FailureSide = "upstream"
    code = "stream_broken"
    http_status = 502
    retryable = True


class DeadlineError(PonderError):
    """A time limit of the model's ``timeouts`` passed (see :mod:`ponder.policies.timeout`)."""

    side: FailureSide = "upstream"
    http_status = 504
    retryable = True

    def __init__(self, deadline: str, message: str) -> None:
        self.deadline = deadline  # ttft, ttfa, idle or total
        self.code = f"{deadline}_timeout"
        super().__init__(message)


class CircuitOpenError(PonderError):
    """The model's circuit breaker is open: recent attempts failed too often to try now."""

    side: FailureSide = "upstream"
    code = "circuit_open"
    http_status = 503
    retryable = True  # for the fallbacks; the retry policy never retries an open breaker

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.status = 503
        self.retry_after_s = retry_after_s
        super().__init__(message)


class OverloadedError(PonderError):
    """The gateway is at its in-flight cap: try again shortly rather than queue unboundedly."""

    side: FailureSide = "ponder"
    code = "overloaded"
    http_status = 429
    retryable = True

    def __init__(self, limit: int, retry_after_s: int = 1) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"The gateway is serving its limit of {limit} requests at once;"
            f" retry after {retry_after_s} s (server.max_in_flight in ponder.toml raises it)."
        )


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret value that occurs in ``text``; used before any error leaves."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
