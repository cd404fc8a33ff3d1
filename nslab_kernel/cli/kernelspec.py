"""``nslab kernelspec install|show``: the Jupyter kernel "Python 3 (nslab)".

    nslab kernelspec install          # no root, no sudo: a normal user's kernel runs in their own sandbox
    nslab kernelspec install --sudo   # explicit option: the kernel runs as root through sudo
"""

from __future__ import annotations

import argparse
import json

from ..lifecycle.kernelspec import DISPLAY, install, spec


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("kernelspec", help="install (or show) the Jupyter kernel 'Python 3 (nslab)'")
    p.add_argument("action", choices=["install", "show"])
    p.add_argument("--sudo", action="store_true", help="start the kernel as root through sudo (instead of the user's own sandbox)")
    p.add_argument("--user", action="store_true", help="install for this user only")
    p.add_argument("--prefix", help="install under this prefix (default: this environment)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_kernelspec)


def cmd_kernelspec(args: argparse.Namespace) -> int:
    if args.action == "show":
        print(json.dumps(spec(args.sudo), indent=1))
        return 0
    path = install(args.sudo, args.prefix, args.user)
    if not args.quiet:
        print(f"installed kernel '{DISPLAY}' in {path}")
    return 0
