"""ponder's own signatures over reasoning it hands to a client, so the client can hand it back.

Front doors whose clients carry reasoning between turns as opaque tokens (the Messages API's
``thinking`` blocks and their ``signature``, ``redacted_thinking`` blocks' ``data``) need a
token for reasoning no provider signed: a Kimi, DeepSeek or embedded model's thoughts, or a
part whose provider state (``reasoning_details``, the field it arrived in) a client would
otherwise lose. :class:`ThoughtSigner` makes one: the part's producer, state and — when the
client is not shown it — its text, in a JSON payload, and an HMAC-SHA256 over the payload and
the text the client is shown. When the client sends the token back, :meth:`ThoughtSigner.open`
checks the MAC and gives back the part exactly as it was; any change to the payload or the
text is refused (:class:`TamperedSignatureError`, a 400).

The token is signed, not encrypted: the payload is base64url JSON a client could read. It
only carries what the client could already see or is its own conversation.

The key: ``$PONDER_SIGNING_KEY`` (at least 16 characters; set the same value on every gateway
that serves the same clients), else a random key kept in a file next to a SQLite trace store
(``<db>.signing-key``, mode 0600) so that tokens still verify after a restart, else (no store,
or PostgreSQL: gateways sharing it need the one key) a random key for this process only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, InvalidRequestError
from ponder.request import ReasoningPart
from ponder.store.dsn import SQLITE_PREFIX, scheme

log = logging.getLogger("ponder.server")
SIGNING_KEY_ENV = "PONDER_SIGNING_KEY"
PREFIX = "ponder1."  # no provider's signature starts so (Anthropic's are plain base64)
_MIN_KEY = 16
_MAC_BYTES = 32


class TamperedSignatureError(InvalidRequestError):
    """A reasoning token carries ponder's prefix but does not verify."""

    code = "invalid_signature"

    def __init__(self, param: str, detail: str) -> None:
        super().__init__(
            f"{param}: this reasoning block's signature does not verify ({detail}): the block"
            " was changed after ponder issued it, or was issued by a gateway with another"
            f" signing key (set the same {SIGNING_KEY_ENV} on every gateway). Send the blocks"
            " back exactly as received, or leave the block out."
        )
        self.param = param


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_ponder_token(token: str) -> bool:
    return token.startswith(PREFIX)


class ThoughtSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < _MIN_KEY:
            raise ConfigError(f"The signing key must be at least {_MIN_KEY} bytes.")
        self._key = key

    def _mac(self, payload: str, shown_text: str) -> str:
        digest = hashlib.sha256(shown_text.encode()).digest()
        message = PREFIX.encode() + payload.encode() + b"." + digest
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES])

    def sign(self, part: ReasoningPart, *, text_shown: bool = True) -> str:
        """A token for ``part``; ``text_shown`` False puts the text inside it (the client is
        shown none, as with ``display: omitted``)."""
        data: dict[str, Any] = {}
        if part.provider is not None:
            data["provider"] = part.provider
        if part.model is not None:
            data["model"] = part.model
        if part.signature is not None:
            data["signature"] = part.signature
        if part.redacted:
            data["redacted"] = True
        if part.state:
            data["state"] = dict(part.state)
        if not text_shown:
            data["text"] = part.text
        payload = _b64(json.dumps(data, separators=(",", ":")).encode())
        shown = part.text if text_shown else ""
        return f"{PREFIX}{payload}.{self._mac(payload, shown)}"

    def open(self, token: str, shown_text: str, param: str) -> ReasoningPart:
        """The part ``token`` was issued for, given the text the client sent with it."""
        body = token.removeprefix(PREFIX)
        payload, dot, mac = body.rpartition(".")
        if not dot or not payload:
            raise TamperedSignatureError(param, "malformed token")
        if not hmac.compare_digest(mac, self._mac(payload, shown_text)):
            raise TamperedSignatureError(param, "the MAC does not match the text and payload")
        try:
            data = json.loads(_unb64(payload))
        except ValueError:
            raise TamperedSignatureError(param, "unreadable payload") from None
        if not isinstance(data, Mapping):
            raise TamperedSignatureError(param, "unreadable payload")
        text = data.get("text", shown_text)
        state = data.get("state")
        return ReasoningPart(
            str(text),
            provider=_str(data.get("provider")),
            model=_str(data.get("model")),
            signature=_str(data.get("signature")),
            redacted=bool(data.get("redacted", False)),
            state=dict(state) if isinstance(state, Mapping) else None,
        )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def signing_key(store: str | Path | None) -> bytes:
    """``$PONDER_SIGNING_KEY``, else the key file next to a SQLite store (a path or
    ``sqlite:///`` DSN), else a fresh key (no store, or a database server)."""
    explicit = os.environ.get(SIGNING_KEY_ENV)
    if explicit:
        if len(explicit) < _MIN_KEY:
            raise ConfigError(
                f"{SIGNING_KEY_ENV} must be at least {_MIN_KEY} characters (a random string;"
                " e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
            )
        return explicit.encode()
    target = None if store is None else str(store)
    if target is not None and scheme(target) != "sqlite":
        log.warning(
            "trace store %s is not a file: reasoning tokens are signed with a key for this"
            " process only; set %s (the same on every gateway) so they verify after a restart"
            " and on other gateways",
            scheme(target),
            SIGNING_KEY_ENV,
        )
        target = None
    if target is None or target.removeprefix(SQLITE_PREFIX) == ":memory:":
        return secrets.token_bytes(32)
    path = Path(target.removeprefix(SQLITE_PREFIX))
    key_file = path.with_name(path.name + ".signing-key")
    try:
        existing = key_file.read_bytes().strip()
        if len(existing) >= _MIN_KEY:
            return existing
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot read %s (%s); reasoning tokens will not survive a restart", key_file,
                    exc)  # fmt: skip
        return secrets.token_bytes(32)
    key = secrets.token_urlsafe(32).encode()
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
    except FileExistsError:  # another process made it first: use theirs
        return key_file.read_bytes().strip()
    except OSError as exc:
        log.warning("cannot write %s (%s); reasoning tokens will not survive a restart", key_file,
                    exc)  # fmt: skip
    return key
