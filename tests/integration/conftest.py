"""Fixtures of the browser tests of the widgets (JupyterLab headless, Debian's Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from tests.support import IS_ROOT, need

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
PORTS = range(18500, 18600)  # the widgets' range on this shared machine


def port_in_range() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 18500-18599")


@pytest.fixture
def widgets_jupyter(tmp_path, private_state):
    """JupyterLab (the widgets' tests): this environment's kernel as 'h5nslab', no news toast, every cell
    in the DOM, a port of 18500-18599; yields (url, token, folder)."""
    need(IS_ROOT, "needs root (the notebook builds Figure 1)")
    need(os.path.exists(CHROMIUM), "Debian's chromium is needed (apt-get install chromium)")
    need(shutil.which("dot") is not None, "Graphviz's dot is needed")
    kernels = tmp_path / "jupyter" / "kernels" / "h5nslab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nslab (widgets test)", "language": "python"}))
    port, token = port_in_range(), uuid.uuid4().hex
    log = open(tmp_path / "jupyter.log", "w")
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no "get notified about news?" toast over the outputs
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)  # every cell in the DOM, not only those on screen: all are measured
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "NSLAB_STATE_DIR": str(private_state),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port_retries=0",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--MultiKernelManager.default_kernel_name=h5nslab"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts JupyterLab slowly
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("JupyterLab did not start: " + (tmp_path / "jupyter.log").read_text()[-2000:])
                time.sleep(0.3)
        yield base, token, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
