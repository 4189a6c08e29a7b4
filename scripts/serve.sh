#!/usr/bin/env bash
# Quick start, command 1: install ponder and run the gateway + web UI on the embedded model.
# No key and no network needed. Extra arguments go to `ponder serve` (e.g. --port 9000).
PONDER_EXTRAS="" source "$(dirname "$0")/venv.sh"
exec ponder serve "$@"
