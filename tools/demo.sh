#!/usr/bin/env bash
# The plategate demo: install, render the demo footage, run the daemon on it.
# Everything Python goes into the project's own virtual environment (.venv/, never the
# system Python). The daemon uses the replay camera, gpiozero mock pins for the relay,
# a journal in demo-state/ and no broker; it prints each decision and relay action and
# stops at the end of the footage. Extra arguments go to plategated (e.g. --duration 20).
set -euo pipefail
cd "$(dirname "$0")/.."
# The pip extras the demo needs (setup.cfg [options.extras_require]).
EXTRAS="demo"
# shellcheck source=tools/venv.sh
. tools/venv.sh

need_apt=()
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need_apt+=(fonts-dejavu-core)
mapfile -t -O "${#need_apt[@]}" need_apt < <(venv_missing_apt)
apt_need "${need_apt[@]}"
venv_ensure "$EXTRAS"
step "rendering the demo footage into $PWD/demo/footage"
"$VENV_PY" -m tools.make_demo --out demo/footage
rm -rf demo-state
step "plategated on the demo footage (allowlist: config/demo-allowlist.csv, journal: $PWD/demo-state); Ctrl-C stops"
echo "from another terminal: .venv/bin/platectl -c config/demo.toml status (or watch, events tail)"
exec "$VENV_PY" -m plategate.service --config config/demo.toml --print-events "$@"
