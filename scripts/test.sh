#!/usr/bin/env bash
# README command 2: run every test (installing what they need first).
# Under CI=true a missing component fails the run; it is never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" = 5 ]; then echo "no test ran"; exit 1; fi
exit $status
