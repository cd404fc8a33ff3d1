"""The ``nslab`` command line: the parser, and one line per error.

Exit status: 0 success, 1 a failure of the system (kernel, daemon, machine),
2 bad input.  Errors are one line on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Sequence

from .. import __version__
from ..core.errors import InputError, NslabError
from . import check, doctor, explain, image, kernelspec, lab, sandbox, shell, topology


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2
        raise InputError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nslab", description="Linux network namespace labs (the activity's Figure 1 and more).")
    parser.add_argument("--version", action="version", version=f"nslab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sandbox.add_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    lab.add_cli(sub)
    topology.add_cli(sub)
    lab.add_exec_cli(sub)
    shell.add_cli(sub)
    for group in (image, check, doctor, explain, kernelspec, sandbox):
        group.add_cli(sub)
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
        sandbox.enter_if_needed(args)  # a normal user's labs live in their own sandbox
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
