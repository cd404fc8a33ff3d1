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


def install(use_sudo: bool = False, prefix: str | None = None, user: bool = False) -> str:
    # jupyter_client comes with the 'notebooks' extra, not with nslab itself: imported only here
    from jupyter_client.kernelspec import KernelSpecManager
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # the spec is copied with its folder's mode: every user must be able to read it
        with open(os.path.join(tmp, "kernel.json"), "w") as fh:
            json.dump(spec(use_sudo), fh, indent=1)
        return KernelSpecManager().install_kernel_spec(tmp, kernel_name=NAME, user=user,
                                                       prefix=None if user else (prefix or sys.prefix))


__all__ = ["DISPLAY", "NAME", "install", "spec"]
