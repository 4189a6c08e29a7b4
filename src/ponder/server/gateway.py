"""The gateway's shared state: engine, trace writer, metrics, latency tracker, secrets.

One :class:`Gateway` per app. :meth:`Gateway.close_exchange` is where every request ends up,
however it ended: it builds the trace and hands it to the writer thread, the metrics, the
router's latency tracker and the OpenTelemetry exporter (all in memory or queued; their
threads do the I/O). Reads of the store (history, ``/api/traces``, the latency seed) go
through :meth:`Gateway.read_traces`, on a backend opened in the server's own loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ponder import parts_json
from ponder.budget import SpendLedger
from ponder.config import AUTO, Config, Price
from ponder.engine import Engine
from ponder.errors import OverloadedError, PonderError
from ponder.estimate import Estimator
from ponder.events import Usage, now_ns
from ponder.meter import NS_PER_MS
from ponder.pricing import Cost, cost_of, price_for
from ponder.reasoning_memory import ReasoningMemory, RememberedTurn
from ponder.request import Message
from ponder.router.default import latency_tracker, load_default_router
from ponder.router.latency import LatencyTracker
from ponder.server.errors import StoreDownError
from ponder.server.exchange import Exchange
from ponder.server.metrics import GatewayMetrics
from ponder.server.otel import RequestTracer, tracer_from_env
from ponder.server.response_memory import ResponseMemory
from ponder.server.signing import SIGNING_KEY_ENV, ThoughtSigner, signing_key
from ponder.store.base import StoreUnavailable, TraceQuery, TraceStore
from ponder.store.record import (
    ConversationSummary,
    ReasoningRecord,
    ResponseRecord,
    TraceRecord,
    TraceStatus,
)
from ponder.store.writer import TraceWriter
from ponder.tokens import estimate_tokens
from ponder.wait_watch import stall_after_ms, stall_floor_ms, stream_notes

log = logging.getLogger("ponder.server")
API_KEY_ENV = "PONDER_API_KEY"
DEFAULT_BODY_LIMIT = 1024 * 1024
TURN_SAVE_WAIT_S = 0.5
DELETE_FLUSH_S = 5.0  # how long a delete waits for this gateway's queued traces to be written
# Requests in flight before new ones get 429 + Retry-After (load shedding, not a queue).
DEFAULT_MAX_IN_FLIGHT = 256


@dataclass(frozen=True, slots=True)
class ServerSettings:
    api_key: str | None = None  # bearer token clients must send; None: no auth
    body_limit: int = DEFAULT_BODY_LIMIT
    drain_timeout_s: float = 10.0
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT


class Gateway:
    def __init__(
        self,
        config: Config,
        settings: ServerSettings,
        writer: TraceWriter | None = None,
        engine: Engine | None = None,
        latency: LatencyTracker | None = None,
        tracer: RequestTracer | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.writer = writer
        self.latency = latency or latency_tracker(config)
        self.spend = SpendLedger(load=self._load_spend if writer is not None else None)
        self.engine = engine or Engine(
            config, router=load_default_router(config, self.latency), spend=self.spend
        )
        if self.engine.spend is None:
            self.engine.spend = self.spend
        self.metrics = GatewayMetrics()
        self._prices: dict[str, Price | None] = {}
        self.estimator = Estimator()  # expected waits, from the traces this gateway sees
        self.stall_floor_ms = stall_floor_ms(config)
        self.reasoning = ReasoningMemory(
            lookup=self._lookup_reasoning if writer is not None else None,
            save=self._save_reasoning if writer is not None else None,
        )
        self.secrets = collect_secrets(config, settings.api_key)
        self.responses = ResponseMemory(
            lookup=self._lookup_response if writer is not None else None,
            save=self._save_response if writer is not None else None,
        )
        # Signs reasoning handed to clients that carry it as opaque tokens (see signing.py).
        self.signer = ThoughtSigner(signing_key(writer.dsn if writer is not None else None))
        self.draining = False  # set when the server was told to stop (SIGTERM)
        self.active = 0
        self.tracer = tracer if tracer is not None else tracer_from_env()
        self._idle = asyncio.Event()
        self._idle.set()
        self._reader: TraceStore | None = None
        self._saving: dict[str, list[concurrent.futures.Future[bool]]] = {}
        self._reader_lock = asyncio.Lock()

    def admit(self) -> None:
        """Refuse a request when the in-flight cap is reached (call right before
        :meth:`open_exchange`, with no ``await`` between: the check and the count are one)."""
        if self.active >= self.settings.max_in_flight:
            raise OverloadedError(self.settings.max_in_flight)

    def open_exchange(self, exchange: Exchange) -> None:
        self.active += 1
        self._idle.clear()

    def close_exchange(self, exchange: Exchange, status: TraceStatus) -> None:
        self.active -= 1
        if self.active == 0:
            self._idle.set()
        self._saving.pop(exchange.request.request_id, None)  # a sink that never waited
        try:
            exchange.notes.extend(self._wait_notes(exchange, status))
            record = exchange.record(status, self.secrets, self.price(exchange))
            if self.writer is not None:
                self.writer.submit(record)
            self.metrics.observe(record)
            if record.model is not None:
                self.spend.add(record.model, record.cost_usd, record.created_at)
            if record.timed and record.mode and record.thinking_tokens is not None:
                self.engine.costs.observe(
                    record.mode, record.thinking_tokens, record.answer_tokens or 0
                )
            if record.timed and record.mode and record.ttfa_ms is not None:
                self.latency.observe(record.mode, record.ttfa_ms)
            self.estimator.observe_trace(record)
            if self.tracer is not None:
                self.tracer.record(record, exchange.child_spans, exchange.trace_context)
        except Exception:  # recording must never break a response
            log.exception("could not record trace %s", exchange.request.request_id)

    async def _load_spend(self, model: str, since: float) -> float:
        return await (await self._reader_store()).spend_since(model, since)

    def price(self, exchange: Exchange) -> Price | None:
        """The price of the model that served the exchange (None: unknown)."""
        started = exchange.started
        if started is None or started.model == AUTO:
            return None
        if started.model not in self._prices:
            try:
                self._prices[started.model] = price_for(self.config.model(started.model))
            except PonderError:
                self._prices[started.model] = None
        return self._prices[started.model]

    def cost(self, exchange: Exchange) -> Cost | None:
        """What the exchange cost so far (None: the model has no price)."""
        usage = exchange.usage or Usage(
            None,
            estimate_tokens(exchange.thinking_text),
            estimate_tokens(exchange.answer_text),
            estimated=True,
        )
        return cost_of(self.price(exchange), usage, exchange.prompt_tokens())

    def stall_after_ms(self, model: str) -> float:
        """How long without a token counts as a stall for ``model``."""
        return stall_after_ms(self.estimator.usual_gap_ms(model), self.stall_floor_ms)

    def _wait_notes(self, exchange: Exchange, status: TraceStatus) -> list[str]:
        """Stall and loop notes for the trace (see :mod:`ponder.wait_watch`)."""
        started = exchange.started
        if started is None:
            return []
        gap_ns = exchange.longest_gap_ns
        if status != "ok":  # the client left (or it failed) during a quiet spell
            gap_ns = max(gap_ns, now_ns() - (exchange.last_token_ns or started.at_ns))
        return stream_notes(
            exchange.thinking_text, gap_ns / NS_PER_MS, self.stall_after_ms(started.model)
        )

    def remember(self, exchange: Exchange) -> None:
        """Keep a finished tool-call turn's reasoning for the turns that follow it. Called by
        the sinks when the stream finished, before its last bytes go out: the client's next
        turn cannot arrive before the reasoning it may need is remembered."""
        started = exchange.started
        if started is None or not exchange.tool_calls or not exchange.turn.has_reasoning:
            return
        if started.model == AUTO:
            return
        try:
            model = self.config.model(started.model)
        except PonderError:
            return
        exchange.turn.tag(model.provider, model.upstream_model)
        try:
            self.reasoning.remember(exchange.request.request_id, exchange.turn.parts)
        except Exception:  # remembering must never break a response
            log.exception("could not remember reasoning of %s", exchange.request.request_id)

    def _save_reasoning(self, turn: RememberedTurn) -> None:
        assert self.writer is not None
        encoded = parts_json.dumps(turn.parts)
        now = time.time()
        saves = [
            self.writer.submit_durable(ReasoningRecord(call.id, turn.request_id, now, encoded))
            for call in turn.calls
        ]
        self._saving.setdefault(turn.request_id, []).extend(saves)

    async def turn_saved(self, exchange: Exchange) -> None:
        """Wait (briefly) until what this turn left for the next one (its reasoning, a stored
        Responses conversation) is in the database. The sinks call it right after
        :meth:`remember` and the door's own ``keep_turn``, before the last bytes go out: on a
        shared database the client's next turn may land on another gateway, which can then
        find it. Never longer than ``TURN_SAVE_WAIT_S``, and not at all while the store is
        down (the journal keeps it; this gateway's memory still has it)."""
        saves = self._saving.pop(exchange.request.request_id, None)
        if not saves or self.writer is None or not self.writer.stats().up:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(asyncio.wrap_future(f) for f in saves)), TURN_SAVE_WAIT_S
            )

    async def _lookup_reasoning(self, call_ids: Sequence[str]) -> dict[str, RememberedTurn]:
        rows = await (await self._reader_store()).find_reasoning(list(call_ids))
        return {
            row.call_id: RememberedTurn(row.request_id, parts_json.loads(row.parts))
            for row in rows
        }

    async def _reader_store(self) -> TraceStore:
        """The store's read side, opened on first use in this (the server's) loop."""
        assert self.writer is not None
        async with self._reader_lock:
            if self._reader is None:
                reader = self.writer.reader()
                try:
                    await reader.open()
                except StoreUnavailable as exc:
                    raise StoreDownError(f"The trace store is unavailable: {exc}") from None
                self._reader = reader
            return self._reader

    async def read_traces(self, query: TraceQuery) -> list[TraceRecord]:
        """Traces from the store (every gateway's, on a shared database); none without one."""
        if self.writer is None:
            return []
        reader = await self._reader_store()
        try:
            return await reader.query(query)
        except StoreUnavailable as exc:
            raise StoreDownError(f"The trace store is unavailable: {exc}") from None

    async def list_conversations(
        self, limit: int, before: float | None = None
    ) -> list[ConversationSummary]:
        """Conversations in the store, most recently active first; none without one."""
        if self.writer is None:
            return []
        reader = await self._reader_store()
        try:
            return await reader.conversations(limit, before)
        except StoreUnavailable as exc:
            raise StoreDownError(f"The trace store is unavailable: {exc}") from None

    async def delete_conversation(self, conversation_id: str) -> int:
        """Delete a conversation's traces (how many; 0: none). What this gateway has queued
        for the store is written first, so a turn that just finished goes too."""
        if self.writer is None:
            return 0
        # Bounded: a store that hangs must not hang the request (the delete then says so).
        with contextlib.suppress(TimeoutError):
            await asyncio.to_thread(self.writer.flush, DELETE_FLUSH_S)
        reader = await self._reader_store()
        try:
            return await reader.delete_conversation(conversation_id)
        except StoreUnavailable as exc:
            raise StoreDownError(f"The trace store is unavailable: {exc}") from None

    def _save_response(
        self, response_id: str, request_id: str, messages: tuple[Message, ...]
    ) -> None:
        assert self.writer is not None
        encoded = parts_json.dumps_messages(messages)
        # Durable: a client's next turn names this response at once, maybe on another gateway.
        saved = self.writer.submit_durable(
            ResponseRecord(response_id, request_id, time.time(), encoded)
        )
        self._saving.setdefault(request_id, []).append(saved)

    async def _lookup_response(self, response_id: str) -> tuple[Message, ...] | None:
        row = await (await self._reader_store()).find_response(response_id)
        return parts_json.loads_messages(row.messages) if row is not None else None

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        await self.engine.aclose()
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)
        if self.tracer is not None:
            await asyncio.to_thread(self.tracer.shutdown)


def collect_secrets(config: Config, api_key: str | None) -> tuple[str, ...]:
    """Every secret value this process knows: the models' keys and the gateway's own token."""
    values = {api_key, os.environ.get(API_KEY_ENV), os.environ.get(SIGNING_KEY_ENV)}
    values.update(model.api_key() for model in config.models.values())
    return tuple(sorted(v for v in values if v and len(v) >= 4))
