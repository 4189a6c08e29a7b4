"""The collector's settings for a long-running gateway process.

Every request allocates containers that live a few milliseconds (events, frames, a trace
record) and a few that live longer (traces waiting for the store, the estimator's recent
requests), so the young generation fills about once a request at CPython's default threshold
of 700, and each such collection, and every tenth older one, walks objects that startup
made and that never die: modules, the config, the app, the providers. ``settle_heap`` takes
those out of the collector's view (``gc.freeze``) and collects the young generation less
often. Measured with ``benchmarks/pipeline_cpu.py``: see docs/speed.md.

Cycles are still found and freed (later: the young generation holds up to ``YOUNG`` new
containers before it is walked). Only ``ponder serve`` (and the benchmarks measuring it)
call this; a process that embeds the app keeps its own settings.
"""

from __future__ import annotations

import gc

YOUNG = 10_000  # new containers before a young collection (CPython's default: 700)


def settle_heap() -> None:
    """Call once, after startup has allocated what lives for the whole process."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
