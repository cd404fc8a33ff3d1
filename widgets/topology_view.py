"""TopologyView: the lab as the kernel has it now, drawn against its target, live.

With a lab, the view subscribes to the lab's netlink monitor (``lab.watch``): a link,
an address, a route or a forwarding flag changed by anyone (a step of nslab, or a
student's ``!ip``) redraws it within a fraction of a second, without running the
cell again.  The subscription ends when the widget is closed, when the same cell
runs again (its new view replaces this one), or when the lab goes down.

Each node of a lab's graph opens a shell inside it (``lab.terminal(node)``) when clicked, or
reached with Tab and Enter: the terminal opens right below the graph, several at once.  The
graph is a small anywidget (:class:`GraphSVG`) so that a click on the SVG reaches the kernel.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import anywidget
import ipywidgets as w
import traitlets as t
from IPython.display import HTML

from nslab_kernel.core.state import LabState
from nslab_kernel.model.schema import from_dict
from nslab_kernel.model.topology import Topology

from .base import LabLike, guarded, replaces_earlier_output
from .graph import PathOverlay, graph_model, legend_html, path_from, render_svg, summary_text, topology_dot
from .text import _

MAX_HEIGHT_COMPACT = "46vh"
STATIC = Path(__file__).resolve().parent / "static"


class GraphSVG(anywidget.AnyWidget):
    """Graphviz's SVG of the topology; with ``terminals``, each node is a button (click, or Tab then Enter)
    that calls the handlers given to :meth:`on_node`.  ``value`` is the SVG text, as in an HTML widget."""

    _esm = STATIC / "graph.js"
    _css = STATIC / "graph.css"

    value = t.Unicode("", help="the SVG (with an optional <style> before it)").tag(sync=True)
    terminals = t.Bool(False, help="nodes open a terminal when clicked").tag(sync=True)
    labels = t.Dict(help="what a screen reader says of a node, in the notebook's language").tag(sync=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._handlers: list[Callable[[str], None]] = []
        self.on_msg(self._on_message)

    def on_node(self, handler: Callable[[str], None]) -> None:
        """Call ``handler(node)`` when a node is clicked (or Enter is pressed on it)."""
        self._handlers.append(handler)

    def _on_message(self, _widget: Any, content: dict, _buffers: list) -> None:
        node = content.get("node") if isinstance(content, dict) else None
        if content.get("type") == "terminal" and isinstance(node, str):
            for handler in list(self._handlers):
                handler(node)


class TopologyView(w.VBox):
    """The topology graph.  ``TopologyView(lab)`` follows the live state; ``from_state`` draws a saved one."""

    def __init__(self, lab: LabLike | None = None, topology: Topology | None = None, state: LabState | None = None,
                 live: bool = True, compact: bool = False, caption: str | None = None):
        self.lab = lab
        self.topology = topology if topology is not None else lab.topology  # type: ignore[union-attr]
        self.state = state
        self.path: PathOverlay | None = None
        self.live = bool(live and lab is not None)
        self.compact = compact
        self.caption = caption
        self.terminal_area = w.VBox()
        self._unwatch = None
        self._closed = False
        self.opens_terminals = bool(lab is not None and hasattr(lab, "terminal") and not compact)
        self.svg = GraphSVG(terminals=self.opens_terminals,
                            labels={"open": _("Open a terminal in {node}")},
                            layout=w.Layout(width="100%", overflow="hidden"))
        self.svg.add_class("nslab-topology")
        self.svg.on_node(self.open_terminal)
        if compact:
            self.svg.add_class("nslab-topology-compact")
        self.summary = w.HTML()
        self.summary.add_class("nslab-topology-summary")
        self.legend = w.HTML()
        self.message = w.HTML()
        self.button = w.Button(description=_("Refresh"), icon="refresh", tooltip=_("read the kernel's state again"),
                               layout=w.Layout(width="auto"))
        self.button.on_click(lambda _b: self.refresh())
        self.terminals = self._terminal_hint()
        children: list[w.Widget] = [self.svg, w.HBox([self.summary, self.legend],
                                                     layout=w.Layout(flex_flow="row wrap")),
                                    self.message]
        if lab is not None and not compact:  # beside a matrix: the graph alone (it follows the kernel anyway)
            bar = [self.button] + ([self.terminals] if self.terminals is not None else [])
            children.insert(0, w.HBox(bar, layout=w.Layout(flex_flow="row wrap", align_items="center",
                                                            grid_gap="4px 12px")))
        super().__init__(children, layout=w.Layout(width="100%", max_width="100%", overflow="hidden"))
        self.add_class("nslab-topology-view")
        self._style = (f"<style>.nslab-topology-compact svg{{max-height:{MAX_HEIGHT_COMPACT}}}</style>" if compact else "")
        if self.live:
            replaces_earlier_output(self)
            simulated = bool(getattr(getattr(lab, "backend", None), "simulated", False))
            if hasattr(lab, "watch") and not simulated:
                self._unwatch = lab.watch(self._on_kernel_change)  # type: ignore[union-attr]
            elif hasattr(lab, "on_change"):  # a simulated network has no netlink: redrawn after each step
                lab.on_change(self.refresh)  # type: ignore[union-attr]
            self.refresh()
        else:
            self.redraw()

    @classmethod
    def from_state(cls, topology: Topology | dict, state: LabState | dict | None = None) -> "TopologyView":
        topo = topology if isinstance(topology, Topology) else from_dict(topology, "saved state")
        st = state if isinstance(state, LabState) or state is None else LabState.from_dict(state)
        return cls(None, topo, st, live=False)

    # --- terminals -----------------------------------------------------------------------
    def _terminal_hint(self) -> w.Widget | None:
        """What the nodes do when clicked (the graph's nodes are the buttons: one per node, at any size)."""
        if not self.opens_terminals:
            return None
        hint = w.HTML("<span class='nslab-terminal-hint'><b style='font-family:monospace;color:#0072B2'>&gt;_</b> "
                      + html.escape(_("Click a node to open a shell inside it (or Tab to it and press Enter)"))
                      + "</span>")
        hint.add_class("nslab-terminal-hint")
        return hint

    def open_terminal(self, node: str) -> None:
        def work() -> None:
            term = self.lab.terminal(node)  # type: ignore[union-attr]
            self.terminal_area.children = (*self.terminal_area.children, term)
            if self.terminal_area not in self.children:
                self.children = (*self.children, self.terminal_area)
        guarded(self.message, work)

    # --- live state -----------------------------------------------------------------------
    def _on_kernel_change(self, state: LabState | None, changes: dict | None = None) -> None:
        if self._closed:
            return
        if state is None:  # the lab went down
            self.stop()
            self.refresh()
            return
        self.state = state
        self.redraw()

    def refresh(self, *_args: Any) -> None:
        if self._closed:
            return

        def work() -> None:
            if self.lab is not None:
                self.state = self.lab.state()
            self.redraw()
        guarded(self.message, work)

    def redraw(self) -> None:
        model = graph_model(self.topology, self.state, getattr(self.lab, "built_stages", None))
        self.svg.value = self._style + render_svg(topology_dot(model, path=self.path, compact=self.compact or None,
                                                               terminals=self.opens_terminals))
        self.model = model
        summary = summary_text(model)
        if self.live and self._unwatch is not None:
            summary = "<span class='nslab-live' title='{}'>● {}</span> · ".format(
                html.escape(_("redrawn when the kernel changes, also by !ip commands")), html.escape(_("live"))) \
                + html.escape(summary)
        elif self.caption:
            summary = f"<i>{html.escape(self.caption)}</i> · {html.escape(summary)}"
        else:
            summary = html.escape(summary)
        self.summary.value = f"<span style='font-size:12px;white-space:nowrap'>{summary}</span>"
        self.legend.value = legend_html(model)

    def show_path(self, path: PathOverlay | Any | None) -> None:
        """Draw a probe's hops (a PathOverlay or an ``explain`` result); None removes it."""
        self.path = None if path is None else path if isinstance(path, PathOverlay) else path_from(path)
        self.redraw()

    def stop(self) -> None:
        """Stop following the kernel (the drawing stays)."""
        if self._unwatch is not None:
            unwatch, self._unwatch = self._unwatch, None
            unwatch()

    def close(self) -> None:
        self._closed = True
        self.stop()
        super().close()


def snapshot_svg(lab: LabLike, path: PathOverlay | None = None) -> Any:
    """The graph of the lab as it is now, as a static picture (kept in a saved notebook)."""
    model = graph_model(lab.topology, lab.state(), getattr(lab, "built_stages", None))
    return HTML(f"<div class='nslab-topology-static'>{render_svg(topology_dot(model, path=path))}"
                f"<div style='font-size:12px'>{html.escape(summary_text(model))}</div>{legend_html(model)}</div>")
