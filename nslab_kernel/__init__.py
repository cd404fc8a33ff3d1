"""nslab: Linux network namespaces, taught in Jupyter.

The helper package behind the notebooks: a validated topology model, backends
that build it (plain named namespaces, LXD containers), the lab lifecycle with
ownership records, probing, and the ``nslab`` command line.  No UI imports here.
"""

from .errors import (BackendError, InputError, LabBusy, LabNotFound, NameClash, NslabError,
                     PrivilegeError, RecordError, TopologyError)
from .lab import Lab, cleanup, down
from .probe import PingMatrix, Probe
from .steps import Report, Step
from .topology import Endpoint, Link, Node, Route, Topology, load, parse

__version__ = "0.1.0"

__all__ = [
    "BackendError", "Endpoint", "InputError", "Lab", "LabBusy", "LabNotFound", "Link", "NameClash", "Node",
    "NslabError", "PingMatrix", "PrivilegeError", "Probe", "RecordError", "Report", "Route", "Step",
    "Topology", "TopologyError", "cleanup", "down", "load", "parse",
]
