"""TerminalView: an interactive shell inside a lab node, drawn by xterm.js in the notebook.

The shell runs in the kernel on a pty (``nslab_kernel.lifecycle.terminals``);
this widget only carries bytes: the shell's output to the browser as binary
buffers of anywidget custom messages, keystrokes and the terminal's size back.
xterm.js and its fit addon are bundled into ``static/terminal.js`` (no CDN: the
notebook may have no network); ``js/`` holds the source and the build script.

Use ``lab.terminal("h1")``, or ``TerminalView.open(lab, "h1")``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from nslab_kernel.core.i18n import _
from nslab_kernel.lifecycle.terminals import Terminal

STATIC = Path(__file__).resolve().parent / "static"


class TerminalView(anywidget.AnyWidget):
    """A terminal in a node.  Several can be open at once; each closes with the lab or the kernel."""

    _esm = STATIC / "terminal.js"
    _css = STATIC / "terminal.css"

    lab = t.Unicode("", help="the lab's name").tag(sync=True)
    node = t.Unicode("", help="the node the shell runs in").tag(sync=True)
    title = t.Unicode("", help="the bar's title, in the notebook's language").tag(sync=True)
    command = t.Unicode("", help="what a student would type for the same shell").tag(sync=True)
    closed = t.Bool(False, help="the shell has ended").tag(sync=True)
    status_text = t.Unicode("", help="why it closed, in the notebook's language").tag(sync=True)
    labels = t.Dict(help="button labels and tooltips, in the notebook's language").tag(sync=True)
    height = t.Unicode("360px", help="CSS height of the terminal's screen").tag(sync=True)
    pid = t.Int(0, help="the shell's PID (on the host)").tag(sync=True)

    def __init__(self, terminal: Terminal, height: str = "360px", **kwargs: Any):
        super().__init__(lab=terminal.lab.name, node=terminal.node, height=height, **kwargs)
        self._lock = threading.RLock()
        self.terminal: Terminal | None = None
        self.on_msg(self._on_message)
        self._attach(terminal)

    # --- the shell behind the view ---------------------------------------------------------------
    def _attach(self, terminal: Terminal) -> None:
        with self._lock:
            old = self.terminal
            if old is not None:
                old.unsubscribe(self._output)
            self.terminal = terminal
            self.labels = {"close": _("Close"), "close_tip": _("End this shell and everything started from it"),
                           "reopen": _("Reopen"), "reopen_tip": _("Open a new shell in {node}").format(node=terminal.node)}
            self.title = _("Terminal in {node}").format(node=terminal.node)
            self.command = terminal.command.shown
            self.pid = terminal.pid
            self.closed = False
            self.status_text = terminal.command.shown
            # what the new shell already wrote (its prompt), then everything after it, in order
            terminal.subscribe(self._output, replay=self._output)
        terminal.on_exit(self._ended)

    def _output(self, data: bytes) -> None:
        # On the terminal's reader thread; ipykernel's iopub socket is safe to send on from any thread.
        if data:
            self.send({"type": "output"}, [data])

    def _ended(self, terminal: Terminal) -> None:
        with self._lock:
            if terminal is not self.terminal:
                return
            self.status_text = terminal.closed_text()
            self.closed = True

    # --- messages from the browser ------------------------------------------------------------------
    def _on_message(self, _widget: Any, content: dict, buffers: list) -> None:
        kind = content.get("type")
        term = self.terminal
        if term is None:
            return
        if kind == "input":
            data = content.get("data", "")
            term.write(data.encode("latin-1") if content.get("binary") else data.encode())
        elif kind == "resize":
            term.resize(int(content.get("rows", 24)), int(content.get("cols", 80)))
        elif kind == "ready":  # a view that joined late (the cell shown again, the page reloaded)
            term.shell.replay(lambda data: self.send({"type": "replay", "view": content.get("view")}, [data]))
            if content.get("rows") and content.get("cols"):
                term.resize(int(content["rows"]), int(content["cols"]))
        elif kind == "close":
            term.close("closed")
        elif kind == "reopen":
            try:
                new = term.reopen()
            except Exception as exc:  # noqa: BLE001 - shown where the student clicked
                self.status_text = str(exc)
                return
            if content.get("rows") and content.get("cols"):
                new.resize(int(content["rows"]), int(content["cols"]))
            self.send({"type": "reset"})  # every view of this widget starts a clean screen
            self._attach(new)

    # --- for scripts and tests ------------------------------------------------------------------------
    def write(self, data: str | bytes) -> None:
        """Type into the terminal as if from the keyboard."""
        if self.terminal is not None:
            self.terminal.write(data)

    def close(self) -> None:
        """End the shell and remove the widget."""
        if self.terminal is not None:
            self.terminal.unsubscribe(self._output)
            self.terminal.close("closed")
        super().close()

    def text(self) -> str:
        """The shell's output so far (with its escape sequences), as the kernel saw it."""
        return self.terminal.shell.scrollback().decode(errors="replace") if self.terminal else ""


def terminal_view(terminal: Terminal, **options: Any) -> TerminalView:
    """The ``nslab.views`` entry point ``terminal``: how ``Lab.terminal`` shows a shell."""
    return TerminalView(terminal, **options)
