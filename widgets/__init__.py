"""nslab_widgets: the ipywidgets layer of nslab (installed from the ``widgets/`` folder).

It only consumes data from ``nslab_kernel`` (never pyroute2 or pylxd), so every
widget also renders from a saved lab state, without root:

- :class:`TopologyView`: the lab as an SVG graph with its live state and a path overlay;
- :class:`PingMatrixView`: the ping matrix, cell colours, expected vs actual, details on click;
- :class:`NetnsInspector`: processes grouped by netns, /var/run/netns names, per-node state;
- :func:`progress_bar`: a progress widget for ``lab.up``;
- :class:`TerminalView`: a shell inside a node, in xterm.js (``lab.terminal("h1")``).
"""

from .graph import PathOverlay, topology_dot, topology_svg
from .inspector import NetnsInspector, snapshot
from .matrix_view import PingMatrixView
from .progress import progress_bar
from .terminal import TerminalView
from .topology_view import TopologyView, snapshot_svg

__all__ = ["NetnsInspector", "PathOverlay", "PingMatrixView", "TerminalView", "TopologyView", "progress_bar", "snapshot", "snapshot_svg",
           "topology_dot", "topology_svg"]
