"""nslab_widgets: the ipywidgets layer of nslab (installed from the ``widgets/`` folder).

It only consumes typed results from ``nslab_kernel`` (never pyroute2 or pylxd), so
every widget also renders from a saved lab state, without root:

- :class:`TopologyView`: the kernel's state drawn against the target topology, live
  (netlink events) while it is shown: ghosts for what is missing, marks for what is wrong;
- :class:`PingMatrixView`: the ping matrix with the graph just above it; symbols and
  whole values, "!" where a result differs from what is expected at that point;
- :class:`NetnsInspector`: processes grouped by netns, /var/run/netns names, per-node state;
- :func:`progress_bar`: one tqdm bar per operation, closed when the operation ends;
- :class:`TerminalView`: a shell inside a node, in xterm.js (``lab.terminal("h1")``).

Labels are in the notebook's language (``nslab_kernel.set_language``).
"""

from .graph import GraphModel, PathOverlay, graph_model, topology_dot, topology_svg
from .inspector import NetnsInspector, snapshot
from .matrix_view import PingMatrixView
from .progress import ProgressBar, progress_bar
from .terminal import TerminalView
from .topology_view import TopologyView, snapshot_svg

__all__ = ["GraphModel", "NetnsInspector", "PathOverlay", "PingMatrixView", "ProgressBar", "TerminalView",
           "TopologyView", "graph_model", "progress_bar", "snapshot", "snapshot_svg", "topology_dot", "topology_svg"]
