"""Built-in suites: ``arith`` and ``ledger`` (the embedded model's families, from
:mod:`ponder.tasks`), ``sql`` (a generated SQLite shop) and ``code`` (Python functions with
hidden tests). Each is resolved by name through :mod:`ponder.bench.registry`."""
