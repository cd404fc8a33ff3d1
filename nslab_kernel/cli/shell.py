"""``nslab shell NODE``: an interactive shell inside a lab node, in this terminal (handy on a projector).

The same shell a notebook's ``lab.terminal(node)`` opens (``ip netns exec NAME
bash``, or the container's ``sh``), recorded in the lab's ledger, so ``nslab
down`` ends it.  ``-c CMD`` runs one command line there instead.  Without NODE:
a shell in the user's rootless sandbox (``cli/sandbox.py``), where it exists.
"""

from __future__ import annotations

import argparse

from ..core.errors import InputError
from ..lifecycle.lab import Lab
from ..core.i18n import _
from ..lifecycle.terminals import exec_here
from .common import lab_option

try:
    from .sandbox import shell_here  # the rootless sandbox's own shell (nslab shell without NODE)
except ImportError:  # a tree without the sandbox: NODE is required
    shell_here = None


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("shell", help="an interactive shell inside a node: nslab shell h1 (exit or Ctrl-D to leave)")
    p.add_argument("node", nargs="?", help="the node to open the shell in")
    lab_option(p)
    p.add_argument("-c", dest="line", metavar="CMD", help="run CMD there instead of an interactive shell")
    p.set_defaults(func=cmd_shell)


def cmd_shell(args: argparse.Namespace) -> int:
    if args.node is None and shell_here is not None:
        return shell_here(args.line)
    lab = Lab.open(args.lab)
    if args.node is None:
        raise InputError(_("say which node to open the shell in: nslab shell NODE (nodes of lab {lab}: {nodes})")
                         .format(lab=lab.name, nodes=", ".join(lab.topology.node_names)))
    exec_here(lab, args.node, args.line)  # does not return: this process becomes the shell
    return 1
