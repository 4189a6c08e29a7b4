# Sourced by the other scripts: make (once) and activate the project's virtual environment,
# then install ponder into it with the extras named in PONDER_EXTRAS.
# A venv keeps ponder off the system Python (which may be externally managed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PONDER_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
stamp="$venv/.ponder-installed${PONDER_EXTRAS:+-$PONDER_EXTRAS}"
# Reinstall only when the project's dependencies changed since the last install.
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  python -m pip install -q --upgrade pip
  python -m pip install -q -e "$root${PONDER_EXTRAS:+[$PONDER_EXTRAS]}"
  touch "$stamp"
fi
cd "$root"
