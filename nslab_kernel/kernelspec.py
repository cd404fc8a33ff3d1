"""The Jupyter kernel "Python 3 (nslab)": this environment's Python, with the privileges labs need.

    python -m nslab_kernel.kernelspec install          # for JupyterLab run as root
    python -m nslab_kernel.kernelspec install --sudo   # for JupyterLab run by a normal user

With ``--sudo`` the kernel is started through ``sudo -n``; allow it once with a
sudoers line (``visudo -f /etc/sudoers.d/nslab``)::

    %nslab ALL=(root) NOPASSWD: /path/to/.venv/bin/python -m ipykernel_launcher *
"""

from __future__ import annotations

import argparse
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
    from jupyter_client.kernelspec import KernelSpecManager
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # the spec is copied with its folder's mode: every user must be able to read it
        with open(os.path.join(tmp, "kernel.json"), "w") as fh:
            json.dump(spec(use_sudo), fh, indent=1)
        return KernelSpecManager().install_kernel_spec(tmp, kernel_name=NAME, user=user,
                                                       prefix=None if user else (prefix or sys.prefix))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nslab_kernel.kernelspec", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["install", "show"])
    parser.add_argument("--sudo", action="store_true", help="start the kernel through sudo (JupyterLab as a normal user)")
    parser.add_argument("--user", action="store_true", help="install for this user only")
    parser.add_argument("--prefix", help="install under this prefix (default: this environment)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "show":
        print(json.dumps(spec(args.sudo), indent=1))
        return 0
    path = install(args.sudo, args.prefix, args.user)
    if not args.quiet:
        print(f"installed kernel '{DISPLAY}' in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
