"""``ponder bench speed``: a reasoning-aware load bench.

Every request is metered with :class:`ponder.meter.Meter` (the metric table in DESIGN.md);
a run is a list of load steps (:mod:`.profiles`), each summarised by :mod:`.stats` and written
out by :mod:`.outputs` and :mod:`.report`.
"""
