"""The topology file: load it, validate all of it, build the :class:`Topology`.

A topology is loaded from YAML (containerlab-style endpoint pairs), validated
completely before anything touches the kernel, and turned into the frozen
dataclasses of :mod:`nslab_kernel.model.topology`; ``routing: auto`` gets its
routes from :mod:`nslab_kernel.model.routing`.  Every problem is listed, each
one line naming the bad value and the fix.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..core.errors import InputError, TopologyError
from ..core.i18n import _
from .routing import auto_routes
from .topology import (DEFAULT_CONTAINER_NAMING, DEFAULT_NETNS_NAMING, HOST, KINDS, NAME_RE, ROUTER, Endpoint,
                       IPv4Addr, IPv4If, IPv4Net, Link, Node, Route, Topology)

TOP_KEYS = ("name", "description", "nodes", "links", "routing", "naming", "check")
NODE_KEYS = ("kind", "routes", "forwarding", "image", "description")
LINK_KEYS = ("endpoints", "addresses", "choose")
CHECK_KEYS = ("routes",)
ROUTES_CHECKS = ("outcome", "exact")
NAMING_KEYS = ("netns", "container")

IFNAMSIZ = 16  # the kernel's limit, including the terminating NUL
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
NETNS_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

MAX_BYTES = 1 << 20  # a topology is a few KB; refuse what could only be a mistake or an attack
MAX_NODES, MAX_LINKS = 1000, 4000


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys, and aliases (``*name``): a topology never
    needs them, and nested aliases expand exponentially (a "billion laughs" file)."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed in a topology "
                                              "file; write the value out", event.start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key]}); each name may appear once",
                key_node.start_mark)
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def bundled_names() -> list[str]:
    folder = resources.files(__package__) / "topologies"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")) + ["chain:N"]


def load(spec: str | Path) -> Topology:
    """Load a topology by file path, bundled name (``figure1``) or generator (``chain:N``)."""
    text_spec = str(spec)
    if text_spec.startswith("chain:") or text_spec.startswith("chain "):
        count = text_spec[6:].strip()
        if not count.isdigit() or not 1 <= int(count) <= 500:
            raise InputError(f"'{text_spec}': chain needs a number of routers from 1 to 500, like chain:50")
        return chain(int(count))
    path = Path(text_spec)
    if path.suffix not in (".yaml", ".yml") and not path.exists():
        bundled = resources.files(__package__) / "topologies" / f"{text_spec}.yaml"
        if bundled.is_file():
            return parse(bundled.read_text(encoding="utf-8"), source=f"{text_spec} (bundled)")
        close = difflib.get_close_matches(text_spec, bundled_names(), n=1)
        hint = _("did you mean '{name}'? ").format(name=close[0]) if close else ""
        raise InputError(_("no topology file or bundled topology named '{name}'; {hint}bundled: {bundled}").format(
            name=text_spec, hint=hint, bundled=", ".join(bundled_names())))
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: {path.stat().st_size} bytes is too large for a topology (at most {MAX_BYTES})")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(_("{path}: no such topology file; give a path to a .yaml file or a bundled name "
                           "({bundled})").format(path=path, bundled=", ".join(bundled_names()))) from None
    except IsADirectoryError:
        raise InputError(_("{path}: is a folder, not a topology file").format(path=path)) from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: is not a UTF-8 text file; a topology is YAML text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse(text, source=str(path))


def parse(text: str, source: str = "<topology>") -> Topology:
    """Parse and validate YAML text.  Raises :class:`TopologyError` listing every problem."""
    if len(text) > MAX_BYTES:
        raise TopologyError([f"{source}: {len(text)} bytes is too large for a topology (at most {MAX_BYTES})"])
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        what = exc.problem or exc.context or "invalid YAML"
        raise TopologyError([f"{source}: YAML syntax error at {where}: {what}"]) from None
    except yaml.YAMLError as exc:
        raise TopologyError([f"{source}: not valid YAML ({exc})"]) from None
    except RecursionError:
        raise TopologyError([f"{source}: YAML nested too deeply"]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date or a number YAML cannot build
        raise TopologyError([f"{source}: a value cannot be read ({exc})"]) from None
    return from_dict(data, source)


def _unknown_keys(data: dict, allowed: Iterable[str], where: str) -> list[str]:
    problems = []
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
            problems.append(f"{where}: unknown key '{key}'; {hint}")
    return problems


def valid_ifname_problem(name: Any) -> str | None:
    """What the kernel would object to in an interface name, or None."""
    if not isinstance(name, str) or not name:
        return "is empty"
    if len(name.encode()) >= IFNAMSIZ:
        return f"is {len(name.encode())} bytes long; the kernel allows at most {IFNAMSIZ - 1}"
    if name in (".", "..") or any(c in name for c in "/:") or any(c.isspace() for c in name):
        return "may not be '.' or '..' nor contain '/', ':' or spaces"
    if not IFNAME_RE.match(name):
        return "may only have ASCII letters, digits, '-', '_' and '.' (what a student can read and type)"
    if name == "lo":
        return "is the loopback's name, which every namespace already has"
    return None


Found = list[str]  # the problems one part of the file has, each one line


@dataclass
class _NodeSpec:
    kind: str
    forwarding: bool
    routes: list[Route]
    image: str | None


@dataclass
class _Seen:
    """What the links so far have taken: interface names, addresses, subnets (each must be unique)."""

    ifnames: dict[tuple[str, str], str] = field(default_factory=dict)
    addresses: dict[IPv4Addr, str] = field(default_factory=dict)
    subnets: dict[IPv4Net, str] = field(default_factory=dict)


def from_dict(data: Any, source: str = "<topology>") -> Topology:
    """Validate a parsed mapping and build the :class:`Topology`; every problem is listed at once.

    Each part of the file is read by a function of its own that returns its value
    and its problems, in the order they are reported.
    """
    if not isinstance(data, dict):
        raise TopologyError([f"{source}: a topology is a mapping with keys 'name', 'nodes' and 'links'; "
                             f"found {type(data).__name__ if data is not None else 'an empty document'}"])
    problems = _unknown_keys(data, TOP_KEYS, source)
    name, found = _lab_name(data.get("name"), source)
    problems += found
    routing, found = _routing(data.get("routing", "static"), source)
    problems += found
    routes_check, found = _check(data.get("check"), source)
    problems += found
    (netns_naming, container_naming), found = _naming(data.get("naming") or {}, source)
    problems += found
    raw_nodes = data.get("nodes")
    nodes, found = _nodes(raw_nodes, source)
    problems += found
    (links, tainted), found = _links(data.get("links"), nodes, raw_nodes, source)
    problems += found
    problems += _route_problems(nodes, links, tainted, routing, source)
    if problems:
        raise TopologyError(problems)

    node_objs = tuple(Node(n, s.kind, s.forwarding, tuple(s.routes), s.image) for n, s in nodes.items())
    description = str(data.get("description") or "")
    topo = Topology(name, node_objs, tuple(links), routing, netns_naming, container_naming, description, source,
                    routes_check)
    if routing == "auto":
        routes = auto_routes(topo)
        routed = tuple(Node(n.name, n.kind, n.forwarding, tuple(routes[n.name]), n.image) for n in node_objs)
        topo = Topology(name, routed, tuple(links), routing, netns_naming, container_naming, description, source,
                        routes_check)
    return topo


def _lab_name(name: Any, source: str) -> tuple[str, Found]:
    if name is None:
        return "lab", [f"{source}: missing 'name' (the lab's name, like 'name: figure1')"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        return "lab", [f"{source}: name {name!r} is not valid; use 1 to 31 letters, digits or hyphens, "
                       "starting with a letter (like figure1)"]
    return name, []


def _routing(routing: Any, source: str) -> tuple[str, Found]:
    if routing not in ("static", "auto"):
        return "static", [f"{source}: routing {routing!r} is not known; use 'auto' (nslab computes static routes) "
                          "or leave it out and list routes on each node"]
    return routing, []


def _check(check: Any, source: str) -> tuple[str, Found]:
    """How routes are graded: 'outcome' (any that reach every address) or 'exact' (the routes listed)."""
    if check is None:
        return "outcome", []
    if not isinstance(check, dict):
        return "outcome", [f"{source}: check must be a mapping like {{routes: exact}}"]
    problems = _unknown_keys(check, CHECK_KEYS, f"{source}: check")
    wanted = check.get("routes", "outcome")
    if wanted not in ROUTES_CHECKS:
        problems.append(f"{source}: check.routes {wanted!r} is not known; use 'exact' (the routes listed, "
                        "nothing else) or 'outcome' (the default: any routes that reach every address)")
        return "outcome", problems
    return wanted, problems


def _naming(naming: Any, source: str) -> tuple[tuple[str, str], Found]:
    """(netns naming, container naming), each a pattern with ``{node}`` (and perhaps ``{lab}``)."""
    chosen = {"netns": DEFAULT_NETNS_NAMING, "container": DEFAULT_CONTAINER_NAMING}
    if not isinstance(naming, dict):
        problem = f"{source}: naming must be a mapping like {{netns: 'net-{{node}}'}}"
        return (chosen["netns"], chosen["container"]), [problem]
    problems = _unknown_keys(naming, NAMING_KEYS, f"{source}: naming")
    for key in NAMING_KEYS:
        pattern = naming.get(key)
        if pattern is None:
            continue
        if not isinstance(pattern, str) or "{node}" not in pattern:
            problems.append(f"{source}: naming.{key} {pattern!r} must contain '{{node}}', like 'net-{{node}}'")
            continue
        try:
            sample = pattern.format(lab="lab", node="node")
        except (KeyError, IndexError, ValueError):
            problems.append(f"{source}: naming.{key} {pattern!r} may use only {{lab}} and {{node}}")
            continue
        if not NETNS_NAME_RE.match(sample):
            problems.append(f"{source}: naming.{key} {pattern!r} gives names like {sample!r}, "
                            "which may only have letters, digits, '-', '_' and '.'")
            continue
        chosen[key] = pattern
    return (chosen["netns"], chosen["container"]), problems


def _nodes(raw_nodes: Any, source: str) -> tuple[dict[str, _NodeSpec], Found]:
    """The valid nodes by name (an invalid one is left out, its problems listed)."""
    if raw_nodes is None:
        return {}, [f"{source}: missing 'nodes' (a mapping of node name to its settings)"]
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        return {}, [f"{source}: 'nodes' must be a non-empty mapping like 'h1: {{kind: host}}'"]
    if len(raw_nodes) > MAX_NODES:
        return {}, [f"{source}: {len(raw_nodes)} nodes is more than nslab builds (at most {MAX_NODES})"]
    nodes: dict[str, _NodeSpec] = {}
    problems: Found = []
    for node_name, spec in raw_nodes.items():
        node, found = _node(node_name, spec, f"{source}: node '{node_name}'")
        problems += found
        if node is not None:
            nodes[node_name] = node
    return nodes, problems


def _node(node_name: Any, spec: Any, where: str) -> tuple[_NodeSpec | None, Found]:
    if not isinstance(node_name, str) or not NAME_RE.match(node_name):
        return None, [f"{where}: the name is not valid; use 1 to 31 letters, digits or hyphens, "
                      "starting with a letter (like r1)"]
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        return None, [f"{where}: settings must be a mapping like {{kind: router}}"]
    problems = _unknown_keys(spec, NODE_KEYS, where)
    kind = spec.get("kind", HOST)
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use 'host' or 'router'"
        problems.append(f"{where}: kind {kind!r} is not known; {hint}")
        kind = HOST
    forwarding = spec.get("forwarding", kind == ROUTER)
    if not isinstance(forwarding, bool):
        problems.append(f"{where}: forwarding {forwarding!r} must be true or false")
        forwarding = kind == ROUTER
    image = spec.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        problems.append(f"{where}: image {image!r} must be an image name like 'nslab-busybox'")
        image = None
    raw_routes = spec.get("routes") or []
    if not isinstance(raw_routes, list):
        problems.append(f"{where}: routes must be a list like [\"default via 10.0.1.1\"]")
        raw_routes = []
    routes = []
    for text in raw_routes:
        try:
            routes.append(Route.parse(text))
        except ValueError as exc:
            problems.append(f"{where}: route {text!r}: {exc}")
    return _NodeSpec(kind, forwarding, routes, image), problems


def _links(raw_links: Any, nodes: dict[str, _NodeSpec], raw_nodes: Any,
           source: str) -> tuple[tuple[list[Link], set[str]], Found]:
    """The valid links, and the nodes with a broken one (their routes are not judged against it)."""
    if raw_links is None:
        raw_links = []
    if not isinstance(raw_links, list):
        return ([], set()), [f"{source}: 'links' must be a list of {{endpoints: [a:eth0, b:eth0], addresses: [...]}}"]
    if len(raw_links) > MAX_LINKS:
        return ([], set()), [f"{source}: {len(raw_links)} links is more than nslab builds (at most {MAX_LINKS})"]
    links: list[Link] = []
    tainted: set[str] = set()
    seen = _Seen()
    problems: Found = []
    for index, spec in enumerate(raw_links, start=1):
        (link, broken), found = _link(index, spec, nodes, raw_nodes, seen, source)
        problems += found
        tainted |= broken
        if link is not None:
            links.append(link)
    return (links, tainted), problems


def _link(index: int, spec: Any, nodes: dict[str, _NodeSpec], raw_nodes: Any, seen: _Seen,
          source: str) -> tuple[tuple[Link | None, set[str]], Found]:
    """One link (None: too broken to keep) and the nodes it taints."""
    where = f"{source}: link {index}"
    if not isinstance(spec, dict):
        return (None, set()), [f"{where}: must be a mapping like {{endpoints: [\"h1:eth0\", \"r1:eth0\"]}}"]
    problems = _unknown_keys(spec, LINK_KEYS, where)
    raw_ends = spec.get("endpoints")
    if not isinstance(raw_ends, list) or len(raw_ends) != 2:
        problems.append(f"{where}: endpoints must be a list of two 'node:interface' strings, like [\"h1:eth0\", \"r1:eth0\"]")
        return (None, set()), problems
    where = f"{source}: link {index} ({' - '.join(map(str, raw_ends))})"
    ends, found = _endpoints(raw_ends, nodes, raw_nodes, seen, where)
    problems += found
    if len(ends) != 2:
        return (None, {n for n, _ in ends} | {str(raw).split(":")[0] for raw in raw_ends}), problems
    if ends[0][0] == ends[1][0]:
        problems.append(f"{where}: a link joins two different nodes; both ends are on '{ends[0][0]}'")
        return (None, set()), problems
    for end in ends:
        seen.ifnames[end] = f"link {index}"
    addresses: list[IPv4If | None] = [None, None]
    tainted: set[str] = set()
    raw_addresses = spec.get("addresses")
    if raw_addresses is not None:
        found_addresses, found = _addresses(raw_addresses, where)
        problems += found
        if found_addresses is not None:
            found = _unique_addresses(ends, found_addresses, index, seen, where)
            problems += found
        if found_addresses is not None and not found:
            addresses = list(found_addresses)
        elif isinstance(raw_addresses, list) and len(raw_addresses) == 2:
            tainted = {n for n, _ in ends}
    choose = spec.get("choose", False)
    if not isinstance(choose, bool):
        problems.append(f"{where}: choose {choose!r} must be true (the student chooses the addresses; those "
                        "given are one solution) or false")
        choose = False
    link = Link(Endpoint(ends[0][0], ends[0][1], addresses[0]), Endpoint(ends[1][0], ends[1][1], addresses[1]),
                choose)
    return (link, tainted), problems


def _endpoints(raw_ends: list, nodes: dict[str, _NodeSpec], raw_nodes: Any, seen: _Seen,
               where: str) -> tuple[list[tuple[str, str]], Found]:
    """The valid (node, interface) ends of a link, in order."""
    ends: list[tuple[str, str]] = []
    problems: Found = []
    for raw in raw_ends:
        if not isinstance(raw, str) or raw.count(":") != 1:
            problems.append(f"{where}: endpoint {raw!r} must be 'node:interface', like 'h1:eth0'")
            continue
        node_name, ifname = raw.split(":")
        if node_name not in nodes:
            if raw_nodes is not None and isinstance(raw_nodes, dict) and node_name in raw_nodes:
                continue  # the node itself is invalid: reported above
            close = difflib.get_close_matches(node_name, list(nodes), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else f"known nodes: {', '.join(nodes) or 'none'}"
            problems.append(f"{where}: endpoint '{raw}' names unknown node '{node_name}'; {hint}")
            continue
        bad = valid_ifname_problem(ifname)
        if bad:
            problems.append(f"{where}: interface name '{ifname}' {bad}")
            continue
        if (node_name, ifname) in seen.ifnames:
            problems.append(f"{where}: interface {node_name}:{ifname} is already used by "
                            f"{seen.ifnames[(node_name, ifname)]}; give each link its own interface name")
            continue
        ends.append((node_name, ifname))
    return ends, problems


def _addresses(raw_addresses: Any, where: str) -> tuple[tuple[IPv4If, IPv4If] | None, Found]:
    """The two ends' addresses, each a host address with its prefix, both in one subnet (None: not so)."""
    if not isinstance(raw_addresses, list) or len(raw_addresses) != 2:
        return None, [f"{where}: addresses must be a list of two, one per endpoint, "
                      "like [\"10.0.1.2/24\", \"10.0.1.1/24\"]"]
    problems: Found = []
    addresses: list[IPv4If] = []
    for raw in raw_addresses:
        iface, problem = _host_address(raw, where)
        if problem:
            problems.append(problem)
        else:
            addresses.append(iface)  # type: ignore[arg-type]
    if problems:
        return None, problems
    a0, a1 = addresses
    if a0.network != a1.network:
        return None, [f"{where}: the two ends are in different subnets ({a0.network} and {a1.network}); "
                      f"put both in one, like {a0} and {a0.network.network_address + (2 if int(a0.ip) == int(a0.network.network_address) + 1 else 1)}/{a0.network.prefixlen}"]
    if a0.ip == a1.ip:
        return None, [f"{where}: both ends have address {a0.ip}; each end needs its own"]
    return (a0, a1), []


