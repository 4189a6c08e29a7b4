#!/usr/bin/env bash
# Quick start, command 2: install the test dependencies (and Debian's Chromium for the browser
# tests) and run the whole suite: ruff, mypy, pytest. Extra arguments go to pytest.
PONDER_EXTRAS="test" source "$(dirname "$0")/venv.sh"
bash scripts/ensure_chromium.sh
ruff check src tests benchmarks scripts
mypy
# pytest exits 5 when it collected no test: set -e makes that a failure, as it should be.
python -m pytest "$@"
