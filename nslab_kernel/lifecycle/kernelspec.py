"""The Jupyter kernel "Python 3 (nslab)": this environment's Python, inside the user's own sandbox.

    nslab kernelspec install          # the default: no root, no sudo (also right for JupyterLab run as root)
    nslab kernelspec install --user   # for this user only (~/.local/share/jupyter/kernels)
    nslab kernelspec install --sudo   # the old way, an explicit option: the kernel runs as root through sudo

The default kernel is started by nslab's launcher, ``nslab-sandbox kernel -- python -m
ipykernel_launcher ...``: a normal user's kernel runs inside their own sandbox (a user,
mount and network namespace, see :mod:`..kernel.sandbox`), so ``lab.up()``, ``!ip netns ...``
and ``!ip link add v-1a type veth peer name v-1b`` cells act on that user's labs and own
"host" and nobody else's.  The kernel listens on Unix sockets and the launcher, left in the
host's network namespace, relays Jupyter's 127.0.0.1 ports to them.  Run by root, the
launcher starts the kernel unchanged.

With ``--sudo`` the kernel is started through ``sudo -n``; allow it once with a
sudoers line (``visudo -f /etc/sudoers.d/nslab``)::

    %nslab ALL=(root) NOPASSWD: /path/to/.venv/bin/python -m ipykernel_launcher *
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from ..kernel import sandbox

NAME = "nslab"
DISPLAY = "Python 3 (nslab)"


def spec(use_sudo: bool = False) -> dict:
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if use_sudo:
        argv = ["sudo", "-n", "-E", *argv]
    else:  # nslab's launcher: the user's sandbox (and own host netns) when not root, the plain kernel for root
        argv = sandbox.kernel_command(argv)
    return {"argv": argv, "display_name": DISPLAY + (" via sudo" if use_sudo else ""), "language": "python",
            "metadata": {"debugger": True, "nslab": {"sudo": use_sudo, "sandbox": not use_sudo}}}


SERVER_CONFIG = "jupyter_server_config.json"


def terminals_config() -> dict:
    """jupyter_server's settings for JupyterLab's own terminals (File > New > Terminal): a normal user's
    shell starts in their sandbox, where their host is their own network namespace (``ip link add v-1a
    type veth peer name v-1b`` works, ``ip netns list`` shows their labs); root's starts as usual."""
    return {"ServerApp": {"terminado_settings": {"shell_command": sandbox.command(["bash", "-l"])}}}


def install_terminals(prefix: str | None = None, user: bool = False) -> str:
    """Merge :func:`terminals_config` into the ``jupyter_server_config.json`` that every JupyterLab of this
    environment reads (``PREFIX/etc/jupyter/``), or this user's (``~/.jupyter/``); other settings stay."""
    folder = (os.environ.get("JUPYTER_CONFIG_DIR") or os.path.expanduser("~/.jupyter")) if user \
        else os.path.join(prefix or sys.prefix, "etc", "jupyter")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, SERVER_CONFIG)
    try:
        with open(path) as fh:
            config = json.load(fh)
    except FileNotFoundError:
        config = {}
    except ValueError:
        return path  # a file the user wrote by hand and cannot be read as JSON: leave it alone
    server = config.setdefault("ServerApp", {})
    server.setdefault("terminado_settings", {}).update(terminals_config()["ServerApp"]["terminado_settings"])
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(config, fh, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def install(use_sudo: bool = False, prefix: str | None = None, user: bool = False) -> str:
    """Install the kernel "Python 3 (nslab)" (and, without sudo, JupyterLab's terminals in the sandbox)."""
    # jupyter_client comes with the 'notebooks' extra, not with nslab itself: imported only here
    from jupyter_client.kernelspec import KernelSpecManager
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # the spec is copied with its folder's mode: every user must be able to read it
        with open(os.path.join(tmp, "kernel.json"), "w") as fh:
            json.dump(spec(use_sudo), fh, indent=1)
        path = KernelSpecManager().install_kernel_spec(tmp, kernel_name=NAME, user=user,
                                                       prefix=None if user else (prefix or sys.prefix))
    if not use_sudo:
        install_terminals(prefix, user)
    return path


__all__ = ["DISPLAY", "NAME", "install", "install_terminals", "spec", "terminals_config"]
