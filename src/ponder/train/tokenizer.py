"""The embedded model's tokenizer: one token per byte, plus whole-word tokens for the tasks.

Digits stay one token each, so arithmetic sees every digit. Each customer name is one
token, so "find ivy's earlier rows" is a single attention match rather than a three-byte
pattern, and the prompts' fixed phrases are one token each, so a ledger prompt costs about
a third of its bytes. Words are *added tokens*: they are cut out of the text before the
byte-level model runs, exactly as ONNX Runtime GenAI's tokenizer does (a test checks that
both tokenizers agree on every task prompt and scratchpad).
"""

from __future__ import annotations

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from tokenizers.pre_tokenizers import ByteLevel

from ponder.models.chat_format import END, PAD, SPECIAL_TOKENS, THINK_CLOSE, THINK_OPEN
from ponder.tasks import ledger

# The prompts' and scratchpads' fixed phrases. Kept free of overlaps, so every tokenizer
# cuts them out the same way whatever its matching order.
PHRASES: tuple[str, ...] = (
    # arithmetic prompts
    "What is ", "What's ", "How much is ", "compute ", "Calculate ",
    " plus ", " minus ", " times ", " multiplied by ",
    # ledger prompts
    "Ledger:", " ordered ", " refunded ", "Orders (customer amount): ", "Orders: ",
    ". Refunds: ", "Who is the top spender", "Who are the top ", " spenders",
    "Name the top spender", "Name the top ", "Which customer spent the most",
    "Which ", " customers spent the most", ", excluding ", " by total orders, ignoring ",
    ", not counting ", "customers who refunded more than half of their orders",
    # ledger scratchpad
    " orders ", " refunds ", " ok\n", " out\n", " out:", " vs ",
)  # fmt: skip


def build_tokenizer() -> Tokenizer:
    """Byte-level BPE with no merges, the chat format's specials, names and phrases."""
    vocab: dict[str, int] = {}
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    for char in sorted(ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    specials = [t for t in SPECIAL_TOKENS if t not in (THINK_OPEN, THINK_CLOSE)]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    # The thought tags decode as text, so a stream can be split on them (like Qwen3's).
    words = [THINK_OPEN, THINK_CLOSE, *PHRASES, *ledger.NAMES]
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in words])
    assert tok.token_to_id(PAD) == 0 and tok.token_to_id(END) == 1
    return tok
