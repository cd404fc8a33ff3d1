"""The one interface every backend implements.

A backend only decides how a *node* exists (a named netns, an LXD container, a
simulated object) and how to remove what it made.  Links, addresses, routes and
forwarding are configured through the node's network namespace by
:mod:`nslab_kernel.netconf`, the same code for every kernel-backed backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Sequence

if TYPE_CHECKING:
    from ..records import Record
    from ..steps import Step
    from ..topology import Topology


@dataclass(frozen=True)
class NodeHandle:
    """Where a node's network namespace is: its name (as students use it) and its file."""

    node: str
    netns: str
    path: str


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


class Backend(ABC):
    name: ClassVar[str]

    @property
    def options(self) -> dict:
        """What must be remembered to reopen this backend (kept in the lab's record)."""
        return {}

    @abstractmethod
    def preflight(self) -> None:
        """Raise a clear :class:`NslabError` if this backend cannot run here; change nothing."""

    @abstractmethod
    def handle(self, topo: "Topology", node: str) -> NodeHandle:
        """Where ``node``'s namespace is (whether or not it exists yet)."""

    @abstractmethod
    def create_nodes(self, topo: "Topology", record: "Record", nodes: Sequence[str], progress=None) -> list["Step"]:
        """Ensure each node exists, writing the record before creating anything."""

    @abstractmethod
    def node_state(self, topo: "Topology", record: "Record | None", node: str) -> str:
        """'up', 'missing', 'stale' (the name no longer points at the node's namespace) or 'foreign'."""

    @abstractmethod
    def remove(self, record: "Record") -> list["Step"]:
        """Remove exactly what ``record`` lists and can be proved to be nslab's."""

    def kernel_view(self, topo: "Topology", state):
        """Route lookups for ``explain``: the kernel's own, in each node's namespace."""
        from ..explain import NetnsView
        return NetnsView(topo, {n: (self.handle(topo, n).netns, self.handle(topo, n).path) for n in topo.node_names},
                         state)

    @abstractmethod
    def exec(self, topo: "Topology", node: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        """Run a command inside the node and return its output and exit status."""
