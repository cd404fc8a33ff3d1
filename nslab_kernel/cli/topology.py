"""``nslab validate``: check a topology file and list every problem."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import TopologyError
from ..model import schema


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a topology file and list every problem")
    p.add_argument("topology")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        topo = schema.load(args.topology)
    except TopologyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    routes = sum(len(n.routes) for n in topo.nodes)
    print(f"{topo.source}: valid: lab '{topo.name}', {len(topo.nodes)} nodes, {len(topo.links)} links, "
          f"{routes} routes{' (computed)' if topo.routing == 'auto' else ''}")
    return 0
