"""The time-to-correct bench: verified task suites, attempts with retries, stats and reports.

Modules, one job each:

- :mod:`ponder.bench.suite`    the :class:`Suite` plug-in interface, :class:`Task`, :class:`Verdict`
- :mod:`ponder.bench.registry` suite lookup (built-ins, :func:`register_suite`, entry points)
- :mod:`ponder.bench.suites`   the built-in suites: ``arith``, ``ledger``, ``sql``, ``code``
- :mod:`ponder.bench.runner`   k attempts per (task, model) with verifier feedback, resumable
- :mod:`ponder.bench.records`  the attempts JSONL schema (docs/attempts-schema.md)
- :mod:`ponder.bench.stats`    pass@k, time-to-correct (censored), expected time-to-correct
- :mod:`ponder.bench.outputs`  CSV summary, headline table; :mod:`ponder.bench.report` the HTML
"""
