#!/usr/bin/env bash
# The main job.  Until the notebooks exist: the command-line demo of Figure 1.
set -euo pipefail
cd "$(dirname "$0")/.."
NSLAB=.venv/bin/nslab
lab=${NSLAB_LAB:-figure1}
echo "== nslab up figure1 (netns backend) =="
$NSLAB up figure1 --lab "$lab" -v
echo
echo "== nslab ping =="
status=0
$NSLAB ping --lab "$lab" || status=$?
echo
echo "== nslab down =="
$NSLAB down --lab "$lab"
exit $status
