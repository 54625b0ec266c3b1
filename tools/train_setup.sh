#!/usr/bin/env bash
# Prepare a machine for training the models: the [train] extra (tensorflow-cpu, pillow) and
# the Debian font packages whose narrow / DIN-like faces tools/synth renders plates with.
# Rendering still works without the fonts (DejaVu, Hershey and chars/ glyphs only), but the
# shipped reader was trained with them. Usage: bash tools/train_setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fonts=(fonts-dejavu-core fonts-liberation fonts-urw-base35 fonts-roboto-unhinted fonts-freefont-ttf fonts-b612 fonts-croscore)
missing=()
for pkg in "${fonts[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing fonts: ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[train]'
python3 - <<'PY'
from tools.synth.text import EXTRA_FACES, available_ttf
have = [f for f in EXTRA_FACES if f in available_ttf()]
print(f"training setup ready: {len(have)} of {len(EXTRA_FACES)} extra font faces installed")
PY
