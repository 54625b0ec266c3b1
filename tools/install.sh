#!/usr/bin/env bash
# Install or upgrade plategate on Raspberry Pi OS (Bookworm) or any systemd Debian.
#
#   sudo tools/install.sh                      # install / upgrade, enable the service
#   sudo tools/install.sh --lane entry --lane exit   # one daemon per camera (plategate@NAME)
#   tools/install.sh --root /tmp/stage         # stage into a folder (no apt, no systemctl start)
#
# Needs a 64-bit OS (Raspberry Pi OS Bookworm 64-bit): the LiteRT runtime exists only for
# 64-bit Python (aarch64, x86_64).
#
# Options:
#   --root DIR          install below DIR instead of / (DESTDIR style; implies --no-apt
#                       and never starts anything; the unit is still "enabled" in DIR)
#   --prefix DIR        where the venv and docs go (default /opt/plategate)
#   --python EXE        interpreter for the venv (default python3)
#   --no-apt            do not install Debian packages
#   --no-pip            create the venv but do not pip install the package (tests)
#   --pip-args "ARGS"   extra arguments for pip install (e.g. "--no-build-isolation")
#   --no-enable         install the units but do not enable any
#   --lane NAME         a lane (camera): enable plategate@NAME instead of plategate.service,
#                       with /etc/plategate/NAME.toml from the example if missing (repeatable)
#   --web               also install the web console's packages (flask, cheroot, argon2-cffi);
#                       plategate-web.service is installed either way and starts only once
#                       a password is set (sudo platectl web passwd USER)
#   --start             also (re)start the service now
#   -h, --help          this text
#
# Idempotent: run it again to upgrade. Existing files in /etc/plategate and everything in
# /var/lib/plategate (journals, allowlists, outboxes, per lane) are kept; the new example
# config is written next to each changed one as NAME.toml.dist. Running units are restarted.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT=""
PREFIX="/opt/plategate"
PYTHON="python3"
DO_APT=1
DO_PIP=1
DO_ENABLE=1
DO_START=0
PIP_ARGS=""
EXTRAS=""
LANES=()
APT_PACKAGES=(python3 python3-venv python3-pip python3-picamera2 python3-lgpio python3-libcamera
              rpicam-apps-lite mosquitto-clients ca-certificates)

die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || die "--root needs a folder"; ROOT="${2%/}"; shift 2 ;;
        --root=*) ROOT="${1#--root=}"; ROOT="${ROOT%/}"; shift ;;
        --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX="${2%/}"; shift 2 ;;
        --prefix=*) PREFIX="${1#--prefix=}"; PREFIX="${PREFIX%/}"; shift ;;
        --python) [ $# -ge 2 ] || die "--python needs an interpreter"; PYTHON="$2"; shift 2 ;;
        --pip-args) [ $# -ge 2 ] || die "--pip-args needs a value"; PIP_ARGS="$2"; shift 2 ;;
        --no-apt) DO_APT=0; shift ;;
        --no-pip) DO_PIP=0; shift ;;
        --no-enable) DO_ENABLE=0; shift ;;
        --lane) [ $# -ge 2 ] || die "--lane needs a name"; LANES+=("$2"); shift 2 ;;
        --lane=*) LANES+=("${1#--lane=}"); shift ;;
        --web) EXTRAS="[web]"; shift ;;
        --start) DO_START=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path, got '$PREFIX'" ;; esac
