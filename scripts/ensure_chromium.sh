#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (tests/test_ui_browser.py).
# Idempotent: does nothing when /usr/bin/chromium exists. Playwright's own browser download
# is never used (it needs hosts this project cannot reach); the tests drive this binary.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x /usr/bin/chromium
echo "ensure_chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
