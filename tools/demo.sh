#!/usr/bin/env bash
# The plategate demo: install, render the demo footage, run the daemon on it.
# The daemon uses the replay camera, gpiozero mock pins for the relay, a journal in
# demo-state/ and no broker; it prints each decision and relay action and stops at
# the end of the footage. Extra arguments go to plategated (e.g. --duration 20).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || {
    echo "installing fonts-dejavu-core (plate rendering)"; 
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq fonts-dejavu-core >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq fonts-dejavu-core >/dev/null; fi; }
python3 -m pip install -q --disable-pip-version-check -e '.[demo]'
python3 -m tools.make_demo --out demo/footage
rm -rf demo-state
echo "plategated on demo footage (allowlist: config/demo-allowlist.csv); Ctrl-C stops"
echo "from another terminal: platectl -c config/demo.toml status (or watch, events tail)"
exec python3 -m plategate.service --config config/demo.toml --print-events "$@"