for lane in ${LANES[@]+"${LANES[@]}"}; do
    [[ "$lane" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "--lane '$lane': use letters, digits, '_' or '-' (e.g. entry)"
done
if [ -n "$ROOT" ]; then
    mkdir -p "$ROOT" || die "cannot create --root $ROOT"
    ROOT="$(cd "$ROOT" && pwd)"
    [ "$ROOT" != "/" ] || ROOT=""
fi
if [ -n "$ROOT" ]; then
    DO_APT=0
    DO_START=0
fi
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
[ -n "$ROOT" ] || [ "$IS_ROOT" = 1 ] || die "run as root (sudo $0), or stage into a folder with --root DIR"
if [ ! -f "$SRC/setup.cfg" ] || [ ! -f "$SRC/systemd/plategate.service" ]; then
    die "run from a plategate source tree ($SRC)"
fi
command -v systemd-sysusers >/dev/null || die "systemd-sysusers not found: plategate needs systemd"
command -v "$PYTHON" >/dev/null || die "no Python '$PYTHON' (apt-get install python3 python3-venv)"
bits="$("$PYTHON" -c 'import struct; print(struct.calcsize("P") * 8)')"
[ "$bits" = 64 ] || die "a 64-bit OS is required ($PYTHON is a ${bits}-bit Python on $(uname -m)):" \
    "install Raspberry Pi OS (64-bit) Bookworm; the LiteRT runtime has no 32-bit build"

ETC="$ROOT/etc/plategate"
VENV="$PREFIX/venv"
UNIT_DIR="$ROOT/etc/systemd/system"

# 1. Debian packages -----------------------------------------------------------------
if [ "$DO_APT" = 1 ]; then
    say "installing Debian packages: ${APT_PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    available=()
    for pkg in "${APT_PACKAGES[@]}"; do
        if apt-cache show "$pkg" >/dev/null 2>&1; then available+=("$pkg")
        else say "note: package $pkg is not available here (not Raspberry Pi OS?), skipped"; fi
    done
    apt-get install -y -qq --no-install-recommends "${available[@]}"
fi

# 2. Service user, groups and folders (sysusers.d / tmpfiles.d) -----------------------
install -d -m 0755 "$ROOT/usr/lib/sysusers.d" "$ROOT/usr/lib/tmpfiles.d" "$UNIT_DIR"
install -m 0644 "$SRC/systemd/plategate.sysusers" "$ROOT/usr/lib/sysusers.d/plategate.conf"
install -m 0644 "$SRC/systemd/plategate.tmpfiles" "$ROOT/usr/lib/tmpfiles.d/plategate.conf"
if [ -n "$ROOT" ]; then
    install -d -m 0755 "$ROOT/etc"
    systemd-sysusers --root="$ROOT" "$ROOT/usr/lib/sysusers.d/plategate.conf"
    # /run is not part of a staged tree; the unit's RuntimeDirectory creates it at start.
    grep -v '^d /run/' "$ROOT/usr/lib/tmpfiles.d/plategate.conf" > "$ROOT/.plategate-tmpfiles.conf"
    systemd-tmpfiles --create --root="$ROOT" "$ROOT/.plategate-tmpfiles.conf" \
        || [ "$IS_ROOT" = 0 ] || die "systemd-tmpfiles failed"  # as non-root, owners cannot be set
    rm -f "$ROOT/.plategate-tmpfiles.conf"
else
    systemd-sysusers /usr/lib/sysusers.d/plategate.conf
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/plategate.conf
fi
GID="$(awk -F: '$1 == "plategate" {print $3}' "$ROOT/etc/group")"
[ -n "$GID" ] || die "group plategate was not created in $ROOT/etc/group"

# 3. The venv and the package ---------------------------------------------------------
install -d -m 0755 "$ROOT$PREFIX"
if [ -x "$ROOT$VENV/bin/python" ] && "$ROOT$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    say "reusing the venv in $ROOT$VENV"
else
    say "creating the venv in $ROOT$VENV (with system site packages, for python3-picamera2)"
    rm -rf "$ROOT$VENV"
    venv_args=(--system-site-packages)
    [ "$DO_PIP" = 1 ] || venv_args+=(--without-pip)
    "$PYTHON" -m venv "${venv_args[@]}" "$ROOT$VENV"
fi
if [ "$DO_PIP" = 1 ]; then
    # Keep the interpreter's own numpy (Debian's python3-numpy on Raspberry Pi OS): picamera2
    # and simplejpeg are built against it, and a numpy 2 in the venv would break them.
    constraints="$ROOT$PREFIX/constraints.txt"
    : > "$constraints"
    sys_numpy="$("$PYTHON" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)"
    [ -z "$sys_numpy" ] || echo "numpy==$sys_numpy" >> "$constraints"
    say "installing plategate from $SRC into $ROOT$VENV${sys_numpy:+ (numpy kept at $sys_numpy)}; pip shows each package"
    # shellcheck disable=SC2086
    "$ROOT$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar on -c "$constraints" $PIP_ARGS "$SRC$EXTRAS"
fi
install -d -m 0755 "$ROOT/usr/local/bin"
ln -sfn "$VENV/bin/platectl" "$ROOT/usr/local/bin/platectl"
ln -sfn "$VENV/bin/plategated" "$ROOT/usr/local/bin/plategated"
ln -sfn "$VENV/bin/plategate-web" "$ROOT/usr/local/bin/plategate-web"
ln -sfn "$VENV/bin/plategate-site" "$ROOT/usr/local/bin/plategate-site"
DOC="$ROOT$PREFIX/share/doc/plategate"
install -d -m 0755 "$DOC"
install -m 0644 "$SRC/README.md" "$DOC/README.md"
install -D -m 0644 "$SRC/config/plategate.toml" "$DOC/examples/plategate.toml"
install -m 0644 "$SRC/config/site.toml" "$DOC/examples/site.toml"
if [ -d "$SRC/docs" ]; then
    install -d -m 0755 "$DOC/docs"
    cp -r "$SRC/docs/." "$DOC/docs/"
    chmod -R u=rwX,go=rX "$DOC"
fi

# 4. Configuration: keep the operator's files ----------------------------------------
install -d -m 0750 "$ETC"
# put_config NAME EXAMPLE: /etc/plategate/NAME.toml from EXAMPLE if missing; else NAME.toml.dist
put_config() {
    local name="$1" example="$2" dest="$ETC/$1.toml"
    if [ -f "$dest" ]; then
        if cmp -s "$example" "$dest"; then
            rm -f "$dest.dist"
        else
            install -m 0640 "$example" "$dest.dist"
            say "kept $dest; the new example is $name.toml.dist"
        fi
    else
        install -m 0640 "$example" "$dest"
        say "installed the example config $dest: edit it (site_id, camera, relay pin, MQTT)"
    fi
    [ "$IS_ROOT" = 0 ] || chown 0:"$GID" "$dest"*
    chmod 0640 "$dest"*
}
# A lane's file must not pin the shared paths: the daemon gives each lane its own.
lane_example="$ROOT$PREFIX/share/doc/plategate/examples/lane.toml"
sed -e '/^state_dir *=/d' -e '/^gate_id *=/d' -e '/^socket *= *"\/run\/plategate\/control.sock"/d' \
    "$SRC/config/plategate.toml" > "$lane_example"
chmod 0644 "$lane_example"
if [ ${#LANES[@]} -eq 0 ] || [ -f "$ETC/plategate.toml" ]; then
    put_config plategate "$SRC/config/plategate.toml"
fi
for lane in ${LANES[@]+"${LANES[@]}"}; do
    put_config "$lane" "$lane_example"
done
[ "$IS_ROOT" = 0 ] || chown 0:"$GID" "$ETC"
chmod 0750 "$ETC"

# 5. The units -------------------------------------------------------------------------
UNITS=()
for unit in "$SRC"/systemd/*.service; do
    name="$(basename "$unit")"
    UNITS+=("$name")
    sed -e "s|/opt/plategate|$PREFIX|g" "$unit" > "$UNIT_DIR/$name.new"
    chmod 0644 "$UNIT_DIR/$name.new"
    mv -f "$UNIT_DIR/$name.new" "$UNIT_DIR/$name"
done
say "units in $UNIT_DIR: ${UNITS[*]}"
sed -n 's/^__version__ = "\(.*\)"/\1/p' "$SRC/daemon/plategate/__init__.py" > "$ROOT$PREFIX/VERSION"
ENABLE=()
if [ ${#LANES[@]} -eq 0 ]; then
    ENABLE=(plategate.service)
else
    for lane in "${LANES[@]}"; do ENABLE+=("plategate@$lane.service"); done
fi
SYSTEMCTL=(systemctl)
[ -z "$ROOT" ] || SYSTEMCTL=(systemctl --root="$ROOT")

if [ -n "$ROOT" ]; then
    if [ "$DO_ENABLE" = 1 ]; then
        "${SYSTEMCTL[@]}" --quiet enable "${ENABLE[@]}"
    fi
    say "staged into $ROOT"
    exit 0
fi

if [ "$DO_PIP" = 1 ]; then
    for cfg in /etc/plategate/*.toml; do
        [ -f "$cfg" ] || continue
        lane=()
        case "$(basename "$cfg")" in
            site.toml) continue ;;
            plategate.toml) ;;
            *) lane=(--instance "$(basename "$cfg" .toml)") ;;  # a lane: its own state folder and socket
        esac
        "$VENV/bin/plategated" "${lane[@]}" --check-config "$cfg" \
            || say "WARNING: $cfg does not validate with this version; fix it (see $(basename "$cfg").dist)"
    done
fi
systemctl daemon-reload
if [ "$DO_ENABLE" = 1 ]; then
    systemctl --quiet enable "${ENABLE[@]}"
    say "enabled: ${ENABLE[*]}"
fi
mapfile -t running < <(systemctl list-units --state=active --no-legend --plain 'plategate*.service' | awk '{print $1}')
if [ ${#running[@]} -gt 0 ]; then
    say "restarting the running units (upgrade): ${running[*]}"
    systemctl restart "${running[@]}"
elif [ "$DO_START" = 1 ]; then
    systemctl start "${ENABLE[@]}"
else
    say "start with: sudo systemctl start ${ENABLE[*]}; then check: sudo platectl diag"
fi
say "done (version $(cat "$PREFIX/VERSION"))"
