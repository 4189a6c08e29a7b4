"""The ``code`` suite: small Python functions written for ponder, judged by hidden unit tests
run in a sandboxed subprocess (time, memory and network limits)."""
