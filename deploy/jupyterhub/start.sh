#!/usr/bin/env bash
# A class server: JupyterHub + configurable-http-proxy, every student's server as their own Unix user,
# with nslab's sandboxed kernel "Python 3 (nslab)". Run as root; every step is skipped when already done.
#
#   sudo deploy/jupyterhub/start.sh              # install (first time), then run the hub in the foreground
#   sudo deploy/jupyterhub/start.sh --daemon     # ... in the background; waits until it answers
#   sudo deploy/jupyterhub/start.sh --install    # install only
#   sudo deploy/jupyterhub/start.sh --stop       # stop a hub started with --daemon
#   sudo deploy/jupyterhub/start.sh --status
#
# Settings (environment): NSLAB_HUB_PREFIX (/opt/nslab-hub), NSLAB_HUB_STATE (/var/lib/nslab-hub),
# NSLAB_HUB_IP (0.0.0.0), NSLAB_HUB_PORT (8000), NSLAB_HUB_API_PORT (8001), NSLAB_HUB_HUB_PORT (8081),
# NSLAB_HUB_USER_PORTS ("FIRST-LAST"), NSLAB_HUB_GROUP (nslab-students), NSLAB_HUB_ADMINS,
# NSLAB_HUB_PYTHON (/usr/bin/python3: every student must be able to run it).
# Students: Unix users in group $NSLAB_HUB_GROUP, logging in with their Unix password.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export NSLAB_HUB_PREFIX=${NSLAB_HUB_PREFIX:-/opt/nslab-hub}
export NSLAB_HUB_STATE=${NSLAB_HUB_STATE:-/var/lib/nslab-hub}
export NSLAB_HUB_PORT=${NSLAB_HUB_PORT:-8000}
PY=${NSLAB_HUB_PYTHON:-/usr/bin/python3}
PREFIX=$NSLAB_HUB_PREFIX STATE=$NSLAB_HUB_STATE VENV=$NSLAB_HUB_PREFIX/venv
JUPYTERHUB_SPEC='jupyterhub>=5,<7'
CHP_SPEC='configurable-http-proxy@^5'
MODE=${1:-}

say() { echo "nslab-hub: $*"; }
pip_quiet() {  # pip's output goes to the install log; shown only when it fails
  "$VENV/bin/pip" "$@" >> "$PREFIX/install.log" 2>&1 \
    || { tail -n 20 "$PREFIX/install.log" >&2; die "pip $* failed (log: $PREFIX/install.log)"; }
}
die() { echo "nslab-hub: $*" >&2; exit 1; }

case "$MODE" in ""|--daemon|--install|--stop|--status) ;; *) die "unknown option '$MODE' (use --daemon, --install, --stop or --status)";; esac
[ "$(id -u)" = 0 ] || die "run as root: the hub starts each student's server as that student (sudo $0)"

