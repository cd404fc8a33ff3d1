"""Terminals: a shell in a lab node, how long it lives, and its line in the lab's ledger.

``Lab.terminal(node)`` opens one (:func:`open_terminal`); several can be open at
once, in one node or many.  Each is written into the lab's ownership record
(``t: "terminal"``) like any other resource nslab creates, so that it ends with
the lab:

- ``lab.down()`` / ``nslab down`` / ``nslab cleanup``: :func:`close_recorded`
  ends every recorded shell and what it started (its session), but only after
  checking that the PID is still the same process (its start time in
  ``/proc/PID/stat``); what outlived the shell counts only in the node's netns;
- the kernel (or any Python process) exiting: an ``atexit`` hook closes the
  terminals it opened; a killed kernel closes its end of every pty, and the
  kernel sends each shell SIGHUP, as when a terminal window closes.

The record gets two lines per terminal: one before the shell is spawned (which
node, nothing to kill yet) and one right after, with the PID, start time and
namespace inode.  A kill between the two leaves a shell whose pty master died
with its owner: the kernel hangs it up.

The view (xterm.js) lives in ``nslab_widgets``; this module has no UI.  A UI
package offers its view through the entry point group ``nslab.views`` (name
``terminal``), so the kernel layer never imports the UI: :func:`view_of` finds
it when it is installed, else the :class:`Terminal` itself is returned.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import uuid
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from ..core import records
from ..core.errors import InputError
from ..core.i18n import _
from ..core.steps import Step
from ..kernel import nsfs, pty
from ..kernel.pty import OpenShell, ProcessId, PtyShell

if TYPE_CHECKING:
    from .lab import Lab

KIND = "terminal"
VIEW_GROUP = "nslab.views"


@dataclass(eq=False)
class Terminal(OpenShell):
    """An open shell in one node of one lab (no UI: see ``nslab_widgets.TerminalView``)."""

    lab: "Lab"
    node: str
    id: str
    shell: PtyShell
    reason: str | None = None  # why it closed: "exit", "closed", "down", "exit-kernel"
    _done: bool = field(default=False, repr=False)
    _exit_callbacks: list[Callable[["Terminal"], None]] = field(default_factory=list, repr=False)

    @property
    def _exit_lock(self) -> threading.RLock:
        return _lock

    def reopen(self) -> "Terminal":
        """A new shell in the same node, of the same size."""
        return open_terminal(self.lab, self.node, rows=self.shell.rows, cols=self.shell.cols)

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.alive else self.closed_text()
        return f"<Terminal {self.lab.name}:{self.node} ({self.command.shown}), {state}>"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(repr(self) + "\n" + _("(install nslab[widgets] to see the terminal in a notebook)"))

    def _ended(self, _status: int | None) -> None:
        with _lock:
            _live.pop(self.id, None)
        self._finished()


_live: dict[str, Terminal] = {}
_lock = threading.RLock()


def live(lab: str | None = None) -> list[Terminal]:
    """The terminals this process has open (of one lab, or all)."""
    with _lock:
        return [t for t in _live.values() if lab is None or t.lab.name == lab]


node_netns_inode = nsfs.netns_inode  # the namespace a node's netns file names


def _real_node(lab: "Lab", node: str) -> None:
    """A node of the lab (else InputError naming the nodes there are) that a shell can enter (not simulated)."""
    lab.topology.node(node)
    if lab.backend.simulated:
        raise InputError(_("a simulated network has no real node to open a shell in: terminals need the netns or "
                           "lxd backend (run as root, or use the kernel 'Python 3 (nslab)')"))


def open_terminal(lab: "Lab", node: str, rows: int = 24, cols: int = 80) -> Terminal:
    """Spawn a shell inside ``node`` (its netns, or its container) on a pty, recorded in the ledger."""
    _real_node(lab, node)
    with records.lock(lab.name):
        record = lab._require_up(node)
        command = lab.backend.shell_command(lab.topology, node)
        handle = lab.backend.handle(lab.topology, node)
        inode = node_netns_inode(handle.path)
        tid = uuid.uuid4().hex[:12]
        record.append(t=KIND, id=tid, node=node, command=command.shown)  # before it exists
        shell = PtyShell(command, rows=rows, cols=cols)
        shell.start()
        identity = ProcessId(shell.pid, pty.start_time(shell.pid) or 0, inode)
        shell.identity = identity
        record.append(t=KIND, id=tid, node=node, command=command.shown, session=True, owner=os.getpid(),
                      **identity.to_dict())
    term = Terminal(lab, node, tid, shell)
    with _lock:
        _live[tid] = term
    shell.subscribe(on_exit=term._ended)
    return term


def exec_here(lab: "Lab", node: str, line: str | None = None) -> NoReturn:
    """Become a shell inside ``node`` on this process's own terminal (``nslab shell NODE``).

    The process records itself (PID, start time, the node's netns) and then execs
    the shell, which keeps that PID: ``nslab down`` ends it like any other
    terminal.  It is not a session leader (the user's terminal has one), so only
    it and its descendants in the node's netns are ever killed.  ``line``: run
    that command line instead of an interactive shell (``-c``).
    """
    _real_node(lab, node)
    with records.lock(lab.name):
        record = lab._require_up(node)
        command = lab.backend.shell_command(lab.topology, node)
        if line is not None:
            command = command.running(line)
        inode = node_netns_inode(lab.backend.handle(lab.topology, node).path)
        me = ProcessId(os.getpid(), pty.start_time(os.getpid()) or 0, inode)
        record.append(t=KIND, id=uuid.uuid4().hex[:12], node=node, command=command.shown, session=False,
                      owner=os.getpid(), **me.to_dict())
    # The user's terminal keeps its own TERM, language and PATH; the node's name and prompt are added.
    env = {**command.env, **os.environ}
    env.update({k: v for k, v in command.env.items() if k.startswith("NSLAB_") or k == "PS1"})
    if line is None:
        sys.stderr.write(_("nslab: a shell in {node} of lab {lab} ({command}); exit or Ctrl-D to leave").format(
            node=node, lab=lab.name, command=command.shown) + "\n")
        sys.stderr.flush()
    os.execvpe(command.argv[0], list(command.argv), env)


def recorded_open(record: records.Record | None) -> list[dict[str, Any]]:
    """The shells ``record`` lists that are still running (for ``nslab status``)."""
    out = []
    for entry in record.of_type(KIND) if record is not None else []:
        if "pid" in entry and pty.running(int(entry["pid"]), int(entry["start"])):
            out.append({"node": entry["node"], "pid": int(entry["pid"]), "command": entry.get("command", "")})
    return out


def close_recorded(record: records.Record, grace: float = 1.0) -> list[Step]:
    """End every terminal ``record`` lists (before the lab's nodes are removed).

    A terminal of this process is closed through its object (its view says why);
    any other recorded shell (another kernel's, ``nslab shell``'s) is killed by
    PID, with its session and descendants, only if that PID is still the process
    that was recorded (its start time); when the shell itself is gone, only what
    is left of its session in the node's netns (see :func:`pty.members`).
    """
    mine = {t.pid: t for t in live(record.lab)}
    steps = []
    for entry in record.of_type(KIND):
        if "pid" not in entry:
            continue  # the line written before spawning: its PID line (if any) follows
        proc = ProcessId(int(entry["pid"]), int(entry["start"]), entry.get("netns_inode"))
        session = bool(entry.get("session", True))
        command = f"pkill -HUP -s {proc.pid}" if session else f"kill -HUP {proc.pid}"
        term = mine.pop(proc.pid, None)
        targets = pty.members(proc, session)
        if term is not None and term.shell.identity == proc:
            term.reason = term.reason or "down"
            term.shell.close(grace=grace)
        elif targets:
            pty.kill_recorded(proc, session=session, grace=grace)
        if targets:
            note = _("ended the shell (PID {pid})").format(pid=proc.pid)
            if len(targets) > 1:
                note += " " + _("and {count} process(es) started from it").format(count=len(targets) - 1)
            steps.append(Step("terminal", entry["node"], command, True, note))
        else:
            steps.append(Step("terminal", entry["node"], command, False, _("already gone")))
    for term in mine.values():  # not in the record (cannot happen unless it was edited): close anyway
        term.reason = term.reason or "down"
        term.shell.close(grace=grace)
    return steps


def view_of(term: Terminal, **options: Any) -> Any:
    """The installed UI's view of ``term`` (nslab_widgets' xterm.js widget), else ``term`` itself."""
    for point in entry_points(group=VIEW_GROUP, name="terminal"):
        try:
            factory = point.load()
        except ImportError:
            continue  # the UI package is there but its dependencies (anywidget) are not
        return factory(term, **options)
    return term


@atexit.register
def _close_all() -> None:
    """The kernel (or script) is exiting: no shell it opened outlives it."""
    for term in live():
        term.reason = term.reason or "exit-kernel"
        try:
            term.shell.close(grace=0.5)
        except Exception:  # noqa: BLE001 - exiting anyway; 'nslab down' remains
            pass
