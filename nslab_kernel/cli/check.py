"""``nslab check``: grade a lab against a topology, however it was built (nslab, ``ip``, ``lxc`` + ``ln -sf``)."""

from __future__ import annotations

import argparse
import json

from ..analysis.checker import HINT_LEVELS, SECTIONS, check, guess_backend
from ..backends import get_backend
from ..core import records
from ..model import schema
from .common import lab_option, print_json


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="grade a lab against a topology (also labs built by hand with ip or lxc)")
    p.add_argument("topology", help="the topology file or bundled name the lab should match")
    lab_option(p)
    p.add_argument("--backend", choices=["netns", "lxd", "sim"],
                   help="how the nodes exist (default: the lab's record if nslab built it, else LXD where the "
                        "netns names are links into /proc, else netns)")
    p.add_argument("--section", action="append", choices=SECTIONS, help="only these sections (repeatable)")
    p.add_argument("--lang", choices=["en", "es"], help="language of the report (default: from $LANG)")
    p.add_argument("--hints", type=int, choices=HINT_LEVELS, default=3,
                   help="hint shown for each failure: 1 the idea, 2 the shape of the command, 3 (default) the command")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for ping replies (default 1)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--nbgrader", action="store_true", help="points per section, as JSON, for autograding")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    topo = schema.load(args.topology)
    if args.lab:
        topo = topo.renamed(args.lab)
    backend = args.backend
    if backend is None and records.record_path(topo.name).exists():
        record = records.read(topo.name)  # a lab nslab built: read it the way it was made (sim included)
        backend = get_backend(record.backend, **record.header.get("backend_options", {}))
    if backend is None:
        backend = guess_backend(topo)
    if isinstance(backend, str):
        backend = get_backend(backend)
    # expectations come from the topology given here, never from the lab's record
    report = check(topo, args.section or SECTIONS, backend=backend, lang=args.lang, hints=args.hints,
                   timeout=args.timeout)
    if args.nbgrader:
        print_json(report.nbgrader())
    elif args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report)
    return 0 if report.passed else 1
