#!/usr/bin/env bash
# Install everything the test suite needs and run it: Debian packages through apt where
# missing, the project with its test extras in the project's own virtual environment
# (.venv/, never the system Python), then ruff and pytest from that venv.
# Usage: bash tools/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
# The pip extras the suite needs (setup.cfg [options.extras_require]); train: the tests
# of the training tools need tensorflow; web: the web console (plategate-web), whose pages
# are tested in Debian's chromium through chromium-driver.
EXTRAS="test,train,web"
# shellcheck source=tools/venv.sh
. tools/venv.sh

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need_apt+=(fonts-dejavu-core)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
mapfile -t -O "${#need_apt[@]}" need_apt < <(venv_missing_apt)
apt_need "${need_apt[@]}"
venv_ensure "$EXTRAS"
step "ruff check daemon tools tests"
"$VENV_PY" -m ruff check daemon tools tests
step "pytest (with $VENV_PY)"
exec "$VENV_PY" -m pytest -q "$@"
