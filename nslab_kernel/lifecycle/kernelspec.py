"""The Jupyter kernel "Python 3 (nslab)": this environment's Python, with the privileges labs need.

    nslab kernelspec install          # for JupyterLab run as root
    nslab kernelspec install --sudo   # for JupyterLab run by a normal user

With ``--sudo`` the kernel is started through ``sudo -n``; allow it once with a
sudoers line (``visudo -f /etc/sudoers.d/nslab``)::

    %nslab ALL=(root) NOPASSWD: /path/to/.venv/bin/python -m ipykernel_launcher *
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

NAME = "nslab"
DISPLAY = "Python 3 (nslab)"


def spec(use_sudo: bool = False) -> dict:
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if use_sudo:
        argv = ["sudo", "-n", "-E", *argv]
    return {"argv": argv, "display_name": DISPLAY + (" via sudo" if use_sudo else ""), "language": "python",
            "metadata": {"debugger": True, "nslab": {"sudo": use_sudo}}}


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
