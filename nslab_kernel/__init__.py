"""nslab: Linux network namespaces, taught in Jupyter.

The helper package behind the notebooks: a validated topology model, backends
that build it (plain named namespaces, LXD containers), the lab lifecycle with
ownership records, probing, and the ``nslab`` command line.  No UI imports here.
"""

from .errors import (BackendError, InputError, LabBusy, LabNotFound, NameClash, NslabError,
                     PrivilegeError, RecordError, TopologyError)
from .results import PingMatrix, Probe
from .state import LabState
from .steps import Report, Step
from .topology import Endpoint, Link, Node, Route, Topology, load, parse


def __getattr__(name: str):
    """``Lab``, ``cleanup`` and ``down`` touch the kernel: imported on first use, so that the
    data types above (used by the widgets) load without pyroute2."""
    if name in ("Lab", "cleanup", "down"):
        from . import lab
        return getattr(lab, name)
    raise AttributeError(name)


__version__ = "0.1.0"

__all__ = [
    "BackendError", "Endpoint", "InputError", "Lab", "LabBusy", "LabState", "LabNotFound", "Link", "NameClash", "Node",
    "NslabError", "PingMatrix", "PrivilegeError", "Probe", "RecordError", "Report", "Route", "Step",
    "Topology", "TopologyError", "cleanup", "down", "load", "parse",
]
