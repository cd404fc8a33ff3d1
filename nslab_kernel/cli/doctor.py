"""``nslab doctor``: is this machine ready? what is missing and what to do."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ..analysis.doctor import examine
from ..analysis.userns import apparmor_profile
from .common import print_json


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="is this machine ready? what is missing and what to do")
    p.add_argument("--json", action="store_true")
    p.add_argument("--apparmor-profile", action="store_true",
                   help="print the AppArmor profile that lets nslab's launcher (only) create user namespaces "
                        "(Ubuntu 23.10+/24.04)")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.apparmor_profile:
        print(apparmor_profile(), end="")
        return 0
    doc = examine()
    if args.json:
        print_json([asdict(c) for c in doc.checks])
    else:
        print(doc)
    return 0 if doc.ready else 1
