"""``nslab explain SRC DST``: why SRC cannot reach DST, hop by hop."""

from __future__ import annotations

import argparse

from ..analysis.checker import guess_backend
from ..backends import get_backend
from ..core import records
from ..lifecycle.lab import Lab, only_lab
from ..model import schema
from .common import lab_option, print_json


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="why SRC cannot reach DST (a node or an address), hop by hop")
    p.add_argument("source")
    p.add_argument("destination")
    lab_option(p)
    p.add_argument("--topology", help="the topology the lab follows, for a lab built by hand (no record): "
                                      "a file or bundled name")
    p.add_argument("--backend", choices=["netns", "lxd", "sim"], help="with --topology: how the nodes exist "
                   "(default: LXD where the netns names are links into /proc, else netns)")
    p.add_argument("--lang", choices=["es", "en"], help="language of the explanation (default: from $LANG)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    if args.topology and not (args.lab and records.record_path(args.lab).exists()):
        topo = schema.load(args.topology)  # a lab built by hand: the topology says where its namespaces are
        if args.lab:
            topo = topo.renamed(args.lab)
        lab = Lab(topo, get_backend(args.backend or guess_backend(topo)))
    else:
        lab = Lab.open(args.lab or only_lab())
    result = lab.explain(args.source, args.destination, lang=args.lang)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result)
    return 0 if result.ok else 1
