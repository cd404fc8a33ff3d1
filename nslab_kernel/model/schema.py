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
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..core.errors import InputError, TopologyError
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
    for key_node, _ in node.value:
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
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(f"no topology file or bundled topology named '{text_spec}'; {hint}"
                         f"bundled: {', '.join(bundled_names())}")
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: {path.stat().st_size} bytes is too large for a topology (at most {MAX_BYTES})")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such topology file; give a path to a .yaml file or a bundled name "
                         f"({', '.join(bundled_names())})") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a topology file") from None
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


def from_dict(data: Any, source: str = "<topology>") -> Topology:
    """Validate a parsed mapping and build the :class:`Topology`."""
    if not isinstance(data, dict):
        raise TopologyError([f"{source}: a topology is a mapping with keys 'name', 'nodes' and 'links'; "
                             f"found {type(data).__name__ if data is not None else 'an empty document'}"])
    problems = _unknown_keys(data, TOP_KEYS, source)

    name = data.get("name")
    if name is None:
        problems.append(f"{source}: missing 'name' (the lab's name, like 'name: figure1')")
        name = "lab"
    elif not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"{source}: name {name!r} is not valid; use 1 to 31 letters, digits or hyphens, "
                        "starting with a letter (like figure1)")
        name = "lab"

    routing = data.get("routing", "static")
    if routing not in ("static", "auto"):
        problems.append(f"{source}: routing {routing!r} is not known; use 'auto' (nslab computes static routes) "
                        "or leave it out and list routes on each node")
        routing = "static"

    routes_check = "outcome"
    check = data.get("check")
    if check is not None:
        if not isinstance(check, dict):
            problems.append(f"{source}: check must be a mapping like {{routes: exact}}")
        else:
            problems += _unknown_keys(check, CHECK_KEYS, f"{source}: check")
            wanted = check.get("routes", "outcome")
            if wanted not in ROUTES_CHECKS:
                problems.append(f"{source}: check.routes {wanted!r} is not known; use 'exact' (the routes listed, "
                                "nothing else) or 'outcome' (the default: any routes that reach every address)")
            else:
                routes_check = wanted

    naming = data.get("naming") or {}
    netns_naming, container_naming = DEFAULT_NETNS_NAMING, DEFAULT_CONTAINER_NAMING
    if not isinstance(naming, dict):
        problems.append(f"{source}: naming must be a mapping like {{netns: 'net-{{node}}'}}")
    else:
        problems += _unknown_keys(naming, NAMING_KEYS, f"{source}: naming")
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
            if key == "netns":
                netns_naming = pattern
            else:
                container_naming = pattern

    # --- nodes ---------------------------------------------------------------------------
    raw_nodes = data.get("nodes")
    nodes: dict[str, dict[str, Any]] = {}
    if raw_nodes is None:
        problems.append(f"{source}: missing 'nodes' (a mapping of node name to its settings)")
    elif not isinstance(raw_nodes, dict) or not raw_nodes:
        problems.append(f"{source}: 'nodes' must be a non-empty mapping like 'h1: {{kind: host}}'")
    elif len(raw_nodes) > MAX_NODES:
        problems.append(f"{source}: {len(raw_nodes)} nodes is more than nslab builds (at most {MAX_NODES})")
    else:
        for node_name, spec in raw_nodes.items():
            where = f"{source}: node '{node_name}'"
            if not isinstance(node_name, str) or not NAME_RE.match(node_name):
                problems.append(f"{where}: the name is not valid; use 1 to 31 letters, digits or hyphens, "
                                "starting with a letter (like r1)")
                continue
            spec = {} if spec is None else spec
            if not isinstance(spec, dict):
                problems.append(f"{where}: settings must be a mapping like {{kind: router}}")
                continue
            problems += _unknown_keys(spec, NODE_KEYS, where)
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
            nodes[node_name] = {"kind": kind, "forwarding": forwarding, "routes": routes, "image": image}

    # --- links -------------------------------------------------------------------------------
    raw_links = data.get("links")
    links: list[Link] = []
    if raw_links is None:
        raw_links = []
    if not isinstance(raw_links, list):
        problems.append(f"{source}: 'links' must be a list of {{endpoints: [a:eth0, b:eth0], addresses: [...]}}")
        raw_links = []
    elif len(raw_links) > MAX_LINKS:
        problems.append(f"{source}: {len(raw_links)} links is more than nslab builds (at most {MAX_LINKS})")
        raw_links = []
    used_ifnames: dict[tuple[str, str], str] = {}
    tainted: set[str] = set()  # nodes with a broken link: their routes are not judged against it
    seen_addresses: dict[IPv4Addr, str] = {}
    seen_subnets: dict[IPv4Net, str] = {}
    for index, spec in enumerate(raw_links, start=1):
        where = f"{source}: link {index}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be a mapping like {{endpoints: [\"h1:eth0\", \"r1:eth0\"]}}")
            continue
        problems += _unknown_keys(spec, LINK_KEYS, where)
        raw_ends = spec.get("endpoints")
        if not isinstance(raw_ends, list) or len(raw_ends) != 2:
            problems.append(f"{where}: endpoints must be a list of two 'node:interface' strings, like [\"h1:eth0\", \"r1:eth0\"]")
            continue
        where = f"{source}: link {index} ({' - '.join(map(str, raw_ends))})"
        ends: list[tuple[str, str]] = []
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
            if (node_name, ifname) in used_ifnames:
                problems.append(f"{where}: interface {node_name}:{ifname} is already used by "
                                f"{used_ifnames[(node_name, ifname)]}; give each link its own interface name")
                continue
            ends.append((node_name, ifname))
        if len(ends) != 2:
            tainted.update(n for n, _ in ends)
            tainted.update(str(raw).split(":")[0] for raw in raw_ends)
            continue
        if ends[0][0] == ends[1][0]:
            problems.append(f"{where}: a link joins two different nodes; both ends are on '{ends[0][0]}'")
            continue
        for end in ends:
            used_ifnames[end] = f"link {index}"
        addresses: list[IPv4If | None] = [None, None]
        raw_addresses = spec.get("addresses")
        if raw_addresses is not None:
            if not isinstance(raw_addresses, list) or len(raw_addresses) != 2:
                problems.append(f"{where}: addresses must be a list of two, one per endpoint, like [\"10.0.1.2/24\", \"10.0.1.1/24\"]")
            else:
                ok = True
                for i, raw in enumerate(raw_addresses):
                    try:
                        if "/" not in str(raw):
                            raise ValueError("no prefix")
                        iface = IPv4If(str(raw))
                    except ValueError:
                        problems.append(f"{where}: address {raw!r} is not an IPv4 address with prefix length, like 10.0.1.2/24")
                        ok = False
                        continue
                    net = iface.network
                    if net.prefixlen < 31 and iface.ip in (net.network_address, net.broadcast_address):
                        which = "network" if iface.ip == net.network_address else "broadcast"
                        problems.append(f"{where}: address {raw} is the {which} address of {net}; "
                                        f"use a host address like {net.network_address + 1}/{net.prefixlen}")
                        ok = False
                        continue
                    if net.prefixlen == 32:
                        problems.append(f"{where}: address {raw} has prefix /32, which leaves no room for the "
                                        "other end; use a shared subnet like /24 or /30")
                        ok = False
                        continue
                    if iface.ip.is_loopback or iface.ip.is_multicast or iface.ip.is_unspecified:
                        problems.append(f"{where}: address {raw} is not a unicast host address; use a private one like 10.0.1.2/24")
                        ok = False
                        continue
                    addresses[i] = iface
                if ok and addresses[0] is not None and addresses[1] is not None:
                    a0, a1 = addresses
                    if a0.network != a1.network:
                        problems.append(f"{where}: the two ends are in different subnets ({a0.network} and {a1.network}); "
                                        f"put both in one, like {a0} and {a0.network.network_address + (2 if int(a0.ip) == int(a0.network.network_address) + 1 else 1)}/{a0.network.prefixlen}")
                        ok = False
                    elif a0.ip == a1.ip:
                        problems.append(f"{where}: both ends have address {a0.ip}; each end needs its own")
                        ok = False
                if ok:
                    for (node_name, ifname), iface in zip(ends, addresses):
                        assert iface is not None
                        if iface.ip in seen_addresses:
                            problems.append(f"{where}: address {iface.ip} is already used by {seen_addresses[iface.ip]}; "
                                            "every address must be unique in the lab")
                            ok = False
                        else:
                            seen_addresses[iface.ip] = f"{node_name}:{ifname}"
                    net = addresses[0].network  # type: ignore[union-attr]
                    for other_net, other in seen_subnets.items():
                        if net.overlaps(other_net):
                            problems.append(f"{where}: subnet {net} overlaps {other_net} of {other}; give each link its own subnet")
                            ok = False
                            break
                    seen_subnets[net] = f"link {index}"
                if not ok:
                    addresses = [None, None]
                    tainted.update(n for n, _ in ends)
        choose = spec.get("choose", False)
        if not isinstance(choose, bool):
            problems.append(f"{where}: choose {choose!r} must be true (the student chooses the addresses; those "
                            "given are one solution) or false")
            choose = False
        links.append(Link(Endpoint(ends[0][0], ends[0][1], addresses[0]),
                          Endpoint(ends[1][0], ends[1][1], addresses[1]), choose))

    # --- routes against the links ---------------------------------------------------------------
    if routing == "auto":
        for node_name, spec in nodes.items():
            if spec["routes"]:
                problems.append(f"{source}: node '{node_name}' lists routes but the lab says 'routing: auto'; "
                                "remove one of the two")
    for node_name, spec in nodes.items():
        if node_name in tainted:
            continue
        connected = {e.address.network: e for link in links for e in link.endpoints
                     if e.node == node_name and e.address is not None}
        own_ifnames = {e.ifname for link in links for e in link.endpoints if e.node == node_name}
        own_ips = {e.address.ip for e in connected.values()}
        seen_dst: set[IPv4Net] = set()
        for route in spec["routes"]:
            where = f"{source}: node '{node_name}': route '{route}'"
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

    if problems:
        raise TopologyError(problems)

    node_objs = tuple(Node(n, s["kind"], s["forwarding"], tuple(s["routes"]), s["image"]) for n, s in nodes.items())
    topo = Topology(name, node_objs, tuple(links), routing, netns_naming, container_naming,
                    str(data.get("description") or ""), source, routes_check)
    if routing == "auto":
        routes = auto_routes(topo)
        topo = Topology(name, tuple(Node(n.name, n.kind, n.forwarding, tuple(routes[n.name]), n.image) for n in node_objs),
                        tuple(links), routing, netns_naming, container_naming, topo.description, source, routes_check)
    return topo


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
