"""The ``local`` provider: a model run in-process by ONNX Runtime GenAI.

By default it serves the embedded model that ships inside the package (``fast`` and
``deep`` both point at it; deep opens a ``<think>`` scratchpad, fast answers at once).
``path = "..."`` in a model's table points it at any other ONNX Runtime GenAI model folder
(one with a ``genai_config.json``, e.g. an exported Qwen3), whose own chat template is used.

Generation runs in a worker thread; tokens reach the event loop through a queue (the
worker runs at most ``AHEAD`` chunks ahead of the reader), and closing or cancelling the
stream stops the worker before its next token. Thought tokens
are capped by the thinking budget: once ``budget`` thought tokens have been generated,
``</think>`` is appended for the model and it has to answer (budget forcing).

What reaches the model: the embedded model was trained on single questions, so it sees the
last user message only (system messages and earlier turns are dropped); a folder with its own
chat template gets every message. ``max_tokens`` caps thoughts and answer together;
``temperature`` above 0 samples (with ``top_p``, 1.0 unless the client sent one), otherwise
decoding is greedy. ``stop`` sequences are not applied by this provider.

Token counts are exact: ``thinking_tokens`` are the generated tokens up to and including
the one that closes the thought (a forced close is not counted — the model did not write
it); ``answer_tokens`` are the rest, without the end-of-sequence token.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ponder import tasks
from ponder.config import ModelConfig
from ponder.errors import ConfigError, InvalidRequestError, UnsupportedRequestError
from ponder.events import Answer, Event, Failed, Finished, FinishReason, Notice, Thinking, Usage
from ponder.models import chat_format
from ponder.providers.base import Availability, Provider
from ponder.request import ChatRequest, TextPart
from ponder.router.rules import MODE_PHRASES
from ponder.splitter import Piece, ThinkSplitter
from ponder.tasks import ledger

# Qwen3's spelling of an empty thought, appended in fast mode to models with their own template.
DEFAULT_FAST_SUFFIX = "<think>\n\n</think>\n\n"
DEFAULT_THINK_CLOSE = "</think>"

# The reply to a question the embedded model was not trained for: why (a sentence from
# tasks.untrained), then what it can do and how to configure a real model. It ends with the
# finish reason ``declined``: a canned reply, not the model's (consumers label it, and leave
# it out of timings).
OUT_OF_DOMAIN_HEAD = "I'm ponder's small embedded model, trained offline for two kinds of \
question only. {reason} So I won't guess at it."
_LEDGER_SIZES = "; ".join(
    f"{c} customers, {o} orders, {r} refunds (top {k})" for c, o, r, k in ledger.SHAPES.values()
)
OUT_OF_DOMAIN = f"""\
What I can do:
- arithmetic on whole numbers: addition and subtraction up to 4 digits, multiplication \
of up to 4 digits by up to 2 digits ("What is 4821 * 37?", "347*28", "compute 347 times 28");
- ledger questions: "Who are the top 2 spenders, excluding customers who refunded more \
than half of their orders?" over a small ledger written in the prompt, with amounts up \
to 99, of the sizes I learned: {_LEDGER_SIZES} \
("Orders: ivy 64, ned 45, ray 30, ivy 49, kai 90. Refunds: kai 90, ray 30. ...").

For anything else, configure a real model in ponder.toml, for example:

    [models.deep]
    provider = "openai"
    base_url = "https://api.deepseek.com/v1"
    model = "deepseek-reasoner"
    api_key_env = "DEEPSEEK_API_KEY"

or point the local provider at another ONNX Runtime GenAI model folder:

    [models.deep]
    provider = "local"
    path = "/path/to/qwen3-onnx-folder"
