"""``nslab explain SRC DST``: why SRC cannot reach DST, hop by hop."""

from __future__ import annotations

import argparse

from ..lifecycle.lab import Lab, only_lab
from .common import lab_option, print_json


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="why SRC cannot reach DST (a node or an address), hop by hop")
    p.add_argument("source")
    p.add_argument("destination")
    lab_option(p)
    p.add_argument("--lang", choices=["es", "en"], help="language of the explanation (default: from $LANG)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    lab = Lab.open(args.lab or only_lab())
    result = lab.explain(args.source, args.destination, lang=args.lang)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result)
    return 0 if result.ok else 1
