"""``nslab shell NODE``: an interactive shell inside a lab node, in this terminal (handy on a projector);
``nslab shell`` alone: a shell in the user's own sandbox (see ``cli/sandbox.py``).

The same shell a notebook's ``lab.terminal(node)`` opens (``ip netns exec NAME
bash``, or the container's ``sh``), recorded in the lab's ledger, so ``nslab
down`` ends it.  ``-c CMD`` runs one command line there instead.  Without NODE:
a shell in the user's rootless sandbox (``cli/sandbox.py``), where it exists.
"""

from __future__ import annotations

import argparse

from ..lifecycle.lab import Lab
from ..lifecycle.terminals import exec_here
from .common import lab_option
from .sandbox import shell_here


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("shell", help="an interactive shell inside a node: nslab shell h1 (exit or Ctrl-D to leave); "
                                     "without NODE, a shell in your own sandbox, where ip netns list shows your labs")
    p.add_argument("node", nargs="?", help="the node to open the shell in (none: your sandbox)")
    lab_option(p)
    p.add_argument("-c", dest="line", metavar="CMD", help="run CMD there instead of an interactive shell")
    p.set_defaults(func=cmd_shell)


def cmd_shell(args: argparse.Namespace) -> int:
    if args.node is None:  # the user's own sandbox (main entered it already): ip netns list shows their labs
        return shell_here(args.line)
    lab = Lab.open(args.lab)
    exec_here(lab, args.node, args.line)  # does not return: this process becomes the shell
    return 1