running_pid() {  # the pid of a hub this script started, if it still runs
  local pid
  pid=$(cat "$STATE/start.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q jupyterhub "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

if [ "$MODE" = --status ] || [ "$MODE" = --stop ]; then
  if ! pid=$(running_pid); then say "not running"; [ "$MODE" = --stop ] && exit 0 || exit 3; fi
  if [ "$MODE" = --status ]; then say "running (pid $pid), http://${NSLAB_HUB_IP:-0.0.0.0}:$NSLAB_HUB_PORT/"; exit 0; fi
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && die "the hub (pid $pid) did not stop within 20 s"
  rm -f "$STATE/start.pid"; say "stopped"; exit 0
fi

# ---- install: each step only when missing or out of date --------------------------------------
command -v "$PY" >/dev/null || die "$PY not found (apt-get install python3 python3-venv)"
command -v npm >/dev/null || die "npm not found: configurable-http-proxy needs Node.js (apt-get install nodejs npm)"
mkdir -p "$PREFIX"; chmod 755 "$PREFIX"
if [ ! -x "$VENV/bin/jupyterhub" ]; then
  say "installing JupyterHub and JupyterLab in $VENV"
  "$PY" -m venv "$VENV"
  pip_quiet install -q "$JUPYTERHUB_SPEC"
fi
# nslab itself, copied (not editable: students need not read the source tree), again when its source changed
SRC_HASH=$(cd "$REPO" && find pyproject.toml nslab_kernel widgets -type f \( -name '*.py' -o -name '*.yaml' -o -name '*.json' -o -name '*.toml' -o -name '*.mo' -o -name '*.js' -o -name '*.css' \) -print0 \
           | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$PREFIX/.nslab-src" 2>/dev/null)" != "$SRC_HASH" ]; then
  say "installing nslab from $REPO"
  pip_quiet install -q "$REPO[notebooks]"
  pip_quiet install -q --no-deps --force-reinstall "$REPO"
  echo "$SRC_HASH" > "$PREFIX/.nslab-src"
fi
# the kernel every student gets by default: "Python 3 (nslab)", in the student's own sandbox
"$VENV/bin/nslab" kernelspec install --prefix "$VENV" --quiet
# JupyterLab without the news and update pop-ups (students only see the course)
mkdir -p "$VENV/share/jupyter/lab/settings"
cp "$HERE/overrides.json" "$VENV/share/jupyter/lab/settings/overrides.json"
# the course notebooks, copied into each student's ~/nslab/ on their first start
rm -rf "$PREFIX/notebooks.new"; mkdir -p "$PREFIX/notebooks.new"
cp -r "$REPO/notebooks/es" "$REPO/notebooks/en" "$PREFIX/notebooks.new/"
rm -rf "$PREFIX/notebooks"; mv "$PREFIX/notebooks.new" "$PREFIX/notebooks"
if [ ! -x "$PREFIX/chp/node_modules/.bin/configurable-http-proxy" ]; then
  say "installing configurable-http-proxy in $PREFIX/chp"
  npm install --silent --no-fund --no-audit --prefix "$PREFIX/chp" "$CHP_SPEC" >/dev/null
fi
mkdir -p "$STATE"; chmod 700 "$STATE"
getent group "${NSLAB_HUB_GROUP:-nslab-students}" >/dev/null \
  || say "warning: no group '${NSLAB_HUB_GROUP:-nslab-students}' yet: nobody can log in (groupadd ${NSLAB_HUB_GROUP:-nslab-students}; usermod -aG ${NSLAB_HUB_GROUP:-nslab-students} STUDENT)"
[ "$MODE" = --install ] && { say "installed in $PREFIX"; exit 0; }

# ---- start ----------------------------------------------------------------------------------------
if pid=$(running_pid); then say "already running (pid $pid), http://${NSLAB_HUB_IP:-0.0.0.0}:$NSLAB_HUB_PORT/"; exit 0; fi
export PATH="$VENV/bin:$PATH"
cd "$STATE"
if [ "$MODE" = --daemon ]; then
  setsid "$VENV/bin/jupyterhub" -f "$HERE/jupyterhub_config.py" >>"$STATE/jupyterhub.log" 2>&1 < /dev/null &
  echo $! > "$STATE/start.pid"
  url="http://127.0.0.1:$NSLAB_HUB_PORT/hub/api/"
  for _ in $(seq 240); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null; then
      say "running (pid $(cat "$STATE/start.pid")), http://${NSLAB_HUB_IP:-0.0.0.0}:$NSLAB_HUB_PORT/ (log: $STATE/jupyterhub.log)"; exit 0
    fi
    kill -0 "$(cat "$STATE/start.pid")" 2>/dev/null || { tail -n 30 "$STATE/jupyterhub.log" >&2; die "the hub exited while starting"; }
    sleep 0.5
  done
  die "the hub did not answer on $url within 120 s (log: $STATE/jupyterhub.log)"
fi
echo $$ > "$STATE/start.pid"
exec "$VENV/bin/jupyterhub" -f "$HERE/jupyterhub_config.py"