def _host_address(raw: Any, where: str) -> tuple[IPv4If | None, str]:
    """One end's address, or the problem with it."""
    try:
        if "/" not in str(raw):
            raise ValueError("no prefix")
        iface = IPv4If(str(raw))
    except ValueError:
        return None, f"{where}: address {raw!r} is not an IPv4 address with prefix length, like 10.0.1.2/24"
    net = iface.network
    if net.prefixlen < 31 and iface.ip in (net.network_address, net.broadcast_address):
        which = "network" if iface.ip == net.network_address else "broadcast"
        return None, (f"{where}: address {raw} is the {which} address of {net}; "
                      f"use a host address like {net.network_address + 1}/{net.prefixlen}")
    if net.prefixlen == 32:
        return None, (f"{where}: address {raw} has prefix /32, which leaves no room for the "
                      "other end; use a shared subnet like /24 or /30")
    if iface.ip.is_loopback or iface.ip.is_multicast or iface.ip.is_unspecified:
        return None, f"{where}: address {raw} is not a unicast host address; use a private one like 10.0.1.2/24"
    return iface, ""


def _unique_addresses(ends: list[tuple[str, str]], addresses: tuple[IPv4If, IPv4If], index: int, seen: _Seen,
                      where: str) -> Found:
    """Every address, and every link's subnet, is the lab's only one."""
    problems: Found = []
    for (node_name, ifname), iface in zip(ends, addresses):
        if iface.ip in seen.addresses:
            problems.append(f"{where}: address {iface.ip} is already used by {seen.addresses[iface.ip]}; "
                            "every address must be unique in the lab")
        else:
            seen.addresses[iface.ip] = f"{node_name}:{ifname}"
    net = addresses[0].network
    for other_net, other in seen.subnets.items():
        if net.overlaps(other_net):
            problems.append(f"{where}: subnet {net} overlaps {other_net} of {other}; give each link its own subnet")
            break
    seen.subnets[net] = f"link {index}"
    return problems


