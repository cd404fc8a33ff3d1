"""The lab's lifecycle on the command line: ``up``, ``down``, ``status``, ``ping``, ``cleanup``, ``exec``."""

from __future__ import annotations

import argparse
import sys

from ..core import records
from ..core.errors import InputError
from ..kernel import sandbox
from ..lifecycle.lab import Lab, cleanup, down, only_lab
from ..model.schema import bundled_names
from .common import lab_option, print_json, progress_bar


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="build a lab (or converge one that is partly up)")
    p.add_argument("topology", help=f"a topology file or bundled name ({', '.join(bundled_names())})")
    p.add_argument("--backend", default="netns", help="netns (default), lxd or auto")
    p.add_argument("--image", help="LXD image for the containers (lxd backend)")
    p.add_argument("--lab", help="lab name (overrides the file's 'name')")
    p.add_argument("-v", "--verbose", action="store_true", help="list every step with its equivalent command")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="remove a lab: exactly what nslab recorded for it")
    lab_option(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="labs that are up and their nodes")
    lab_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("ping", help="ping matrix; exit status 0 only when every probe succeeds")
    lab_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for replies (default 1)")
    p.set_defaults(func=cmd_ping)

    p = sub.add_parser("cleanup", help="remove every lab nslab has a record of (nothing else)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_cleanup)


def add_exec_cli(sub: argparse._SubParsersAction) -> None:
    """``exec`` comes after ``validate`` in the help, as it always has."""
    p = sub.add_parser("exec", help="run a command inside a node: nslab exec h1 -- ip route")
    p.add_argument("node")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    lab_option(p)
    p.set_defaults(func=cmd_exec)


def cmd_up(args: argparse.Namespace) -> int:
    options = {"image": args.image} if args.image else {}
    lab = Lab.load(args.topology, backend=args.backend, lab=args.lab, **options)
    report = lab.up(progress=progress_bar())
    if args.json:
        print_json(report.to_dict())
    else:
        print(report if args.verbose else report.summary())
        if not args.verbose and report.changed:
            print("  (nslab up -v lists each step with its equivalent command)")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    if args.lab is None:
        names = records.lab_names()
        if not names:
            print("no lab is up: nothing to take down (already so)")
            return 0
        args.lab = only_lab()
    if not records.record_path(args.lab).exists():
        print(f"lab '{args.lab}' is not up: nothing to take down (already so)")
        return 0
    report = down(args.lab)
    print(report if args.verbose else report.summary())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    names = [args.lab] if args.lab else records.lab_names()
    labs = [Lab.open(name).status() for name in names]
    if args.json:
        print_json({"labs": labs})
        return 0
    if not labs:
        print("no lab is up (start one with: nslab up figure1)")
        return 0
    for st in labs:
        print(f"{st['lab']}: backend {st['backend']}, {st['up']}/{st['total']} nodes up, {st['links']} links")
        for node, info in st["nodes"].items():
            print(f"  {node:<12} {info['state']:<8} netns {info['netns']}")
        for shell in st.get("terminals", []):
            print(f"  shell in {shell['node']}: PID {shell['pid']} ({shell['command']}); 'nslab down' ends it")
    return 0


def cmd_ping(args: argparse.Namespace) -> int:
    lab = Lab.open(args.lab or only_lab())
    matrix = lab.ping_matrix(timeout=args.timeout)
    if args.json:
        print_json(matrix.to_dict())
    else:
        print(matrix)
    return 0 if matrix.reachable else 1


def cmd_cleanup(args: argparse.Namespace) -> int:
    in_sandbox = sandbox.inside()
    reports = cleanup(lxd=False if in_sandbox else None)  # LXD stays outside a user's sandbox
    if not reports:
        print("nothing to clean: nslab has no record of any lab")
    for report in reports:
        print(report if args.verbose else report.summary())
    if in_sandbox:
        print(sandbox.stop(records.state_dir())[1])
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    if args.argv and args.argv[0] == "--":
        args.argv = args.argv[1:]
    lab = Lab.open(args.lab or only_lab())
    if not args.argv:
        raise InputError("say what to run, like: nslab exec h1 -- ip addr")
    result = lab.exec(args.node, args.argv)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode
