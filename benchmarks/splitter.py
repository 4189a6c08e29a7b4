"""Think-splitter throughput and cost per chunk.

Feeds a realistic reasoning transcript (thoughts with code and comparisons, then an answer
with a fenced code block) in chunks of 4–20 characters, the size streaming servers send, and
prints the median over many runs of: MB/s for the whole stream, and µs per ``feed()`` call.
The floor the project holds itself to is a median under 5 µs per typical chunk.

    python benchmarks/splitter.py [--runs N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from ponder.splitter import ThinkSplitter

THOUGHT = (
    "Okay, the user wants the total of refunds per order. First I need to join orders and "
    "refunds on order_id; if x < y we keep the row, and a <b> tag is not a thought tag. "
    "Let me check edge cases: orders without refunds should show 0, so a LEFT JOIN. "
)
ANSWER = (
    "Here is the query:\n\n```sql\nSELECT o.id, COALESCE(SUM(r.amount), 0) AS refunded\n"
    "FROM orders o LEFT JOIN refunds r ON r.order_id = o.id\nGROUP BY o.id;\n```\n\n"
    "It uses `COALESCE` so orders without refunds show 0 (a `<think>` in code stays text). "
)


def transcript(repeats: int) -> str:
    return "<think>\n" + THOUGHT * repeats + "</think>\n\n" + ANSWER * repeats


def chunked(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    chunks, i = [], 0
    while i < len(text):
        n = rng.randint(4, 20)
        chunks.append(text[i : i + n])
        i += n
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    text = transcript(20)
    chunks = chunked(text, seed=7)
    size_mb = len(text.encode()) / 1e6
    run_mb_s: list[float] = []
    per_chunk_us: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(args.runs):
        splitter = ThinkSplitter()
        feed = splitter.feed
        times = []
        t0 = clock()
        for chunk in chunks:
            c0 = clock()
            feed(chunk)
            times.append(clock() - c0)
        splitter.close()
        total_ns = clock() - t0
        run_mb_s.append(size_mb / (total_ns / 1e9))
        per_chunk_us.append(statistics.median(times) / 1000)

    # Whole-stream throughput without the per-chunk timer in the loop.
    bare_mb_s: list[float] = []
    for _ in range(args.runs):
        splitter = ThinkSplitter()
        feed = splitter.feed
        t0 = clock()
        for chunk in chunks:
            feed(chunk)
        splitter.close()
        bare_mb_s.append(size_mb / ((clock() - t0) / 1e9))

    mean_chunk = len(text) / len(chunks)
    print(f"text: {len(text)} chars in {len(chunks)} chunks (mean {mean_chunk:.1f} chars/chunk)")
    print(f"runs: {args.runs}")
    print(f"throughput: {statistics.median(bare_mb_s):.1f} MB/s (median)")
    print(f"per chunk: {statistics.median(per_chunk_us):.2f} µs (median of per-run medians)")
    p95 = sorted(per_chunk_us)[int(0.95 * len(per_chunk_us))]
    print(f"per chunk p95 of run medians: {p95:.2f} µs")


if __name__ == "__main__":
    main()
