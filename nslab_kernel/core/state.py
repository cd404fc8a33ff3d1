"""The live state of a lab as plain data: what the kernel has, serialisable, no kernel access.

Read by :mod:`nslab_kernel.kernel.netstate`; drawn by the widgets (which may load it from a
saved file, without root); graded by the checker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Mapping


@dataclass(frozen=True)
class NodeHandle:
    """Where a node's network namespace is: its name (as students use it) and its file."""

    node: str
    netns: str
    path: str


class NodeStatus(StrEnum):
    """Whether a node exists as nslab made it (str-valued: it prints and serialises as its value)."""

    UP = "up"
    MISSING = "missing"
    STALE = "stale"  # the netns name no longer points at the node's namespace (its container restarted)
    UNNAMED = "unnamed"  # a container whose netns has no name yet
    STOPPED = "stopped"  # a container that is not running
    FOREIGN = "foreign"  # a node of that name exists that nslab did not create for this lab


@dataclass(frozen=True)
class InterfaceState:
    name: str
    kind: str  # veth, loopback, bridge, ...
    up: bool  # administratively up
    carrier: bool  # the other end is up too
    addresses: tuple[str, ...]  # CIDR, IPv4
    peer: str | None = None  # "node:ifname" of a veth's other end, when it is in a lab namespace
    index: int = 0


@dataclass(frozen=True)
class RouteState:
    dst: str  # "default" or a prefix
    gateway: str | None
    dev: str | None
    proto: str

    def __str__(self) -> str:
        text = self.dst
        if self.gateway:
            text += f" via {self.gateway}"
        if self.dev:
            text += f" dev {self.dev}"
        return text


@dataclass(frozen=True)
class NodeState:
    node: str
    netns: str
    exists: bool
    interfaces: tuple[InterfaceState, ...] = ()
    routes: tuple[RouteState, ...] = ()
    forwarding: bool | None = None
    inode: int | None = None

    def interface(self, name: str) -> InterfaceState | None:
        return next((i for i in self.interfaces if i.name == name), None)


@dataclass
class LabState:
    lab: str
    nodes: dict[str, NodeState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "nodes": {n: asdict(s) for n, s in self.nodes.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LabState":
        nodes = {}
        for name, s in data["nodes"].items():
            nodes[name] = NodeState(
                s["node"], s["netns"], s["exists"],
                tuple(InterfaceState(**{**i, "addresses": tuple(i["addresses"])}) for i in s.get("interfaces", ())),
                tuple(RouteState(**r) for r in s.get("routes", ())), s.get("forwarding"), s.get("inode"))
        return cls(data["lab"], nodes)
