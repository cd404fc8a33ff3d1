#!/usr/bin/env bash
# Starts LXD where it is not running and initialises it where it is not:
# a 'dir' storage pool and a default profile with no network device (every
# link of a lab is its own veth pair; no lxdbr0 is needed).  An LXD that is
# already running and initialised (a snap on Ubuntu) is used as it is.
set -euo pipefail
log() { printf '[nslab lxd] %s\n' "$*"; }
LOG=${NSLAB_LXD_LOG:-/var/log/nslab-lxd.log}

if ! timeout 10 lxc info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && systemctl list-unit-files lxd.service >/dev/null 2>&1 \
       && systemctl start lxd.service 2>/dev/null; then
    log "started lxd.service"
  elif command -v snap >/dev/null 2>&1 && snap list lxd >/dev/null 2>&1; then
    snap start lxd >/dev/null
    log "started the lxd snap"
  else
    log "starting the LXD daemon directly (no systemd here); log in $LOG"
    setsid nohup lxd --group root --logfile "$LOG" </dev/null >>"$LOG" 2>&1 &
  fi
  lxd waitready --timeout 60
fi

if ! lxc storage list --format csv 2>/dev/null | grep -q .; then
  log "initialising LXD: a 'dir' storage pool, no network"
  lxd init --preseed <<'PRESEED'
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
PRESEED
fi
log "LXD is running"
