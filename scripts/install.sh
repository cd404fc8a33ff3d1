#!/usr/bin/env bash
# Installs everything nslab needs on a Debian/Ubuntu machine, idempotently:
# system packages, a virtual environment with nslab in it, and a running,
# initialised LXD with nslab's offline image.  Safe to run again: each part
# that is already so is skipped.  Run as root (sudo) once per machine; after
# that a normal user can run it in a clone of their own: it then checks the
# system packages, makes the user's virtual environment and their kernel
# (labs in their own sandbox), and leaves LXD alone (LXD is root-equivalent).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${NSLAB_VENV:-$ROOT/.venv}
log() { printf '[nslab install] %s\n' "$*"; }
AS_ROOT=1
[ "$(id -u)" = 0 ] || AS_ROOT=0

# --- system packages ---------------------------------------------------------------------
PKGS=(iproute2 net-tools util-linux procps iputils-ping graphviz busybox-static python3 python3-venv python3-pip chromium git)
BENCH_PKGS=(mininet)
# the class server (deploy/): configurable-http-proxy needs npm; the Kubernetes image is built with
# debootstrap + buildah and run by its test under podman/runc
HUB_PKGS=(debootstrap buildah podman runc)
command -v npm >/dev/null 2>&1 || HUB_PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# LXD: use one that already works (a snap on Ubuntu); otherwise Debian's package.
if ! command -v lxc >/dev/null 2>&1 || ! command -v lxd >/dev/null 2>&1; then
  dpkg -s lxd >/dev/null 2>&1 || missing+=(lxd)
  dpkg -s lxd-client >/dev/null 2>&1 || missing+=(lxd-client)
fi
if [ ${#missing[@]} -gt 0 ] && [ $AS_ROOT = 0 ]; then
  echo "install.sh: the system packages ${missing[*]} are missing; install them once as root: sudo ./scripts/install.sh" >&2
  exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bench_missing=()
for p in "${BENCH_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || bench_missing+=("$p"); done
if [ ${#bench_missing[@]} -gt 0 ] && [ $AS_ROOT = 1 ]; then
  log "installing benchmark peers: ${bench_missing[*]}"
  [ ${#missing[@]} -gt 0 ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${bench_missing[@]}" >/dev/null
fi

hub_missing=()
for p in "${HUB_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || hub_missing+=("$p"); done
if [ ${#hub_missing[@]} -gt 0 ] && [ $AS_ROOT = 1 ]; then
  log "installing the class server's tools: ${hub_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${hub_missing[@]}" >/dev/null
fi

# --- Python environment ------------------------------------------------------------------------
# Prefer the distribution's Python: a venv built on it is usable by every user
# (students, a kernel started through sudo); one under /root would not be.
PY=python3
for cand in /usr/bin/python3 python3.13 python3.12 python3.11 python3; do
  if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then PY=$cand; break; fi
done
stamp="$VENV/.nslab-installed"
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "creating the virtual environment in $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/pip" install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import nslab_kernel, nslab_widgets, pyroute2, pylxd, papermill, playwright" 
  echo "$want" > "$stamp"
fi
# JupyterLab's own "get notified about Jupyter news?" toast is English and covers a student's outputs:
# off for this environment (JupyterLab's documented overrides.json; a user may still turn it on).
settings="$VENV/share/jupyter/lab/settings"
if [ ! -f "$settings/overrides.json" ]; then
  mkdir -p "$settings"
  printf '%s\n' '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
    > "$settings/overrides.json"
fi
if [ $AS_ROOT = 0 ]; then
  # A normal user: their kernel runs in their own sandbox; LXD is not for them (root-equivalent).
  "$VENV/bin/nslab" kernelspec install --quiet
  "$VENV/bin/nslab" doctor || log "nslab doctor reports a problem above: labs may be simulated on this machine"
  log "ready (as $(id -un): labs live in your own sandbox; LXD stays root's)"
  exit 0
fi
# Make `nslab` available on PATH for students and instructors.
ln -sf "$VENV/bin/nslab" /usr/local/bin/nslab

# --- LXD ---------------------------------------------------------------------------------------------
"$ROOT/scripts/lxd-start.sh"
"$VENV/bin/nslab" image --quiet

# --- Jupyter kernel: for root a plain kernel, for a normal user their own sandbox ------------------------
if "$VENV/bin/python" -c "import jupyter_client" 2>/dev/null; then
  "$VENV/bin/nslab" kernelspec install --quiet
fi
log "ready"
