#!/usr/bin/env bash
# Quick start, command 2: install the test dependencies (and Debian's Chromium for the browser
# tests, Debian's PostgreSQL for the store tests, which start their own throwaway cluster) and
# run the whole suite: ruff, mypy, pytest. Extra arguments go to pytest.
PONDER_EXTRAS="test" source "$(dirname "$0")/venv.sh"
bash scripts/ensure_chromium.sh
bash scripts/ensure_postgres.sh >/dev/null
ruff check src tests benchmarks scripts
mypy
# pytest exits 5 when it collected no test: set -e makes that a failure, as it should be.
python -m pytest "$@"
