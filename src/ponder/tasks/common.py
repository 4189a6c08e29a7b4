"""Types shared by the task families."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Split = Literal["train", "heldout", "any"]

# One problem in HELDOUT_BUCKETS is held out, by a hash of its content key.
HELDOUT_BUCKETS = 5


@dataclass(frozen=True)
class Problem:
    id: str
    family: str
    level: int
    template: str
    prompt: str
    answer: str


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    extracted: str | None


@dataclass(frozen=True)
class Solution:
    """What the embedded model is trained to write: thoughts (without tags), then the answer."""

    family: str
    thoughts: str
    answer: str


def is_heldout(key: str) -> bool:
    """Whether the problem with content key ``key`` belongs to the held-out split."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % HELDOUT_BUCKETS == 0


def in_split(key: str, split: Split) -> bool:
    if split == "any":
        return True
    return is_heldout(key) == (split == "heldout")


def problem_id(family: str, level: int, key: str) -> str:
    return f"{family}-{level}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
