#!/usr/bin/env bash
# The main job: JupyterLab on notebooks/ with the kernel "Python 3 (nslab)".
#   NSLAB_MAIN=demo    the command-line demo instead (Figure 1 up, ping matrix, down)
#   NSLAB_JUPYTER_IP / NSLAB_JUPYTER_PORT   where JupyterLab listens (127.0.0.1:8888)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${NSLAB_MAIN:-jupyter}" = demo ]; then
  NSLAB=.venv/bin/nslab
  lab=${NSLAB_LAB:-figure1}
  echo "== nslab up figure1 (netns backend) =="
  $NSLAB up figure1 --lab "$lab" -v
  echo; echo "== nslab ping =="
  status=0
  $NSLAB ping --lab "$lab" || status=$?
  echo; echo "== nslab down =="
  $NSLAB down --lab "$lab"
  exit $status
fi
ip=${NSLAB_JUPYTER_IP:-127.0.0.1}
port=${NSLAB_JUPYTER_PORT:-8888}
echo "Starting JupyterLab on http://$ip:$port/ (notebooks in notebooks/es and notebooks/en; kernel 'Python 3 (nslab)')."
echo "Open the URL with the token printed below. Ctrl-C stops it; labs still up are removed by 'nslab cleanup'."
exec .venv/bin/jupyter lab --allow-root --no-browser --ip="$ip" --port="$port" \
  --ServerApp.root_dir="$(pwd)/notebooks" --MultiKernelManager.default_kernel_name=nslab
