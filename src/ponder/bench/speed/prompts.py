"""Where a load run's prompts come from: a file, a bench suite, or generated to a length."""

from __future__ import annotations

import json
from pathlib import Path

from ponder.errors import ConfigError
from ponder.tokens import estimate_tokens

_WORDS = ("sum", "the", "orders", "per", "user", "then", "rank", "them", "by", "refund",
          "share", "and", "list", "top", "three")


def generated(tokens: int, count: int = 64) -> list[str]:
    """``count`` distinct prompts of about ``tokens`` estimated tokens each (each starts with
    its own number, so a server's prefix cache cannot serve one from another)."""
    prompts = []
    for i in range(count):
        words = [f"request {i}:"]
        k = 0
        while estimate_tokens(" ".join(words)) < tokens:
            words.append(_WORDS[(i + k) % len(_WORDS)])
            k += 1
        prompts.append(" ".join(words))
    return prompts


def from_file(path: Path) -> list[str]:
    """One prompt per line of a text file, or per JSONL object's ``prompt`` string."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read --prompts {path}: {exc.strerror}.") from None
    prompts: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                raise ConfigError(f"{path}:{number}: not valid JSON.") from None
            prompt = data.get("prompt") if isinstance(data, dict) else None
            if not isinstance(prompt, str) or not prompt:
                raise ConfigError(f'{path}:{number}: a JSONL line needs a "prompt" string.')
            prompts.append(prompt)
        else:
            prompts.append(line)
    if not prompts:
        raise ConfigError(f"--prompts {path} holds no prompts (one per line, or JSONL with"
                          ' "prompt").')
    return prompts


def from_suites(names: tuple[str, ...], n_per_level: int, seed: int, workdir: Path) -> list[str]:
    """The prompts of bench suites' tasks (``ponder bench correct``'s suites)."""
    from ponder.bench.registry import get_suite

    prompts: list[str] = []
    for name in names:
        prompts.extend(task.prompt for task in get_suite(name).generate(n_per_level, seed, workdir))
    if not prompts:
        raise ConfigError(f"suite(s) {', '.join(names)} generated no tasks.")
    return prompts
