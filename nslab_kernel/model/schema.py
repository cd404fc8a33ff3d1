"""The topology file: load it, validate all of it, build the :class:`Topology`.

A topology is loaded from YAML (containerlab-style endpoint pairs), validated
completely before anything touches the kernel, and turned into the frozen
dataclasses of :mod:`nslab_kernel.model.topology`; ``routing: auto`` gets its
routes from :mod:`nslab_kernel.model.routing`.  Every problem is listed, each
one line naming the bad value and the fix.

Validation has two stages.  The file's structure (keys, types, kinds, names,
endpoint, address and route strings) is ``topology.schema.json``, a JSON Schema
(draft 2020-12) that editors use too (``nslab schema``); the ``jsonschema``
library checks it and :func:`structure_problems` words each error.  Then
:func:`from_dict` checks, on whatever is structurally sound, what a schema
cannot say: endpoints naming known nodes, each interface, address and subnet
used once, both ends in one subnet, routes via a neighbour.
"""

from __future__ import annotations

import difflib
import json
import re
import reprlib
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..core.errors import InputError, TopologyError
from ..core.i18n import _
from .routing import auto_routes
from .topology import (DEFAULT_CONTAINER_NAMING, DEFAULT_NETNS_NAMING, HOST, KINDS, NAME_RE, ROUTER, Endpoint,
                       IPv4Addr, IPv4If, IPv4Net, Link, Node, Route, Topology)

NAMING_KEYS = ("netns", "container")

IFNAMSIZ = 16  # the kernel's limit, including the terminating NUL
IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
NETNS_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

MAX_BYTES = 1 << 20  # a topology is a few KB; refuse what could only be a mistake or an attack


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
            return parse(bundled.read_text(encoding="utf-8"), source=f"{text_spec} (bundled)", trusted=True)
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


def parse(text: str, source: str = "<topology>", trusted: bool = False) -> Topology:
    """Parse and validate YAML text.  Raises :class:`TopologyError` listing every problem.  ``trusted``:
    one of nslab's own files, whose structure the test suite checks against the schema (skipped here)."""
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
    return from_dict(data, source, trusted=trusted)


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


SCHEMA_FILE = "topology.schema.json"


def json_schema() -> dict:
    """The topology file's JSON Schema (draft 2020-12): the one source of the file's structure.

    Editors use it to complete and check lab files (``nslab schema`` prints it); :func:`from_dict`
    validates with it before the checks a schema cannot express."""
    return json.loads(json_schema_text())


