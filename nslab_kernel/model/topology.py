"""The topology model: what a lab should look like, independent of any backend.

Frozen dataclasses (``Topology``, ``Node``, ``Link``, ``Endpoint``, ``Route``)
with the queries the other layers ask of them.  They are built, validated, by
:mod:`nslab_kernel.model.schema` from YAML (containerlab-style endpoint pairs).
Nothing here imports pyroute2 or pylxd.
"""

from __future__ import annotations

import ipaddress
import re
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..core.i18n import _
from ..core.errors import InputError

HOST = "host"
ROUTER = "router"
KINDS = (HOST, ROUTER)

DEFAULT_NETNS_NAMING = "{lab}-{node}"
DEFAULT_CONTAINER_NAMING = "{lab}-{node}"

# A lab or node name becomes part of a netns file name and an LXD container
# name (a hostname): letters, digits and hyphens, starting with a letter.
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,30}$")

IPv4Net = ipaddress.IPv4Network
IPv4If = ipaddress.IPv4Interface
IPv4Addr = ipaddress.IPv4Address
DEFAULT_NET = IPv4Net("0.0.0.0/0")


@dataclass(frozen=True)
class Route:
    """A static route in iproute2's own words: ``PREFIX via GATEWAY [dev IFNAME]``."""

    dst: IPv4Net
    via: IPv4Addr
    dev: str | None = None

    @property
    def is_default(self) -> bool:
        return self.dst == DEFAULT_NET

    @property
    def destination(self) -> str:
        """The destination as ip writes it: ``default`` or the prefix."""
        return "default" if self.is_default else str(self.dst)

    def __str__(self) -> str:
        text = f"{self.destination} via {self.via}"
        return f"{text} dev {self.dev}" if self.dev else text

    @classmethod
    def parse(cls, text: str) -> "Route":
        """Parse ``10.0.3.0/24 via 10.0.12.2`` / ``default via 10.0.1.1 dev eth0``.

        Raises ``ValueError`` with a message saying what is expected.
        """
        words = str(text).split()
        if len(words) not in (3, 5) or words[1] != "via" or (len(words) == 5 and words[3] != "dev"):
            raise ValueError("expected 'PREFIX via GATEWAY' or 'default via GATEWAY', optionally followed by 'dev IFNAME'")
        prefix, gateway = words[0], words[2]
        if prefix == "default":
            dst = DEFAULT_NET
        else:
            try:
                dst = IPv4Net(prefix, strict=True)
            except ValueError as exc:
                if "has host bits set" in str(exc):
                    fixed = IPv4Net(prefix, strict=False)
                    raise ValueError(f"prefix {prefix} has host bits set; write {fixed}") from None
                raise ValueError(f"prefix {prefix!r} is not an IPv4 prefix like 10.0.3.0/24") from None
        try:
            via = IPv4Addr(gateway)
        except ValueError:
            raise ValueError(f"gateway {gateway!r} is not an IPv4 address like 10.0.12.2") from None
        return cls(dst, via, words[4] if len(words) == 5 else None)


@dataclass(frozen=True)
class Endpoint:
    """One end of a link: an interface of a node, with its address (or none yet)."""

    node: str
    ifname: str
    address: IPv4If | None = None

    def __str__(self) -> str:
        return f"{self.node}:{self.ifname}"


@dataclass(frozen=True)
class Link:
    """A veth pair joining two endpoints.

    ``choose``: the addresses are the student's choice (any two in one subnet, no clash); the ones
    given are one solution, the one nslab applies.
    """

    a: Endpoint
    b: Endpoint
    choose: bool = False

    @property
    def endpoints(self) -> tuple[Endpoint, Endpoint]:
        return (self.a, self.b)

    @property
    def student_chooses(self) -> bool:
        """The addresses are the student's to choose: ``choose: true``, or none given at all."""
        return self.choose or (self.a.address is None and self.b.address is None)

    @property
    def subnet(self) -> IPv4Net | None:
        return self.a.address.network if self.a.address else None

    def other(self, node: str) -> Endpoint:
        return self.b if self.a.node == node else self.a

    def end(self, node: str) -> Endpoint:
        return self.a if self.a.node == node else self.b

    def __str__(self) -> str:
        return f"{self.a} - {self.b}"


