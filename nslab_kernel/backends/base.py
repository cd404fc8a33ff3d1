"""The one interface every backend implements.

A backend only decides how a *node* exists (a named netns, an LXD container, a
simulated object) and how to remove what it made.  Links, addresses, routes and
forwarding are configured through the node's network namespace by
:mod:`nslab_kernel.kernel.netconf`, the same code for every kernel-backed backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

from ..core.records import Record
from ..core.state import LabState, NodeHandle, NodeStatus
from ..core.steps import Step
from ..kernel import netconf
from ..kernel.pty import ShellCommand, netns_shell
from ..kernel.netstate import read_lab_state
from ..kernel.probe import ping_matrix
from ..kernel.views import NetnsView
from ..model.topology import Topology


@dataclass(frozen=True)
class ExecResult:
    """The outcome of a command run inside a node."""

    node: str
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def __str__(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class NodeWork:
    """What to converge in one node: loopback up, (ifname, address) ends set and up,
    the forwarding flag, the static routes (None: leave that part alone)."""

    lo: bool = False
    ends: tuple = ()
    forwarding: bool | None = None
    routes: tuple | None = None


class Backend(ABC):
    """How nodes exist (abstract), and how they are configured and read (the kernel's way by default).

    The default configuration methods act through each node's network namespace
    (netconf, nlbatch, netstate, probe); the LXD backend reuses them unchanged
    through its netns names, and the simulated backend overrides them.
    """

    name: ClassVar[str]
    simulated: ClassVar[bool] = False

    @property
    def options(self) -> dict:
        """What must be remembered to reopen this backend (kept in the lab's record)."""
        return {}

    @abstractmethod
    def preflight(self) -> None:
        """Raise a clear :class:`NslabError` if this backend cannot run here; change nothing."""

    def preflight_forwarding(self) -> None:
        """Raise a clear :class:`NslabError` if routers' forwarding cannot be set here; change nothing."""

    @abstractmethod
    def handle(self, topo: "Topology", node: str) -> NodeHandle:
        """Where ``node``'s namespace is (whether or not it exists yet)."""

    @abstractmethod
    def create_nodes(self, topo: "Topology", record: "Record", nodes: Sequence[str], progress=None) -> list["Step"]:
        """Ensure each node exists, writing the record before creating anything."""

    @abstractmethod
    def node_state(self, topo: "Topology", record: "Record | None", node: str) -> NodeStatus:
        """Whether the node exists as nslab made it for this lab (see :class:`NodeStatus`)."""

    @abstractmethod
    def remove(self, record: "Record") -> list["Step"]:
        """Remove exactly what ``record`` lists and can be proved to be nslab's."""

    # --- configuration and reading, through the namespaces ------------------------------------------
    def handles(self, topo: "Topology", nodes) -> dict[str, NodeHandle]:
        return {node: self.handle(topo, node) for node in nodes}

    def make_links(self, topo: "Topology", links) -> list["Step"]:
        handles = self.handles(topo, {e.node for link in links for e in link.endpoints})
        by_a: dict[str, list] = {}
        for link in links:
            by_a.setdefault(link.a.node, []).append(link)

        def make(ns, node: str):
            return netconf.veths(ns, [(l.a.ifname, handles[l.b.node], l.b.ifname) for l in by_a[node]])

        results = netconf.for_each_netns({n: handles[n] for n in by_a}, make)
        return [s for steps in results.values() for s in steps]

    def converge(self, topo: "Topology", work: dict[str, NodeWork]) -> list["Step"]:
        handles = self.handles(topo, work)

        def configure(ns, node: str):
            w = work[node]
            return netconf.converge(ns, lo=w.lo, ends=list(w.ends), forwarding_flag=w.forwarding,
                                    wanted_routes=None if w.routes is None else list(w.routes))

        results = netconf.for_each_netns(handles, configure)
        return [s for steps in results.values() for s in steps]

    def one_change(self, topo: "Topology", node: str, change: str, *args) -> "Step":
        """A single change in one node: ('forwarding', bool), ('delete_route', Route), ('delete_link', ifname)."""
        fn: Callable[..., Step] = {"forwarding": netconf.forwarding, "delete_route": netconf.delete_route,
                                   "delete_link": netconf.delete_link}[change]
        return netconf.for_each_netns(self.handles(topo, [node]), lambda ns, _n: fn(ns, *args))[node]

    def read_state(self, topo: "Topology") -> LabState:
        return read_lab_state(topo.name, self.handles(topo, topo.node_names))

    def probe(self, topo: "Topology", targets, timeout: float, expected, nodes: Sequence[str] | None = None):
        """The ping matrix from ``nodes`` (default: every node of the topology) to their ``targets``."""
        return ping_matrix(topo.name, self.handles(topo, topo.node_names if nodes is None else nodes), targets,
                           timeout, expected)

    def kernel_view(self, topo: "Topology", state):
        """Route lookups for ``explain``: the kernel's own, in each node's namespace."""
        return NetnsView(topo, self.handles(topo, topo.node_names), state)

    def shell_command(self, topo: "Topology", node: str) -> ShellCommand:
        """How to start an interactive shell inside ``node`` (for a terminal): its netns, by default."""
        handle = self.handle(topo, node)
        return netns_shell(node, handle.netns, handle.path)

    @abstractmethod
    def exec(self, topo: "Topology", node: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        """Run a command inside the node and return its output and exit status."""