def _route_problems(nodes: dict[str, _NodeSpec], links: list[Link], tainted: set[str], routing: str,
                    source: str) -> Found:
    """Each node's routes against its links: gateways on a connected subnet, no duplicates."""
    problems: Found = []
    if routing == "auto":
        for node_name, spec in nodes.items():
            if spec.routes:
                problems.append(f"{source}: node '{node_name}' lists routes but the lab says 'routing: auto'; "
                                "remove one of the two")
    for node_name, spec in nodes.items():
        if node_name not in tainted:
            problems += _node_route_problems(node_name, spec.routes, links, f"{source}: node '{node_name}'")
    return problems


def _node_route_problems(node_name: str, routes: list[Route], links: list[Link], where_node: str) -> Found:
    problems: Found = []
    connected = {e.address.network: e for link in links for e in link.endpoints
                 if e.node == node_name and e.address is not None}
    own_ifnames = {e.ifname for link in links for e in link.endpoints if e.node == node_name}
    own_ips = {e.address.ip for e in connected.values()}  # type: ignore[union-attr]
    seen_dst: set[IPv4Net] = set()
    for route in routes:
        where = f"{where_node}: route '{route}'"
        if route.dst in seen_dst:
            problems.append(f"{where}: a route to {route.dst} is already listed; keep one")
            continue
        seen_dst.add(route.dst)
        if route.via in own_ips:
            problems.append(f"{where}: gateway {route.via} is {node_name}'s own address; use a neighbour's address")
            continue
        if route.dev is not None and route.dev not in own_ifnames:
            problems.append(f"{where}: {node_name} has no interface '{route.dev}'; its interfaces: "
                            f"{', '.join(sorted(own_ifnames)) or 'none'}")
            continue
        on = [net for net, e in connected.items() if route.via in net and (route.dev is None or e.ifname == route.dev)]
        if not on:
            subnets = ", ".join(str(n) for n in connected) or "none"
            problems.append(f"{where}: gateway {route.via} is not on any subnet connected to {node_name} "
                            f"(connected: {subnets}); use the address of a neighbour on one of those")
        elif route.dst in connected:
            problems.append(f"{where}: {route.dst} is directly connected to {node_name}; no route is needed")
    return problems


def chain(routers: int) -> Topology:
    """``h1 - r1 - ... - rN - h2`` with ``routing: auto``, for benchmarks and fault tests."""
    names = ["h1"] + [f"r{i}" for i in range(1, routers + 1)] + ["h2"]
    links = []
    for i in range(len(names) - 1):
        left, right = names[i], names[i + 1]
        left_if = "eth0" if left == "h1" else "eth1"
        net = f"10.{100 + (i >> 8)}.{i & 255}"
        links.append({"endpoints": [f"{left}:{left_if}", f"{right}:eth0"],
                      "addresses": [f"{net}.1/24", f"{net}.2/24"]})
    nodes = {n: {"kind": "host" if n.startswith("h") else "router"} for n in names}
    return from_dict({"name": f"chain{routers}", "routing": "auto", "nodes": nodes, "links": links},
                     source=f"chain:{routers} (generated)")


__all__ = ["bundled_names", "chain", "from_dict", "load", "parse", "valid_ifname_problem"]
