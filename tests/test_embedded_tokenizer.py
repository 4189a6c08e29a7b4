"""The tokenizer training builds and the one ONNX Runtime GenAI loads must cut text alike.

Training tokenizes with Hugging Face ``tokenizers``; serving tokenizes with the shipped
``tokenizer.json`` through ``onnxruntime_genai``. Any disagreement (an added word matched
differently, a byte mapped differently) would show the model text it never saw in training.
"""

from __future__ import annotations

import onnxruntime_genai as og
import pytest

from ponder import tasks
from ponder.models.chat_format import render_completion, render_prompt
from ponder.providers.local import embedded_model_path
from ponder.train.tokenizer import PHRASES, build_tokenizer


@pytest.fixture(scope="module")
def shipped() -> og.Tokenizer:
    return og.Tokenizer(og.Model(str(embedded_model_path())))


def _texts() -> list[str]:
    texts = []
    for family, levels in tasks.families().items():
        for level in levels:
            for problem in tasks.generate(family, level, 25, seed=11, split="any"):
                solution = tasks.solve(problem.prompt)
                assert solution is not None
                for deep in (True, False):
                    texts.append(
                        render_prompt(problem.prompt, thinking=deep)
                        + render_completion(solution.thoughts, solution.answer, thinking=deep)
                    )
    return [
        *texts,
        "Tell me about arrays, patterns and the maximum of a sequence.",  # names inside words
        "héllo 😀 wörld\n\ttabs and   spaces",
        "What is 4821 * 37?",
    ]


def test_training_and_serving_tokenizers_agree(shipped: og.Tokenizer) -> None:
    built = build_tokenizer()
    for text in _texts():
        assert list(shipped.encode(text)) == built.encode(text).ids, text


def test_the_shipped_tokenizer_is_the_one_training_builds() -> None:
    built = build_tokenizer()
    # every phrase and name is a single token, digits are one token each
    for word in PHRASES:
        assert len(built.encode(word).ids) == 1, word
    assert len(built.encode("ivy").ids) == 1
    assert len(built.encode("4821").ids) == 4
    shipped_vocab = (embedded_model_path() / "tokenizer.json").read_text()
    for word in ("customers who refunded more than half of their orders", "ivy", " orders "):
        assert word.replace("\n", "\\n") in shipped_vocab