@dataclass(frozen=True)
class Node:
    name: str
    kind: str = HOST
    forwarding: bool = False
    routes: tuple[Route, ...] = ()
    image: str | None = None

    @property
    def is_router(self) -> bool:
        return self.kind == ROUTER


@dataclass(frozen=True)
class Topology:
    """A validated lab description.  Build it with :func:`load` or :func:`parse`."""

    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    routing: str = "static"
    netns_naming: str = DEFAULT_NETNS_NAMING
    container_naming: str = DEFAULT_CONTAINER_NAMING
    description: str = ""
    source: str = "<topology>"
    routes_check: str = "outcome"  # "outcome": any working routes pass; "exact": the routes listed
    _by_name: dict[str, Node] = field(default_factory=dict, init=False, repr=False, compare=False)
    _ends: dict[str, tuple[Endpoint, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})
        ends: dict[str, list[Endpoint]] = {n.name: [] for n in self.nodes}
        for link in self.links:
            for end in link.endpoints:
                ends.setdefault(end.node, []).append(end)
        object.__setattr__(self, "_ends", {n: tuple(e) for n, e in ends.items()})

    # --- queries -------------------------------------------------------------------
    def node(self, name: str) -> Node:
        try:
            return self._by_name[name]
        except KeyError:
            raise InputError(_("lab {lab!r} has no node {node!r}; its nodes are {nodes}").format(
                lab=self.name, node=name, nodes=", ".join(self._by_name))) from None

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def endpoints_of(self, node: str) -> list[Endpoint]:
        return list(self._ends.get(node, ()))

    def links_of(self, node: str) -> list[Link]:
        return [link for link in self.links if node in (link.a.node, link.b.node)]

    def addresses_of(self, node: str) -> list[IPv4If]:
        return [e.address for e in self.endpoints_of(node) if e.address is not None]

    def route_for(self, node: str, address: IPv4Addr | str) -> Route | None:
        """The node's listed route that the kernel would pick for ``address`` (the longest prefix)."""
        ip = IPv4Addr(address)
        best = None
        for r in self.node(node).routes:
            if ip in r.dst and (best is None or r.dst.prefixlen > best.dst.prefixlen):
                best = r
        return best

    def owner_of(self, address: IPv4Addr) -> Endpoint | None:
        for link in self.links:
            for end in link.endpoints:
                if end.address is not None and end.address.ip == address:
                    return end
        return None

    def netns_name(self, node: str, lab: str | None = None) -> str:
        return self.netns_naming.format(lab=lab or self.name, node=node)

    def container_name(self, node: str, lab: str | None = None) -> str:
        return self.container_naming.format(lab=lab or self.name, node=node)

    def renamed(self, lab: str) -> "Topology":
        """The same topology under another lab name (``--lab``)."""
        check_lab_name(lab)
        return dataclasses.replace(self, name=lab)

    # --- serialisation (ownership records, saved states, widgets) -----------------------
    def to_dict(self) -> dict[str, Any]:
        nodes: dict[str, Any] = {}
        for n in self.nodes:
            entry: dict[str, Any] = {"kind": n.kind}
            if n.forwarding != n.is_router:
                entry["forwarding"] = n.forwarding
            if n.routes and self.routing != "auto":
                entry["routes"] = [str(r) for r in n.routes]
            if n.image:
                entry["image"] = n.image
            nodes[n.name] = entry
        links = []
        for link in self.links:
            entry = {"endpoints": [str(link.a), str(link.b)]}
            if link.a.address:
                entry["addresses"] = [str(link.a.address), str(link.b.address)]
            if link.choose:
                entry["choose"] = True
            links.append(entry)
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.routing == "auto":
            data["routing"] = "auto"
        naming = {}
        if self.netns_naming != DEFAULT_NETNS_NAMING:
            naming["netns"] = self.netns_naming
        if self.container_naming != DEFAULT_CONTAINER_NAMING:
            naming["container"] = self.container_naming
        if naming:
            data["naming"] = naming
        if self.routes_check != "outcome":
            data["check"] = {"routes": self.routes_check}
        data["nodes"] = nodes
        data["links"] = links
        return data


def check_lab_name(name: Any) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InputError(_("lab name {name!r} is not valid: use 1 to 31 letters, digits or hyphens, starting with "
                           "a letter (like figure1)").format(name=name))
