"""``nslab shell NODE``: an interactive shell inside a lab node, in this terminal (handy on a projector).

The same shell a notebook's ``lab.terminal(node)`` opens (``ip netns exec NAME
bash``, or the container's ``sh``), recorded in the lab's ledger, so ``nslab
down`` ends it.  ``-c CMD`` runs one command line there instead.
"""

from __future__ import annotations

import argparse

from ..core.errors import InputError
from ..lifecycle.lab import Lab
from ..lifecycle.terminals import _, exec_here
from .common import lab_option


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("shell", help="an interactive shell inside a node: nslab shell h1 (exit or Ctrl-D to leave)")
    p.add_argument("node", nargs="?", help="the node to open the shell in")
    lab_option(p)
    p.add_argument("-c", dest="line", metavar="CMD", help="run CMD inside the node instead of an interactive shell")
    p.set_defaults(func=cmd_shell)


def cmd_shell(args: argparse.Namespace) -> int:
    lab = Lab.open(args.lab)
    if args.node is None:
        raise InputError(_("say which node to open the shell in: nslab shell NODE (nodes of lab {lab}: {nodes})")
                         .format(lab=lab.name, nodes=", ".join(lab.topology.node_names)))
    exec_here(lab, args.node, args.line)  # does not return: this process becomes the shell
    return 1
