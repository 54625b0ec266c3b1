# shellcheck shell=bash
# The project's own virtual environment, shared by tools/test.sh and tools/demo.sh.
#
#   . tools/venv.sh
#   apt_need python3-venv ...           # install Debian packages when missing (sudo if not root)
#   venv_ensure "test,train"            # create .venv and pip install -e '.[test,train]' into it
#   "$VENV_PY" -m pytest                # run with the venv's interpreter
#
# Only the interpreter found as PLATEGATE_PYTHON (default: python3 on PATH) is ever run
# outside the venv, and only to create it (`python3 -m venv`): nothing is installed into
# the system Python, so Debian's externally-managed Python (PEP 668) is left alone.
# Environment: PLATEGATE_PYTHON (interpreter that creates the venv), PLATEGATE_VENV
# (folder, default .venv in the source tree).

VENV_DIR="${PLATEGATE_VENV:-$PWD/.venv}"
VENV_PY="$VENV_DIR/bin/python"
_VENV_BASE_PY="${PLATEGATE_PYTHON:-python3}"
_STEP=0

step() { _STEP=$((_STEP + 1)); echo "==> [$_STEP] $*"; }
venv_die() { echo "$(basename "$0"): error: $*" >&2; exit 1; }

# apt_need PKG... : install the named Debian packages through apt-get (as root, or with sudo).
apt_need() {
    [ $# -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 || venv_die "missing system packages ($*) and no apt-get: install them by hand"
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    step "installing Debian packages: $* (apt-get)"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# _venv_base_check : the base interpreter exists and is 3.11 or newer (exits otherwise).
_venv_base_check() {
    command -v "$_VENV_BASE_PY" >/dev/null 2>&1 || venv_die "no '$_VENV_BASE_PY' on PATH: install Python 3.11 or newer (Debian: apt-get install python3)"
    "$_VENV_BASE_PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || venv_die "$("$_VENV_BASE_PY" -V 2>&1) is too old: plategate needs Python 3.11 or newer"
}

# venv_missing_apt : prints the Debian packages the base interpreter lacks to make a venv
# with pip (python3, python3-venv), one a line.
venv_missing_apt() {
    if ! command -v "$_VENV_BASE_PY" >/dev/null 2>&1; then
        [ "$_VENV_BASE_PY" != python3 ] || printf '%s\n' python3 python3-venv
    elif ! "$_VENV_BASE_PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        echo python3-venv
    fi
}

# venv_ensure EXTRAS : create the venv (if missing or broken) and install the project into it
# in editable mode with the given extras (comma separated, may be empty). pip shows its own
# progress (one line per package, download bars on a terminal). A stamp records what was
# installed: run again with the same setup.cfg and extras, and pip is skipped.
venv_ensure() {
    local extras="$1" spec="." stamp want
    [ -z "$extras" ] || spec=".[$extras]"
    _venv_base_check
    if [ -x "$VENV_PY" ] && "$VENV_PY" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' >/dev/null 2>&1 \
            && "$VENV_PY" -m pip --version >/dev/null 2>&1; then
        step "using the virtual environment $VENV_DIR ($("$VENV_PY" -V 2>&1))"
    else
        step "creating the virtual environment $VENV_DIR with $(command -v "$_VENV_BASE_PY") ($("$_VENV_BASE_PY" -V 2>&1))"
        rm -rf "$VENV_DIR"
        "$_VENV_BASE_PY" -m venv "$VENV_DIR" || venv_die "could not create $VENV_DIR (Debian: apt-get install python3-venv)"
    fi
    stamp="$VENV_DIR/.plategate-installed"
    want="$(cat setup.cfg pyproject.toml 2>/dev/null | cksum) extras=$extras"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        step "plategate[$extras] is already installed in $VENV_DIR (setup.cfg unchanged)"
        return 0
    fi
    step "installing plategate$([ -z "$extras" ] || echo "[$extras]") into $VENV_DIR (pip; the first time downloads a lot)"
    rm -f "$stamp"
    "$VENV_PY" -m pip install --disable-pip-version-check --progress-bar on -e "$spec" \
        || venv_die "pip install -e '$spec' into $VENV_DIR failed (see above)"
    echo "$want" > "$stamp"
    echo "    installed: plategate and its dependencies in $VENV_DIR ($(du -sh "$VENV_DIR" 2>/dev/null | cut -f1));" \
         "commands in $VENV_DIR/bin (activate with: . $VENV_DIR/bin/activate)"
}