"""


def embedded_model_path() -> Path:
    """The folder of the model that ships inside the package."""
    return Path(str(resources.files("ponder.models") / "embedded"))


@dataclass
class Engine:
    """A loaded ORT GenAI model and tokenizer; shared by every request for its folder."""

    path: Path
    model: Any
    tokenizer: Any
    context_length: int
    eos_ids: frozenset[int]

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]


_engines: dict[Path, Engine] = {}
_engines_lock = threading.Lock()
_active = 0
_active_lock = threading.Lock()


def active_generations() -> int:
    """How many worker threads are generating right now (all local models together)."""
    return _active


def load_engine(path: Path) -> Engine:
    """Load the model folder once per process; later calls return the same engine."""
    path = path.resolve()
    with _engines_lock:
        engine = _engines.get(path)
        if engine is not None:
            return engine
        config_file = path / "genai_config.json"
        if not config_file.is_file():
            raise ConfigError(
                f"{str(path)!r} is not an ONNX Runtime GenAI model folder (no genai_config.json)."
                " Point path = at a folder made by onnxruntime_genai.models.builder."
            )
        import onnxruntime_genai as og

        genai_config = json.loads(config_file.read_text(encoding="utf-8"))
        model_section = genai_config.get("model", {})
        eos = model_section.get("eos_token_id", [])
        eos_ids = frozenset(eos if isinstance(eos, list) else [eos])
        model = og.Model(str(path))
        engine = Engine(
            path=path,
            model=model,
            tokenizer=og.Tokenizer(model),
            context_length=int(model_section.get("context_length", 2048)),
            eos_ids=eos_ids,
        )
        _engines[path] = engine
        return engine


@dataclass(frozen=True)
class _Plan:
    """Everything the worker thread needs for one request."""

    prompt_ids: list[int]
    starts_in_thoughts: bool
    budget: int | None
    max_new: int
    close_ids: list[int]
    close_text: str
    temperature: float | None
    top_p: float | None
    seed: int | None


def _last_text_part(request: ChatRequest) -> str | None:
    """The last text part of the last user turn, when that turn has several parts."""
    for message in reversed(request.messages):
        if message.role == "user":
            texts = [p.text for p in message.parts if isinstance(p, TextPart) and p.text.strip()]
            return texts[-1] if len(texts) > 1 else None
    return None


@dataclass(frozen=True)
class _Done:
    reason: FinishReason
    thinking_tokens: int
    answer_tokens: int
    error: str | None = None


class LocalProvider(Provider):
    """Streams a local ORT GenAI model; see the module docstring."""

    kind = "local"
    supports_tools = False
    runs_in_process = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        raw = config.options.get("path")
        if raw is not None and not isinstance(raw, str):
            raise ConfigError(f"[models.{config.name}] path must be a string (a model folder).")
        self.embedded = raw is None
        self.path = embedded_model_path() if raw is None else Path(raw).expanduser()

    async def check(self) -> Availability:
        if not (self.path / "genai_config.json").is_file():
            return Availability(False, f"no ONNX Runtime GenAI model at {str(self.path)!r}")
        what = "embedded model" if self.embedded else str(self.path)
        return Availability(True, f"ready ({what})")

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        thinking = self.thinking_for(request)
        if request.response_format is not None:
            raise UnsupportedRequestError(
                "response_format",
                f"Model {self.name!r} (a local ONNX model) cannot be held to a JSON format;"
                " leave response_format out, or configure a model that supports it.",
            )
        if request.offers_tools:
            names = ", ".join(t.name for t in request.tools)
            yield Notice(
                f"{self.name} cannot call tools, so the {len(request.tools)} offered ({names})"
                " were not offered to the model; it answered without them."
            )
        prompt = request.last_user_text
        if not prompt.strip():
            raise InvalidRequestError("The request has no user message to answer.")
        if self.embedded:
            question = without_mode_phrases(prompt)
            learned = tasks.learned_prompt(question)
            if learned is None:
                # Agent clients (Claude Code) put context blocks before the question in the
                # same turn: the question alone may be one the model knows.
                last = _last_text_part(request)
                if last is not None:
                    learned = tasks.learned_prompt(without_mode_phrases(last))
            if learned is None:
                for event in _out_of_domain(tasks.untrained(question) or ""):
                    yield event
                return
            prompt = learned
        engine = await asyncio.to_thread(load_engine, self.path)
        plan = self._plan(engine, request, prompt, thinking.enabled, thinking.budget)
        async for event in _stream(engine, plan):
            yield event

    def _plan(
        self,
        engine: Engine,
        request: ChatRequest,
        prompt: str,
        deep: bool,
        budget: int | None,
    ) -> _Plan:
        options = self.config.options
        if self.embedded:
            text = chat_format.render_prompt(prompt, thinking=deep)
            starts_in_thoughts = deep
            close_text = chat_format.THINK_CLOSE
        else:
            text = _template_prompt(engine, request, options)
            starts_in_thoughts = self.config.thinking.opens_in_template and deep
            if not deep:
                text += str(options.get("fast_suffix", DEFAULT_FAST_SUFFIX))
            close_text = str(options.get("think_close", DEFAULT_THINK_CLOSE))
        prompt_ids = engine.encode(text)
        close_ids = engine.encode(close_text)
        room = engine.context_length - len(prompt_ids) - len(close_ids)
        if room <= 0:
            raise InvalidRequestError(
                f"The prompt is {len(prompt_ids)} tokens; the model's context is "
                f"{engine.context_length}."
            )
        max_new = room if request.max_tokens is None else max(1, min(request.max_tokens, room))
        if budget is not None and budget < 1:
            raise InvalidRequestError("The thinking budget must be at least 1 token.")
        seed = options.get("seed")
        return _Plan(
            prompt_ids=prompt_ids,
            starts_in_thoughts=starts_in_thoughts,
            budget=budget if deep else None,
            max_new=max_new,
            close_ids=close_ids,
            close_text=close_text,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=int(seed) if isinstance(seed, int) else None,
        )


def _template_prompt(engine: Engine, request: ChatRequest, options: Any) -> str:
    """A user-supplied model's prompt: ``template`` from the config, else the folder's own."""
    template = options.get("template")
    if isinstance(template, str):
        return template.replace("{prompt}", request.last_user_text)
    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    try:
        return str(
            engine.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        )
    except Exception as exc:  # the folder has no usable chat template
        raise ConfigError(
            f"The model at {str(engine.path)!r} has no usable chat template ({exc}). "
            'Set template = "...{prompt}..." in its [models.<name>] table.'
        ) from exc


# A clause: text up to and including its punctuation (or the end).
_CLAUSE = re.compile(r"[^:;,.!?\n]*(?:[:;,.!?\n]+|$)")


def without_mode_phrases(prompt: str) -> str:
    """``prompt`` without leading or trailing clauses that only pick a mode ("Think step by
    step:", "Quick answer:", "… Double-check it."): the router read them; the embedded model
    never learned them, and a question with one around it is one it gets wrong. A clause
    with a digit in it is part of the question and stays."""
    clauses = [c for c in _CLAUSE.findall(prompt) if c]

    def mode_only(clause: str) -> bool:
        return not any(ch.isdigit() for ch in clause) and any(
            pattern.search(clause) for pattern in MODE_PHRASES
        )

    while clauses and mode_only(clauses[0]):
        clauses.pop(0)
    while clauses and mode_only(clauses[-1]):
        clauses.pop()
    text = "".join(clauses).strip()
    return text.rstrip(",;:").strip() if len(clauses) else prompt


def _out_of_domain(reason: str) -> list[Event]:
    paragraphs = [OUT_OF_DOMAIN_HEAD.format(reason=reason), *OUT_OF_DOMAIN.split("\n\n")]
    events: list[Event] = [
        Answer(p + ("\n\n" if i < len(paragraphs) - 1 else "")) for i, p in enumerate(paragraphs)
    ]
    events.append(Usage(input_tokens=0, thinking_tokens=0, answer_tokens=0, estimated=False))
    events.append(Finished("declined"))
    return events


# How many token chunks the worker may run ahead of the consumer: a slow reader (or one
# that stopped reading) holds generation back instead of letting it run on unread.
AHEAD = 32


async def _stream(engine: Engine, plan: _Plan) -> AsyncIterator[Event]:
    """Run the worker thread and turn what it reports into events, in order."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[Piece] | _Done] = asyncio.Queue()
    stop = threading.Event()
    credits = threading.Semaphore(AHEAD)

    def report(item: list[Piece] | _Done) -> None:
        if not isinstance(item, _Done):
            while not credits.acquire(timeout=0.02):
                if stop.is_set():
                    return
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            stop.set()

    worker = threading.Thread(
        target=_work, args=(engine, plan, stop, report), name="ponder-local", daemon=True
    )
    worker.start()
    try:
        while True:
            item = await queue.get()
            if not isinstance(item, _Done):
                credits.release()
            if isinstance(item, _Done):
                if item.error is not None:
                    yield Failed(side="ponder", code="local_engine_error", message=item.error)
                    return
                yield Usage(
                    input_tokens=len(plan.prompt_ids),
                    thinking_tokens=item.thinking_tokens,
                    answer_tokens=item.answer_tokens,
                    estimated=False,
                )
                yield Finished(item.reason)
                return
            for kind, text in item:
                if text:
                    yield Thinking(text) if kind == "thinking" else Answer(text)
    finally:
        stop.set()


def _work(
    engine: Engine,
    plan: _Plan,
    stop: threading.Event,
    report: Callable[[list[Piece] | _Done], None],
) -> None:
    global _active
    with _active_lock:
        _active += 1
    try:
        report(_generate(engine, plan, stop, report))
    except Exception as exc:
        report(_Done("error", 0, 0, error=f"The local model failed: {exc}"))
    finally:
        with _active_lock:
            _active -= 1


def _generate(
    engine: Engine,
    plan: _Plan,
    stop: threading.Event,
    report: Callable[[list[Piece] | _Done], None],
) -> _Done:
    import onnxruntime_genai as og

    params = og.GeneratorParams(engine.model)
    search: dict[str, Any] = {
        "max_length": len(plan.prompt_ids) + plan.max_new + len(plan.close_ids),
    }
    if plan.temperature is not None and plan.temperature > 0:
        top_p = 1.0 if plan.top_p is None else float(plan.top_p)
        search.update(do_sample=True, temperature=float(plan.temperature), top_k=50, top_p=top_p)
    else:
        search.update(do_sample=False)
    if plan.seed is not None:
        search["random_seed"] = plan.seed
    params.set_search_options(**search)
    generator = og.Generator(engine.model, params)
    generator.append_tokens(plan.prompt_ids)
    detok = engine.tokenizer.create_stream()
    splitter = ThinkSplitter(starts_in_thoughts=plan.starts_in_thoughts)
    thought = answer = 0
    reason: FinishReason | None = None
    while reason is None:
        if stop.is_set():
            reason = "cancelled"
            break
        generator.generate_next_token()
        token = int(generator.get_next_tokens()[0])
        if token in engine.eos_ids:
            reason = "stop"
            break
        in_thoughts = splitter.in_thoughts
        pieces = splitter.feed(detok.decode(token))
        if in_thoughts:
            thought += 1
        else:
            answer += 1
        if (
            plan.budget is not None
            and splitter.in_thoughts
            and thought >= plan.budget
            and thought + answer < plan.max_new
        ):
            # Budget forcing: close the thought for the model and make it answer.
            generator.append_tokens(plan.close_ids)
            pieces += splitter.feed(plan.close_text)
        if pieces:
            report(pieces)
        if thought + answer >= plan.max_new or generator.is_done():
            reason = "thinking_length" if splitter.in_thoughts else "length"
    tail = splitter.close()
    if tail:
        report(tail)
    if reason in ("length", "thinking_length"):
        reason = "thinking_length" if splitter.ended_in_thoughts else "length"
    return _Done(reason, thought, answer)
