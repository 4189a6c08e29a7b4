"""The embedded model's prompt format: the one place training and the provider share.

Like Qwen3's ``enable_thinking``, one set of weights serves two modes chosen by the
prompt. Deep mode opens a thought in the template and the model writes its scratchpad,
closes it with ``</think>`` and answers; fast mode writes an empty thought, so the model
answers at once::

    deep:  <|user|>What is 4821 * 37?<|assistant|><think>  ->  4821*37 ...</think>178377<|end|>
    fast:  <|user|>What is 4821 * 37?<|assistant|><think></think>  ->  178377<|end|>
"""

from __future__ import annotations

USER = "<|user|>"
ASSISTANT = "<|assistant|>"
END = "<|end|>"
PAD = "<|pad|>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Token ids fixed by the tokenizer the training script builds (specials first).
SPECIAL_TOKENS = (PAD, END, USER, ASSISTANT, THINK_OPEN, THINK_CLOSE)


def render_prompt(prompt: str, *, thinking: bool) -> str:
    """The text the model is conditioned on; generation continues right after it."""
    opened = f"{USER}{prompt.strip()}{ASSISTANT}{THINK_OPEN}"
    return opened if thinking else opened + THINK_CLOSE


def render_completion(thoughts: str, answer: str, *, thinking: bool) -> str:
    """What the model is trained to write after :func:`render_prompt`."""
    if thinking:
        return f"{thoughts}{THINK_CLOSE}{answer}{END}"
    return f"{answer}{END}"