@lru_cache(maxsize=1)
def json_schema_text() -> str:
    """The schema file's text, as shipped (what ``nslab schema`` prints)."""
    return (resources.files(__package__) / SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _validator() -> Any:
    # Imported on first use.  Where Jupyter installed jsonschema[format-nongpl], importing jsonschema also
    # imports rfc3987_syntax, which builds its grammars at import: ~1.8 s on this machine kind, for the "iri"
    # format checker that this schema never uses (python-jsonschema/jsonschema#1428).  Unless something in
    # this process imported either already, jsonschema is imported with rfc3987_syntax hidden (0.1 s), and
    # the hiding is undone at once: a later `import rfc3987_syntax` works as usual.
    hide = "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules
    if hide:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # an ImportError for jsonschema
    try:
        import jsonschema
    finally:
        if hide:
            sys.modules.pop("rfc3987_syntax", None)
    return jsonschema.Draft202012Validator(json_schema())


def _name(value: Any, quote: str = "'") -> str:
    """A name as a message shows it: 'h1', but an odd one (a number, a control character) as its repr."""
    if isinstance(value, str) and value.isprintable() and len(value) <= 60:
        return f"{quote}{value}{quote}" if quote else value
    return _shown(value)


def _shown(value: Any) -> str:
    """A value as the message quotes it: its repr, cut short."""
    return _SHORT_REPR.repr(value)


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 60
_SHORT_REPR.maxlevel = 3


@dataclass(frozen=True)
class _Problem:
    """One structural problem: where in the file (for the order and for what the semantic checks skip)."""

    path: tuple
    keyword: str
    message: str


def _position(data: Any, path: Iterable) -> tuple[int, ...]:
    """Where ``path`` is in the document (keys in the order written): problems are listed top to bottom."""
    where: list[int] = []
    node = data
    for step in path:
        if isinstance(node, dict):
            keys = list(node)
            where.append(keys.index(step) if step in keys else len(keys))
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            where.append(step)
            node = node[step]
        else:
            break
    return tuple(where)


def _where_link(data: dict, index: int, source: str) -> str:
    """``link 2`` or, when its endpoints are readable, ``link 2 (h1:eth0 - r1:eth0)``."""
    spec = data["links"][index]
    ends = spec.get("endpoints") if isinstance(spec, dict) else None
    if isinstance(ends, list) and len(ends) == 2:
        return f"{source}: link {index + 1} ({' - '.join(_name(e, quote='') for e in ends)})"
    return f"{source}: link {index + 1}"


def _unknown_key(key: Any, allowed: list[str], where: str) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
    return f"{where}: unknown key {_name(key)}; {hint}"


def structure_problems(data: Any, source: str = "<topology>") -> list[_Problem]:
    """What the JSON Schema finds wrong with a parsed file, each problem one line naming the value and the fix,
    in the order of the file."""
    try:
        errors = list(_validator().iter_errors(data))
    except RecursionError:
        return [_Problem((), "depth", f"{source}: a value is nested too deeply for a topology")]
    problems: list[tuple[tuple, _Problem]] = []
    for error in errors:
        for path, message in _messages(error, data, source):
            problems.append((_position(data, path), _Problem(path, error.validator, message)))
    problems.sort(key=lambda p: p[0])
    seen, unique = set(), []
    for _pos, problem in problems:
        if problem.message not in seen:
            seen.add(problem.message)
            unique.append(problem)
    return unique


def _messages(error: Any, data: Any, source: str) -> list[tuple[tuple, str]]:
    """The (path, message) pairs of one jsonschema error."""
    path = tuple(error.absolute_path)
    keyword, value = error.validator, error.instance
    if not path and keyword == "type":
        found = type(data).__name__ if data is not None else "an empty document"
        return [(path, f"{source}: a topology is a mapping with keys 'name', 'nodes' and 'links'; found {found}")]
    where = source
    if path[:1] == ("nodes",) and len(path) >= 2:
        where = f"{source}: node {_name(path[1])}"
    elif path[:1] == ("links",) and len(path) >= 2:
        where = _where_link(data, path[1], source)
    if keyword == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        return [(path + (key,), _unknown_key(key, allowed, f"{where}: {path[0]}" if path in (("naming",), ("check",))
                                               else where))
                for key in value if key not in allowed]
    if keyword == "required":
        missing = [key for key in error.validator_value if key not in value]
        return [(path + (key,), _missing(key, where)) for key in missing]
    if path == ("nodes",) and "propertyNames" in error.schema_path:
        return [(path + (value,), f"{source}: node {_name(value)}: the name is not valid; use 1 to 31 letters, digits or "
                                  "hyphens, starting with a letter (like r1)")]
    place = tuple("*" if i in (1, 3) and path[0] in ("nodes", "links") else step for i, step in enumerate(path))
    return [(path, _field_message(place, keyword, value, where, error.validator_value))]


def _missing(key: str, where: str) -> str:
    if key == "name":
        return f"{where}: missing 'name' (the lab's name, like 'name: figure1')"
    if key == "nodes":
        return f"{where}: missing 'nodes' (a mapping of node name to its settings)"
    if key == "endpoints":
        return (f"{where}: endpoints must be a list of two 'node:interface' strings, "
                "like [\"h1:eth0\", \"r1:eth0\"]")
    return f"{where}: missing '{key}'"


def _field_message(place: tuple, keyword: str, value: Any, where: str, limit: Any) -> str:
    """The message of one bad value, by its place in the file (``*``: any node or link)."""
    shown = _shown(value)
    if place == ("name",):
        return (f"{where}: name {shown} is not valid; use 1 to 31 letters, digits or hyphens, starting with a letter "
                "(like figure1)")
    if place == ("description",) or place == ("nodes", "*", "description"):
        return f"{where}: description {shown} must be text"
    if place == ("routing",):
        return (f"{where}: routing {shown} is not known; use 'auto' (nslab computes static routes) or leave it out "
                "and list routes on each node")
    if place == ("check",):
        return f"{where}: check must be a mapping like {{routes: exact}}"
    if place == ("check", "routes"):
        return (f"{where}: check.routes {shown} is not known; use 'exact' (the routes listed, nothing else) or "
                "'outcome' (the default: any routes that reach every address)")
    if place == ("naming",):
        return f"{where}: naming must be a mapping like {{netns: 'net-{{node}}'}}"
    if place[:1] == ("naming",) and len(place) == 2:
        return f"{where}: naming.{place[1]} {shown} {_naming_problem(value)}"
    if place == ("nodes",):
        if keyword == "maxProperties":
            return f"{where}: {len(value)} nodes is more than nslab builds (at most {limit})"
        return f"{where}: 'nodes' must be a non-empty mapping like 'h1: {{kind: host}}'"
    if place == ("nodes", "*"):
        return f"{where}: settings must be a mapping like {{kind: router}}"
    if place == ("nodes", "*", "kind"):
        close = difflib.get_close_matches(str(value), KINDS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use 'host' or 'router'"
        return f"{where}: kind {shown} is not known; {hint}"
    if place == ("nodes", "*", "forwarding"):
        return f"{where}: forwarding {shown} must be true or false"
    if place == ("nodes", "*", "image"):
        return f"{where}: image {shown} must be an image name like 'nslab-busybox'"
    if place == ("nodes", "*", "routes"):
        return f"{where}: routes must be a list like [\"default via 10.0.1.1\"]"
    if place == ("nodes", "*", "routes", "*"):
        return f"{where}: route {shown}: {_route_problem(value)}"
    if place == ("links",):
        if keyword == "maxItems":
            return f"{where}: {len(value)} links is more than nslab builds (at most {limit})"
        return f"{where}: 'links' must be a list of {{endpoints: [a:eth0, b:eth0], addresses: [...]}}"
    if place == ("links", "*"):
        return f"{where}: must be a mapping like {{endpoints: [\"h1:eth0\", \"r1:eth0\"]}}"
    if place == ("links", "*", "endpoints"):
        return f"{where}: endpoints must be a list of two 'node:interface' strings, like [\"h1:eth0\", \"r1:eth0\"]"
    if place == ("links", "*", "endpoints", "*"):
        return f"{where}: {_endpoint_problem(value)}"
    if place == ("links", "*", "addresses"):
        return f"{where}: addresses must be a list of two, one per endpoint, like [\"10.0.1.2/24\", \"10.0.1.1/24\"]"
    if place == ("links", "*", "addresses", "*"):
        return f"{where}: address {shown} is not an IPv4 address with prefix length, like 10.0.1.2/24"
    if place == ("links", "*", "choose"):
        return (f"{where}: choose {shown} must be true (the student chooses the addresses; those given are one "
                "solution) or false")
    return f"{where}: {'.'.join(map(str, place))} {shown} is not valid ({keyword}); see 'nslab schema'"


def _naming_problem(pattern: Any) -> str:
    if not isinstance(pattern, str) or "{node}" not in pattern:
        return "must contain '{node}', like 'net-{node}'"
    if re.search(r"\{(?!(?:lab|node)\})", pattern) or re.search(r"(?<!\{lab)(?<!\{node)\}", pattern):
        return "may use only {lab} and {node}"
    return "may only have letters, digits, '-', '_' and '.' besides {lab} and {node}, and start with a letter or digit"


def _route_problem(text: Any) -> str:
    """What is wrong with a route the schema refuses, in the words of the model's own parser where it can say."""
    expected = ("expected 'PREFIX via GATEWAY' or 'default via GATEWAY', optionally followed by 'dev IFNAME' "
                "(1 to 15 letters, digits, '-', '_' or '.')")
    if not isinstance(text, str):
        return expected
    try:
        Route.parse(text)
    except ValueError as exc:
        return str(exc)
    return expected


def _endpoint_problem(raw: Any) -> str:
    if not isinstance(raw, str) or raw.count(":") != 1:
        return f"endpoint {_shown(raw)} must be 'node:interface', like 'h1:eth0'"
    node_name, ifname = raw.split(":")
    if not NAME_RE.match(node_name) or node_name.endswith("\n"):
        return (f"endpoint {_shown(raw)}: node name {_shown(node_name)} is not valid; use 1 to 31 letters, digits "
                "or hyphens, starting with a letter (like r1)")
    return f"interface name {_shown(ifname)} {valid_ifname_problem(ifname) or 'is not valid'}"


@dataclass
class _Bad:
    """The places the schema refused (paths into the file): the semantic checks skip what is broken there."""

    paths: set[tuple] = field(default_factory=set)

    def ok(self, *path: Any) -> bool:
        """Nothing refused at ``path`` nor under it."""
        return not any(p[:len(path)] == path for p in self.paths)

    def at(self, *path: Any) -> bool:
        """``path`` itself was refused (its type, or a node's name), not only something under it."""
        return path in self.paths


def from_dict(data: Any, source: str = "<topology>", trusted: bool = False) -> Topology:
    """Validate a parsed mapping and build the :class:`Topology`; every problem is listed at once.

    First the JSON Schema (:func:`json_schema`) checks the structure; then the checks a schema cannot
    express run on whatever is structurally sound: unique interfaces, addresses and subnets, endpoints
    naming known nodes, routes via a neighbour.  ``trusted`` (nslab's own files and ``chain:N``, which
    tests/unit/test_topology_schema.py checks against the schema, and a lab record's topology whose
    fingerprint shows it is what nslab validated and wrote) skips the structural pass: every ``nslab``
    command is then 0.1 s quicker (the first validation in a process imports jsonschema).  Should the
    semantic pass trip on something the skipped pass would have named, the full validation names it.
    """
    if trusted:
        try:
            return from_dict(data, source, trusted=False) if not isinstance(data, dict) else \
                _build(data, source, [])
        except TopologyError:
            raise
        except Exception:  # noqa: BLE001 - not the shape nslab wrote (a damaged record): say what is wrong
            return from_dict(data, source, trusted=False)
    return _build(data, source, structure_problems(data, source))


def _build(data: Any, source: str, structural: list) -> Topology:
    """from_dict's work, given the structural problems found (none when trusted)."""
    if not isinstance(data, dict) or any(p.keyword == "depth" for p in structural):
        raise TopologyError([p.message for p in structural])
    bad = _Bad({p.path for p in structural})
    problems = [p.message for p in structural]
    name = data["name"] if bad.ok("name") else "lab"
    routing = data.get("routing", "static") if bad.ok("routing") else "static"
    check = data.get("check")
    routes_check = check.get("routes", "outcome") if isinstance(check, dict) and bad.ok("check", "routes") else "outcome"
    (netns_naming, container_naming), found = _naming(data.get("naming"), bad, source)
    problems += found
    raw_nodes = data.get("nodes")
    nodes, found = _nodes(raw_nodes, bad, source)
    problems += found
    (links, tainted), found = _links(data.get("links"), nodes, raw_nodes, bad, source)
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


def _naming(naming: Any, bad: _Bad, source: str) -> tuple[tuple[str, str], Found]:
    """(netns naming, container naming), each a pattern with ``{node}`` (and perhaps ``{lab}``)."""
    chosen = {"netns": DEFAULT_NETNS_NAMING, "container": DEFAULT_CONTAINER_NAMING}
    problems: Found = []
    for key in NAMING_KEYS:
        pattern = naming.get(key) if isinstance(naming, dict) and bad.ok("naming", key) else None
        if pattern is None:
            continue
        sample = pattern.format(lab="lab", node="node")  # the schema allows only {lab} and {node}
        if not NETNS_NAME_RE.match(sample):
            problems.append(f"{source}: naming.{key} {pattern!r} gives names like {sample!r}, "
                            "longer than the 63 characters a name may have")
            continue
        chosen[key] = pattern
    return (chosen["netns"], chosen["container"]), problems


def _nodes(raw_nodes: Any, bad: _Bad, source: str) -> tuple[dict[str, _NodeSpec], Found]:
    """The structurally sound nodes by name, and what their routes' prefixes say (host bits set)."""
    if not isinstance(raw_nodes, dict) or bad.at("nodes"):
        return {}, []
    nodes: dict[str, _NodeSpec] = {}
    problems: Found = []
    for node_name, spec in raw_nodes.items():
        if bad.at("nodes", node_name):  # an invalid name, or settings that are not a mapping
            continue
        spec = spec or {}
        ok = lambda *path: bad.ok("nodes", node_name, *path)  # noqa: E731
        kind = spec.get("kind", HOST) if ok("kind") else HOST
        forwarding = spec.get("forwarding", kind == ROUTER) if ok("forwarding") else kind == ROUTER
        image = spec.get("image") if ok("image") else None
        raw_routes = (spec.get("routes") or []) if not bad.at("nodes", node_name, "routes") else []
        routes = []
        for index, text in enumerate(raw_routes):
            if not ok("routes", index):
                continue
            try:
                routes.append(Route.parse(text))
            except ValueError as exc:  # the words are right, the prefix is not (host bits set)
                problems.append(f"{source}: node '{node_name}': route {text!r}: {exc}")
        nodes[node_name] = _NodeSpec(kind, forwarding, routes, image)
    return nodes, problems


def _links(raw_links: Any, nodes: dict[str, _NodeSpec], raw_nodes: Any, bad: _Bad,
           source: str) -> tuple[tuple[list[Link], set[str]], Found]:
    """The valid links, and the nodes with a broken one (their routes are not judged against it)."""
    if raw_links is None:
        return ([], set()), []
    if not isinstance(raw_links, list) or bad.at("links"):
        return ([], set(nodes)), []  # no links to judge the routes against
    links: list[Link] = []
    tainted: set[str] = set()
    seen = _Seen()
    problems: Found = []
    # node names whose problems were reported already: an endpoint naming one is not "unknown"
    reported = set(raw_nodes) if isinstance(raw_nodes, dict) and not bad.at("nodes") else None
    for index, spec in enumerate(raw_links, start=1):
        (link, broken), found = _link(index, spec, nodes, reported, bad, seen, source)
        problems += found
        tainted |= broken
        if link is not None:
            links.append(link)
    return (links, tainted), problems


def _link(index: int, spec: Any, nodes: dict[str, _NodeSpec], reported: set | None, bad: _Bad, seen: _Seen,
          source: str) -> tuple[tuple[Link | None, set[str]], Found]:
    """One link (None: too broken to keep) and the nodes it taints."""
    if bad.at("links", index - 1):
        return (None, set()), []
    raw_ends = spec.get("endpoints")
    if not bad.ok("links", index - 1, "endpoints"):
        named = {str(raw).split(":")[0] for raw in raw_ends} if isinstance(raw_ends, list) else set()
        return (None, named), []
    where = f"{source}: link {index} ({' - '.join(raw_ends)})"
    ends, found = _endpoints(raw_ends, nodes, reported, seen, where)
    if len(ends) != 2:
        return (None, {n for n, _ in ends} | {raw.split(":")[0] for raw in raw_ends}), found
    if ends[0][0] == ends[1][0]:
        return (None, set()), found + [f"{where}: a link joins two different nodes; both ends are on '{ends[0][0]}'"]
    problems = found
    for end in ends:
        seen.ifnames[end] = f"link {index}"
    addresses: list[IPv4If | None] = [None, None]
    tainted: set[str] = set()
    raw_addresses = spec.get("addresses")
    if raw_addresses is not None and bad.ok("links", index - 1, "addresses"):
        found_addresses, found = _addresses(raw_addresses, where)
        problems += found
        if found_addresses is not None:
            found = _unique_addresses(ends, found_addresses, index, seen, where)
            problems += found
        if found_addresses is not None and not found:
            addresses = list(found_addresses)
        else:
            tainted = {n for n, _ in ends}
    elif raw_addresses is not None:
        tainted = {n for n, _ in ends}
    choose = spec.get("choose", False) if bad.ok("links", index - 1, "choose") else False
    link = Link(Endpoint(ends[0][0], ends[0][1], addresses[0]), Endpoint(ends[1][0], ends[1][1], addresses[1]),
                choose)
    return (link, tainted), problems


def _endpoints(raw_ends: list[str], nodes: dict[str, _NodeSpec], reported: set | None, seen: _Seen,
               where: str) -> tuple[list[tuple[str, str]], Found]:
    """The (node, interface) ends of a link, in order, that name a known node and a free interface."""
    ends: list[tuple[str, str]] = []
    problems: Found = []
    for raw in raw_ends:
        node_name, ifname = raw.split(":")  # the schema's pattern: one ':'
        if node_name not in nodes:
            if reported is None or node_name in reported:
                continue  # the node itself is invalid (or 'nodes' is): reported already
            close = difflib.get_close_matches(node_name, list(nodes), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else f"known nodes: {', '.join(nodes) or 'none'}"
            problems.append(f"{where}: endpoint '{raw}' names unknown node '{node_name}'; {hint}")
            continue
        if (node_name, ifname) in seen.ifnames:
            problems.append(f"{where}: interface {node_name}:{ifname} is already used by "
                            f"{seen.ifnames[(node_name, ifname)]}; give each link its own interface name")
            continue
        ends.append((node_name, ifname))
    return ends, problems


def _addresses(raw_addresses: list[str], where: str) -> tuple[tuple[IPv4If, IPv4If] | None, Found]:
    """The two ends' addresses, each a host address with its prefix, both in one subnet (None: not so)."""
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


def _host_address(raw: str, where: str) -> tuple[IPv4If | None, str]:
    """One end's address (the schema's pattern: an IPv4 address with its prefix length), or the problem with it."""
    iface = IPv4If(raw)
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
    return from_dict({"name": f"chain{routers}", "routing": "auto", "nodes": nodes, "links": links}, trusted=True,
                     source=f"chain:{routers} (generated)")


__all__ = ["bundled_names", "chain", "from_dict", "json_schema", "json_schema_text", "load", "parse",
           "structure_problems", "valid_ifname_problem"]
