#!/usr/bin/env bash
# README command 1: set everything up on a fresh Debian/Ubuntu machine, then run
# the main job: JupyterLab on notebooks/ with the 'Python 3 (nslab)' kernel.
# NSLAB_MAIN=demo runs the command-line demo instead (Figure 1 up, ping matrix, down).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec ./scripts/main.sh
