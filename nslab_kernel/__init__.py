"""nslab: Linux network namespaces, taught in Jupyter.

The helper package behind the notebooks: a validated topology model, backends
that build it (plain named namespaces, LXD containers), the lab lifecycle with
ownership records, probing, and the ``nslab`` command line.  No UI imports here.
"""

from .core.i18n import get_language, set_language
from .core.errors import (BackendError, InputError, LabBusy, LabNotFound, NameClash, NslabError,
                          PrivilegeError, RecordError, TopologyError)
from .core.results import PingMatrix, Probe
from .core.state import LabState
from .core.steps import Report, Step
from .model.schema import load, parse
from .model.topology import Endpoint, Link, Node, Route, Topology


def __getattr__(name: str):
    """``Lab``, ``cleanup`` and ``down`` touch the kernel: imported on first use, so that the
    data types above (used by the widgets, which must load without pyroute2 or pylxd) do not
    pull in the kernel and backend layers.  The one import inside a function that the layer
    test allows: it dodges no cycle (this package is above every layer), only a heavy import."""
    if name in ("Lab", "cleanup", "down"):
        from .lifecycle import lab
        return getattr(lab, name)
    raise AttributeError(name)


__version__ = "0.1.0"

__all__ = [
    "BackendError", "Endpoint", "InputError", "Lab", "LabBusy", "LabState", "LabNotFound", "Link", "NameClash", "Node",
    "NslabError", "PingMatrix", "PrivilegeError", "Probe", "RecordError", "Report", "Route", "Step",
    "Topology", "TopologyError", "cleanup", "down", "get_language", "load", "parse", "set_language",
]
