"""TopologyView: the lab drawn as SVG with its live state, refreshed on each step and on a button."""

from __future__ import annotations

from typing import Any

import ipywidgets as w
from IPython.display import HTML

from nslab_kernel.core.state import LabState
from nslab_kernel.model.schema import from_dict
from nslab_kernel.model.topology import Topology

from .base import LabLike, guarded
from .graph import PathOverlay, path_from, topology_svg


class TopologyView(w.VBox):
    """The topology graph.  ``TopologyView(lab)`` reads the live state; ``from_state`` draws a saved one."""

    def __init__(self, lab: LabLike | None = None, topology: Topology | None = None, state: LabState | None = None,
                 live: bool = True):
        self.lab = lab
        self.topology = topology if topology is not None else lab.topology  # type: ignore[union-attr]
        self.state = state
        self.path: PathOverlay | None = None
        self.svg = w.HTML(layout=w.Layout(width="100%"))
        self.svg.add_class("nslab-topology")
        self.message = w.HTML()
        self.button = w.Button(description="Actualizar / refresh", icon="refresh", tooltip="read the live state again")
        self.button.on_click(lambda _b: self.refresh())
        children = [self.svg, self.message]
        if lab is not None:
            children.insert(0, self.button)
            if live and hasattr(lab, "on_change"):
                lab.on_change(self.refresh)  # redrawn after each helper step
        super().__init__(children)
        if lab is not None and live:
            self.refresh()
        else:
            self.redraw()

    @classmethod
    def from_state(cls, topology: Topology | dict, state: LabState | dict | None = None) -> "TopologyView":
        topo = topology if isinstance(topology, Topology) else from_dict(topology, "saved state")
        st = state if isinstance(state, LabState) or state is None else LabState.from_dict(state)
        return cls(None, topo, st, live=False)

    def refresh(self, *_args: Any) -> None:
        def work() -> None:
            if self.lab is not None:
                self.state = self.lab.state()
            self.redraw()
        guarded(self.message, work)

    def redraw(self) -> None:
        self.svg.value = topology_svg(self.topology, self.state, self.path)

    def show_path(self, path: PathOverlay | Any | None) -> None:
        """Draw a probe's hops (a PathOverlay or an ``explain`` result); None removes it."""
        self.path = None if path is None else path if isinstance(path, PathOverlay) else path_from(path)
        self.redraw()


def snapshot_svg(lab: LabLike, path: PathOverlay | None = None) -> Any:
    """The graph of the lab as it is now, as a static picture (kept in a saved notebook)."""
    return HTML(f"<div class='nslab-topology-static'>{topology_svg(lab.topology, lab.state(), path)}</div>")
