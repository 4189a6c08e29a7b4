"""A synthetic attempts JSONL in the bench's schema, for router tests.

Arithmetic problems whose difficulty is the operands' digit count: fast mode is right on
small operands and wrong on large ones, deep mode is nearly always right but slower. Several
phrasing templates, so template-held-out splits are meaningful.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

TEMPLATES = (
    "What is {a} * {b}? Reply with the number only.",
    "Compute {a} × {b}.",
    "Multiply {a} by {b} and give the product.",
    "Calculate the product of {a} and {b}.",
    "{a} times {b} equals what?",
    "Find {a}*{b}. Answer with just the result.",
)


def synthetic_rows(n_per_level: int = 6, levels: int = 6, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for level in range(1, levels + 1):
        for t, template in enumerate(TEMPLATES):
            for i in range(n_per_level):
                a = rng.randint(10 ** (level - 1), 10**level - 1)
                b = rng.randint(10 ** (level - 1), 10**level - 1)
                prompt = template.format(a=a, b=b)
                task_id = f"L{level}-t{t}-{i}"
                p_fast = 1 / (1 + math.exp(-(4.5 - 1.5 * level)))
                for mode in ("fast", "deep"):
                    ok = rng.random() < (p_fast if mode == "fast" else 0.97)
                    e2e = (250 + 30 * level if mode == "fast" else 1500 + 900 * level)
                    e2e *= math.exp(rng.gauss(0, 0.1))
                    ttfa = 40.0 if mode == "fast" else e2e * 0.8
                    rows.append(_row(task_id, level, f"t{t}", prompt, mode, ok, e2e, ttfa))
    return rows


def _row(task_id: str, level: int, template: str, prompt: str, mode: str, ok: bool,
         e2e: float, ttfa: float) -> dict[str, Any]:
    return {
        "schema": 1, "suite": "arith", "task_id": task_id, "family": "mul", "level": level,
        "template": template, "seed": 0, "prompt": prompt, "model": mode, "mode": mode,
        "attempt": 1, "k": 1, "retry_policy": "feedback", "feedback": None,
        "verdict": {"ok": ok, "reason": "ok" if ok else "wrong value", "extracted": None},
        "thinking": "", "answer": "", "verify_ms": 0.1,
        "meter": {"e2e_ms": e2e, "ttfa_ms": ttfa, "ttft_ms": 30.0},
        "started_at": "2026-01-01T00:00:00Z", "reference": None, "error": None,
    }


def write_synthetic(path: Path, **kwargs: Any) -> Path:
    rows = synthetic_rows(**kwargs)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
