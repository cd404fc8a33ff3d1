"""The ``nslab`` command line.

Exit status: 0 success, 1 a failure of the system (kernel, daemon, machine),
2 bad input.  Errors are one line on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any, Sequence

from . import __version__, records
from . import topology as topo_mod
from .errors import InputError, NslabError, TopologyError
from .lab import Lab, cleanup, down, only_lab


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2
        raise InputError(f"{message} (see '{self.prog} --help')")


def _progress_bar(stream=sys.stderr):
    if not stream.isatty():
        return None

    def show(node: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {node:<20}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def cmd_up(args: argparse.Namespace) -> int:
    options = {"image": args.image} if args.image else {}
    lab = Lab.load(args.topology, backend=args.backend, lab=args.lab, **options)
    report = lab.up(progress=_progress_bar())
    if args.json:
        _print_json(report.to_dict())
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
        _print_json({"labs": labs})
        return 0
    if not labs:
        print("no lab is up (start one with: nslab up figure1)")
        return 0
    for st in labs:
        print(f"{st['lab']}: backend {st['backend']}, {st['up']}/{st['total']} nodes up, {st['links']} links")
        for node, info in st["nodes"].items():
            print(f"  {node:<12} {info['state']:<8} netns {info['netns']}")
    return 0


def cmd_ping(args: argparse.Namespace) -> int:
    lab = Lab.open(args.lab)
    matrix = lab.ping_matrix(timeout=args.timeout)
    if args.json:
        _print_json(matrix.to_dict())
    else:
        print(matrix)
    return 0 if matrix.reachable else 1


def cmd_cleanup(args: argparse.Namespace) -> int:
    reports = cleanup()
    if not reports:
        print("nothing to clean: nslab has no record of any lab")
    for report in reports:
        print(report if args.verbose else report.summary())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        topo = topo_mod.load(args.topology)
    except TopologyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    routes = sum(len(n.routes) for n in topo.nodes)
    print(f"{topo.source}: valid: lab '{topo.name}', {len(topo.nodes)} nodes, {len(topo.links)} links, "
          f"{routes} routes{' (computed)' if topo.routing == 'auto' else ''}")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    lab = Lab.open(args.lab)
    if not args.argv:
        raise InputError("say what to run, like: nslab exec h1 -- ip addr")
    result = lab.exec(args.node, args.argv)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nslab", description="Linux network namespace labs (the activity's Figure 1 and more).")
    parser.add_argument("--version", action="version", version=f"nslab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def lab_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--lab", help="the lab's name (may be left out when only one lab is up)")

    p = sub.add_parser("up", help="build a lab (or converge one that is partly up)")
    p.add_argument("topology", help=f"a topology file or bundled name ({', '.join(topo_mod.bundled_names())})")
    p.add_argument("--backend", default="netns", help="netns (default), lxd or auto")
    p.add_argument("--image", help="LXD image for the containers (lxd backend)")
    p.add_argument("--lab", help="lab name (overrides the file's 'name')")
    p.add_argument("-v", "--verbose", action="store_true", help="list every step with its equivalent command")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="remove a lab: exactly what nslab recorded for it")
    lab_opt(p)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="labs that are up and their nodes")
    lab_opt(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("ping", help="ping matrix; exit status 0 only when every probe succeeds")
    lab_opt(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for replies (default 1)")
    p.set_defaults(func=cmd_ping)

    p = sub.add_parser("cleanup", help="remove every lab nslab has a record of (nothing else)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_cleanup)

    p = sub.add_parser("validate", help="check a topology file and list every problem")
    p.add_argument("topology")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("exec", help="run a command inside a node: nslab exec h1 -- ip route")
    p.add_argument("node")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    lab_opt(p)
    p.set_defaults(func=cmd_exec)

    from . import checker, doctor, explain, images
    for module in (images, checker, doctor, explain):
        module.add_cli(sub, lab_opt)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("NSLAB_DEBUG") == "1"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        if args.func is cmd_exec and args.argv and args.argv[0] == "--":
            args.argv = args.argv[1:]
        if getattr(args, "lab", None) is None and args.func in (cmd_ping, cmd_exec):
            args.lab = only_lab()
        return int(args.func(args))
    except NslabError as exc:
        if debug:
            traceback.print_exc()
        print(f"nslab: error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, always
        return exc.exit_code
    except KeyboardInterrupt:
        print("nslab: interrupted; 'nslab down' (or 'nslab cleanup') removes whatever was created", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback for students
        if debug:
            traceback.print_exc()
        print(f"nslab: error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())} (run with --debug for "
              "details, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
