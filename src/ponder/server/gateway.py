"""The gateway's shared state: engine, trace writer, metrics, latency tracker, secrets.

One :class:`Gateway` per app. :meth:`Gateway.close_exchange` is where every request ends up,
however it ended: it builds the trace and hands it to the writer thread, the metrics and
the router's latency tracker (all in memory; the writer does the I/O).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

from ponder.config import Config
from ponder.engine import Engine
from ponder.router.default import latency_tracker, load_default_router
from ponder.router.latency import LatencyTracker
from ponder.server.exchange import Exchange
from ponder.server.metrics import GatewayMetrics
from ponder.store.record import TraceStatus
from ponder.store.writer import TraceWriter

log = logging.getLogger("ponder.server")
API_KEY_ENV = "PONDER_API_KEY"
DEFAULT_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerSettings:
    api_key: str | None = None  # bearer token clients must send; None: no auth
    body_limit: int = DEFAULT_BODY_LIMIT
    drain_timeout_s: float = 10.0


class Gateway:
    def __init__(
        self,
        config: Config,
        settings: ServerSettings,
        writer: TraceWriter | None = None,
        engine: Engine | None = None,
        latency: LatencyTracker | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.writer = writer
        self.latency = latency or latency_tracker(config)
        self.engine = engine or Engine(config, router=load_default_router(config, self.latency))
        self.metrics = GatewayMetrics()
        self.secrets = collect_secrets(config, settings.api_key)
        self.draining = False  # set when the server was told to stop (SIGTERM)
        self.active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def open_exchange(self, exchange: Exchange) -> None:
        self.active += 1
        self._idle.clear()

    def close_exchange(self, exchange: Exchange, status: TraceStatus) -> None:
        self.active -= 1
        if self.active == 0:
            self._idle.set()
        try:
            record = exchange.record(status, self.secrets)
            if self.writer is not None:
                self.writer.submit(record)
            self.metrics.observe(record)
            if record.status == "ok" and record.mode and record.ttfa_ms is not None:
                self.latency.observe(record.mode, record.ttfa_ms)
        except Exception:  # recording must never break a response
            log.exception("could not record trace %s", exchange.request.request_id)

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        await self.engine.aclose()
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)


def collect_secrets(config: Config, api_key: str | None) -> tuple[str, ...]:
    """Every secret value this process knows: the models' keys and the gateway's own token."""
    values = {api_key, os.environ.get(API_KEY_ENV)}
    values.update(model.api_key() for model in config.models.values())
    return tuple(sorted(v for v in values if v and len(v) >= 4))
