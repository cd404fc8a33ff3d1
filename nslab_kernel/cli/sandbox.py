"""``nslab shell`` and ``nslab sandbox``: a normal user's own sandbox, where their labs live.

Every other command that touches labs enters the sandbox first (:func:`enter_if_needed`, called by
``main`` before the command runs, while the process is still single-threaded).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from ..backends import rootless
from ..core import records
from ..core.i18n import N_, _
from ..kernel import sandbox
from .common import print_json


# Commands that never enter the sandbox: they read the machine, or speak to LXD (root-equivalent).
OUTSIDE = {None, "doctor", "validate", "schema", "kernelspec", "image", "sandbox"}
BANNER = N_("nslab shell: you are root only inside your own sandbox; 'ip netns list' shows your labs, "
          "'ip netns exec NAME CMD' runs CMD in one of them. 'exit' leaves.")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rootless", action="store_true",
                        help="keep labs in your own user-namespace sandbox even as root (default for normal users)")


def enter_if_needed(args: argparse.Namespace) -> None:
    """Go into the user's sandbox before a command that touches labs (no-op for root, or outside-only commands)."""
    if getattr(args, "rootless", False):
        os.environ["NSLAB_ROOTLESS"] = "1"
    if getattr(args, "command", None) in OUTSIDE:
        return
    if getattr(args, "backend", None) == "lxd":
        return  # LXD stays outside the sandbox: its own preflight says whether this user may use it
    rootless.prepare(force=getattr(args, "rootless", False))


def add_cli(sub: argparse._SubParsersAction) -> None:
    if "shell" not in sub.choices:  # the terminal's 'nslab shell [NODE]' (cli/shell.py) calls shell_here() without NODE
        p = sub.add_parser("shell", help="a shell inside your sandbox, where 'ip netns list' / 'ip netns exec' show "
                                         "your labs")
        p.add_argument("-c", dest="line", metavar="CMD", help="run CMD there instead of an interactive shell")
        p.set_defaults(func=cmd_shell)

    p = sub.add_parser("sandbox", help="your rootless sandbox (where a normal user's labs live): status, start, stop")
    p.add_argument("action", choices=["status", "start", "stop"])
    p.add_argument("--force", action="store_true", help="stop: even while a notebook kernel or a shell uses it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sandbox)


def _shell() -> str:
    for candidate in (os.environ.get("SHELL"), "/bin/bash", "/bin/sh"):
        if candidate and os.path.isabs(candidate) and os.access(candidate, os.X_OK) and \
                not candidate.endswith(("nologin", "false")):
            return candidate
    return shutil.which("sh") or "/bin/sh"


def cmd_shell(args: argparse.Namespace) -> int:
    return shell_here(args.line)


def shell_here(line: str | None = None) -> int:
    """Become the user's shell (``line``: run that command line instead), inside the sandbox that
    ``main`` entered before the command ran.  Does not return."""
    shell = _shell()
    if line is not None:
        os.execv(shell, [shell, "-c", line])
    if not sandbox.inside():
        print(_("nslab shell: you are root and this shell is on the host (use 'nslab --rootless shell' for a "
                "sandbox of your own)"), file=sys.stderr)
    else:
        print(_(BANNER), file=sys.stderr)
    if os.path.basename(shell) == "bash":
        rc = Path(records.state_dir()) / "shellrc"
        rc.write_text('[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"\nPS1="(nslab) ${PS1:-\\\\u@\\\\h:\\\\w\\\\$ }"\n')
        os.execv(shell, [shell, "--rcfile", str(rc), "-i"])
    os.environ["PS1"] = "(nslab) # "
    os.execv(shell, [shell, "-i"])
    return 1  # not reached


def cmd_sandbox(args: argparse.Namespace) -> int:
    state = records.state_dir()
    if args.action == "start":
        holder = sandbox.ensure(state)
        if args.json:
            print_json(holder.to_dict())
        else:
            print(_("sandbox running (holder PID {pid})").format(pid=holder.pid))
        return 0
    if args.action == "stop":
        stopped, message = sandbox.stop(state, force=args.force)
        print(message)
        return 0 if stopped or sandbox.find(state) is None else 1
    holder = sandbox.find(state)
    members = sandbox.members(holder) if holder else []
    if args.json:
        print_json({"running": holder is not None, "holder": holder.to_dict() if holder else None,
                    "members": members, "state_dir": str(state), "labs": records.lab_names()})
        return 0 if holder else 1
    if holder is None:
        print(_("no sandbox is running for {folder} (nslab starts one when a command needs it)").format(folder=state))
        return 1
    print(_("sandbox running: holder PID {pid}, {count} other process(es) inside, {labs} lab(s) recorded in "
            "{folder}").format(pid=holder.pid, count=len(members), labs=len(records.lab_names()), folder=state))
    return 0
