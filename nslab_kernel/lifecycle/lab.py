"""The lab lifecycle: bring a topology up on a backend, probe it, take it down.

``up`` converges: it reads what exists, changes only what differs from the
topology, and reports each step (changed or already so) with its equivalent
command.  Every resource is written into the lab's ownership record before it is
created, so ``down`` (or ``cleanup`` after a crash) removes exactly nslab's own.

Typical use::

    with Lab.load("figure1") as lab:      # backend "netns" by default
        lab.up()
        print(lab.ping_matrix())
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any, Callable, Iterable, Sequence

from ..analysis.checker import SECTIONS, CheckReport, check
from ..analysis.explain import Explanation, explain
from ..backends import Backend, ExecResult, get_backend
from ..backends.base import NodeWork
from ..backends.lxd import LxdBackend, socket_path
from ..core import records
from ..core.i18n import N_, _
from ..core.errors import BackendError, InputError, LabNotFound, RecordError
from ..core.results import PingMatrix
from ..core.state import LabState, NodeHandle, NodeStatus
from ..core.steps import Report
from ..kernel.monitor import NetlinkMonitor
from ..model import schema
from ..model.routing import Forwarder, ping_targets
from ..model.topology import Endpoint, Link, Topology
from . import terminals

STAGES = ("nodes", "links", "addresses", "forwarding", "routes")


class Lab:
    """A topology bound to a backend under a lab name."""

    def __init__(self, topology: Topology, backend: str | Backend = "netns", **backend_options: Any):
        self.topology = topology
        self.backend = get_backend(backend, **backend_options)
        self._expected: tuple[Topology, dict[tuple[str, str], bool]] | None = None
        self._observers: list[Callable[[], None]] = []
        self._watchers: list[Callable[[LabState | None, dict[str, set[str]]], None]] = []
        self._monitor: Any = None
        self._built: set[str] | None = None  # stages built through this Lab (None: the whole lab, or unknown)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after each change this Lab makes (the widgets redraw)."""
        self._observers.append(callback)

    def _changed(self) -> None:
        for callback in list(self._observers):
            try:
                callback()
            except Exception:  # noqa: BLE001 - a display must never break a lab step
                pass

    # --- following the kernel ----------------------------------------------------------------
    def watch(self, callback: Callable[[LabState | None, dict[str, set[str]]], None]) -> Callable[[], None]:
        """Call ``callback(state, changes)`` soon after the kernel state of any node changes, whoever
        changes it (a step of this Lab, another process, a student's ``ip`` command), from netlink
        events: one monitor per lab, however many callbacks.  ``changes`` maps node -> kinds
        (link, address, route, forwarding, netns).  When the lab goes down the callbacks get
        ``(None, {})`` and the monitor stops.  Returns the function that ends this subscription
        (the monitor stops with the last one).  On the simulated backend nothing is watched."""
        self._watchers.append(callback)
        if self._monitor is None and not self.backend.simulated:
            self._monitor = NetlinkMonitor(lambda: self._handles(self.topology.node_names),
                                           self._kernel_changed).start()

        def unwatch() -> None:
            if callback in self._watchers:
                self._watchers.remove(callback)
            if not self._watchers:
                self._stop_watching(notify=False)
        return unwatch

    def _kernel_changed(self, changes: dict[str, set[str]]) -> None:
        try:
            state = self.state()
        except Exception:  # noqa: BLE001 - the lab is being taken down meanwhile
            return
        for callback in list(self._watchers):
            try:
                callback(state, changes)
            except Exception:  # noqa: BLE001 - a display must never stop the others
                pass

    def _stop_watching(self, notify: bool) -> None:
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.stop()
        if notify:
            for callback in list(self._watchers):
                try:
                    callback(None, {})
                except Exception:  # noqa: BLE001
                    pass
            self._watchers.clear()

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def load(cls, spec: str | Topology, backend: str | Backend = "netns", lab: str | None = None,
             **backend_options: Any) -> "Lab":
        """A lab from a topology file, a bundled name (``figure1``) or ``chain:N``."""
        topology = spec if isinstance(spec, Topology) else schema.load(spec)
        if lab:
            topology = topology.renamed(lab)
        return cls(topology, backend, **backend_options)

    @classmethod
    def open(cls, lab: str | None = None) -> "Lab":
        """The lab that is up under this name (or the only one that is up), from its record."""
        name = lab or only_lab()
        record = records.read(name)
        topology = schema.from_dict(record.topology, source=f"record of lab '{name}'",
                                    trusted=record.topology_as_written)  # as written: no structural pass
        return cls(topology, record.header.get("backend", "netns"), **record.header.get("backend_options", {}))

    @property
    def name(self) -> str:
        return self.topology.name

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def __repr__(self) -> str:
        return f"Lab({self.name!r}, backend={self.backend.name!r}, nodes={len(self.topology.nodes)})"

    # --- records ---------------------------------------------------------------------------
    def _record(self, create: bool) -> records.Record | None:
        try:
            record = records.read(self.name)
        except LabNotFound:
            if not create:
                return None
            return records.create(self.name, self.backend.name, self.topology.to_dict(), self.backend.options)
        if record.backend != self.backend.name:
            raise InputError(_("lab '{lab}' is already up on backend '{backend}'; take it down first "
                               "(nslab down --lab {lab}) or choose another name with --lab").format(
                lab=self.name, backend=record.backend))
        if record.topology != self.topology.to_dict():
            raise InputError(_("lab '{lab}' is already up with a different topology; take it down first "
                               "(nslab down --lab {lab}) or choose another name with --lab").format(lab=self.name))
        return record

    def _handles(self, nodes: Iterable[str]) -> dict[str, NodeHandle]:
        return self.backend.handles(self.topology, nodes)

    # --- applying ----------------------------------------------------------------------------
    def up(self, progress: Callable[[str, int, int], None] | None = None,
           stages: Sequence[str] = STAGES) -> Report:
        """Converge the whole lab to its topology; re-running reports everything 'already so'.

        ``stages`` limits the work to some of: nodes, links, addresses, forwarding, routes
        (the notebooks build Figure 1 stage by stage).
        """
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise InputError(_("unknown stage {stage!r}; stages are {stages}").format(stage=unknown[0],
                                                                                      stages=", ".join(STAGES)))
        return self._apply("up", self.topology.node_names, list(self.topology.links), stages, progress)

    def _apply(self, title: str, nodes: Sequence[str], links: Sequence[Link], stages: Sequence[str],
               progress: Callable[[str, int, int], None] | None = None,
               ends: Sequence[Endpoint] | None = None) -> Report:
        """Apply ``stages`` to ``nodes`` and ``links``; ``ends`` (default: both ends of each
        link) are the interfaces that get their address and are brought up."""
        ok = False
        try:
            report = self._apply_locked(title, nodes, links, stages, progress, ends)
            ok = True
            return report
        finally:
            # one progress bar per operation, finished when the operation is (red if it stopped)
            close = getattr(progress, "close", None)
            if callable(close):
                try:
                    close(ok)
                except Exception:  # noqa: BLE001 - a display must never break a lab step
                    pass
            self._changed()

    def _apply_locked(self, title: str, nodes: Sequence[str], links: Sequence[Link], stages: Sequence[str],
                      progress: Callable[[str, int, int], None] | None,
                      ends: Sequence[Endpoint] | None) -> Report:
        topo = self.topology
        report = Report(f"{title} {self.name}")
        self.backend.preflight()  # before the lock: a refused start leaves not even a records folder
        if "forwarding" in stages and any(topo.node(n).forwarding for n in nodes):
            self.backend.preflight_forwarding()
        with records.lock(self.name):
            fresh = not records.record_path(self.name).exists()
            record = self._record(create="nodes" in stages)
            if record is None:
                raise LabNotFound(_("lab '{lab}' is not up yet; create its nodes first (lab.up() or "
                                    "lab.add_node())").format(lab=self.name))
            if "nodes" in stages:
                total, done = len(nodes), [0]

                def tick(node: str) -> None:
                    done[0] += 1
                    if progress:
                        progress(node, done[0], total)

                try:
                    report.add(self.backend.create_nodes(topo, record, list(nodes), progress=tick))
                except BaseException:
                    if fresh and not record.resources:  # refused (a name clash...) before creating anything:
                        records.remove(record)          # leave no record, so no ghost lab in 'nslab status'
                    raise
            if ends is None:
                ends = [e for link in links for e in link.endpoints]
            involved = set(nodes) | {e.node for link in links for e in link.endpoints} | {e.node for e in ends}
            if set(stages) - {"nodes"}:
                self._require_nodes(record, involved)
            if "links" in stages and links:
                record.append_many([{"t": "veth", "a": str(link.a), "b": str(link.b)} for link in links
                                    if not any(r.get("t") == "veth" and r.get("a") == str(link.a)
                                               for r in record.resources)])
                report.add(self.backend.make_links(topo, list(links)))
            if {"addresses", "forwarding", "routes"} & set(stages):
                ends_of: dict[str, list[Endpoint]] = {n: [] for n in nodes}
                if "addresses" in stages:
                    for end in ends:
                        ends_of.setdefault(end.node, []).append(end)
                if "forwarding" not in stages and "addresses" not in stages:
                    ends_of = {n: [] for n in nodes if topo.node(n).routes}
                work = {node: NodeWork(
                    lo="addresses" in stages and node in nodes,
                    ends=tuple((e.ifname, e.address) for e in ends_of.get(node, [])),
                    forwarding=topo.node(node).forwarding if "forwarding" in stages and node in nodes else None,
                    routes=tuple(topo.node(node).routes) if "routes" in stages and node in nodes else None)
                    for node in ends_of}
                report.add(self.backend.converge(topo, work))
        self._note_built(stages, fresh)
        return report

    def _note_built(self, stages: Sequence[str], fresh: bool) -> None:
        """Remember how far this Lab has built its lab (the ping matrix expects no more than that)."""
        if fresh:
            self._built = set(stages)
        elif self._built is not None:
            self._built |= set(stages)
        if self._built is not None and set(STAGES) <= self._built:
            self._built = None

    @property
    def built_stages(self) -> tuple[str, ...]:
        """The stages built so far (all of them for a lab built whole, or opened from its record)."""
        return STAGES if self._built is None else tuple(s for s in STAGES if s in self._built)

    def down(self) -> Report:
        """Remove everything this lab's record lists (and nothing else)."""
        self._stop_watching(notify=True)  # no socket of ours keeps a namespace alive
        self._built = None
        try:
            if not records.record_path(self.name).exists():
                return Report(f"down {self.name}: not up (already so)")
            return down(self.name)
        finally:
            self._changed()

    # --- step-level calls (the notebooks use these) ----------------------------------------------
    def add_node(self, *nodes: str, progress: Callable[[str, int, int], None] | None = None) -> Report:
        """Create the namespace (or container) of each node."""
        for n in nodes:
            self.topology.node(n)
        return self._apply("add node", list(nodes), [], ("nodes",), progress)

    def add_link(self, a: str, b: str | None = None) -> Report:
        """Create the veth pair of the topology link with these endpoints (``"h1:eth0"``, ``"r1:eth0"``)."""
        link = self.find_link(a, b)
        return self._apply("add link", [], [link], ("links",))

    def set_address(self, endpoint: str) -> Report:
        """Give one end of a link the address the topology says, and bring it up."""
        link = self.find_link(endpoint)
        end = link.a if str(link.a) == endpoint else link.b
        return self._apply("set address", [], [], ("addresses",), ends=[end])

    def configure(self, *nodes: str) -> Report:
        """Loopback up, addresses, links up and the forwarding flag, for each node (all if none named)."""
        names = list(nodes) or self.topology.node_names
        for n in names:
            self.topology.node(n)
        ends = [e for n in names for e in self.topology.endpoints_of(n)]
        return self._apply("configure", names, [], ("addresses", "forwarding"), ends=ends)

    def set_forwarding(self, node: str, enabled: bool | None = None) -> Report:
        """Set a node's ``net.ipv4.ip_forward``: the topology's value, or ``enabled`` to override it."""
        n = self.topology.node(node)
        if enabled is None or enabled == n.forwarding:
            return self._apply("set forwarding", [node], [], ("forwarding",))
        return self._one_change(f"set forwarding {node}", node, "forwarding", enabled)

    def add_routes(self, *nodes: str) -> Report:
        """Add the static routes the topology gives each node (all nodes if none named)."""
        names = list(nodes) or self.topology.node_names
        return self._apply("add routes", names, [], ("routes",))

    def delete_route(self, node: str, destination: str) -> Report:
        """Delete a node's route to ``destination`` (a prefix or 'default'): for demos that break things."""
        route = next((r for r in self.topology.node(node).routes
                      if destination in (str(r.dst), r.destination)), None)
        if route is None:
            raise InputError(_("{node} has no route to {destination} in the topology; its routes: {routes}").format(
                node=node, destination=destination,
                routes=", ".join(str(r) for r in self.topology.node(node).routes) or _("none")))
        return self._one_change(f"delete route {node}", node, "delete_route", route)

    def delete_link(self, endpoint: str) -> Report:
        """Delete a veth by deleting one of its ends: the kernel removes the peer too."""
        link = self.find_link(endpoint)
        node, ifname = endpoint.split(":", 1)
        return self._one_change(f"delete link {link}", node, "delete_link", ifname)

    def _one_change(self, title: str, node: str, change: str, arg: Any) -> Report:
        """One change in one node that is up (under the lab's lock), outside the convergence of ``up``."""
        report = Report(title)
        with records.lock(self.name):
            self._require_up(node)
            report.add(self.backend.one_change(self.topology, node, change, arg))
        self._changed()
        return report

    def _require_up(self, *nodes: str) -> records.Record:
        record = self._record(create=False)
        if record is None:
            raise LabNotFound(_("lab '{lab}' is not up; run lab.up() first").format(lab=self.name))
        self._require_nodes(record, nodes)
        return record

    def _require_nodes(self, record: records.Record, nodes: Iterable[str]) -> None:
        """Each node must exist as nslab made it; otherwise say what is wrong and what to run."""
        states = {n: self.backend.node_state(self.topology, record, n) for n in sorted(nodes)}
        bad = {n: s for n, s in states.items() if s != NodeStatus.UP}
        if not bad:
            return
        node, state = next(iter(bad.items()))
        others = (" " + _("(and {n} more)").format(n=len(bad) - 1)) if len(bad) > 1 else ""
        why = {
            NodeStatus.MISSING: N_("node '{node}' of lab '{lab}' does not exist yet: create it first (lab.up() or lab.add_node())"),
            NodeStatus.STALE: N_("node '{node}' of lab '{lab}' has a stale netns name: its container restarted, so the name "
                        "points at a namespace that is gone; run up again (nslab up / lab.up()) to re-link and "
                        "re-apply it"),
            NodeStatus.UNNAMED: N_("node '{node}' of lab '{lab}' has no netns name yet: run up again to link it"),
            NodeStatus.STOPPED: N_("node '{node}' of lab '{lab}' is a stopped container: run up again to start it and "
                          "re-apply its part of the lab"),
            NodeStatus.FOREIGN: N_("node '{node}' of lab '{lab}' exists but was not created by nslab for this lab; nslab "
                          "will not touch it (lab.check() grades it as it is)"),
        }.get(state, N_("node '{node}' of lab '{lab}' is {state}"))
        raise InputError(_(why).format(node=node, lab=self.name, state=state) + others)

    def find_link(self, a: str, b: str | None = None) -> Link:
        for link in self.topology.links:
            names = {str(link.a), str(link.b)}
            if a in names and (b is None or b in names) and a != b:
                return link
        known = ", ".join(str(l) for l in self.topology.links)
        raise InputError(_("lab '{lab}' has no link {link}; its links: {links}").format(
            lab=self.name, link=a + (" - " + b if b else ""), links=known))

    # --- looking at it ---------------------------------------------------------------------------
    def targets(self) -> dict[str, list[tuple[str, str]]]:
        """For each node, (node, address) of every address of every other node."""
        return ping_targets(self.topology)

    def expected(self, stages: Sequence[str] | None = None) -> dict[tuple[str, str], bool]:
        """What each probe should do once ``stages`` are built (default: what this Lab has built so
        far; all of them: the topology's target state).  A lab built stage by stage expects, after
        its addresses, each node to reach its neighbours only; after forwarding and routes, all."""
        built = tuple(s for s in STAGES if s in (self.built_stages if stages is None else stages))
        if self._expected is None or self._expected[0] is not self.topology:
            self._expected = (self.topology, {})  # type: ignore[assignment]
        cache: dict = self._expected[1]  # type: ignore[assignment]
        if built not in cache:
            targets = self.targets()
            if not {"nodes", "links", "addresses"} <= set(built):
                cache[built] = {(src, address): False for src, ts in targets.items() for _node, address in ts}
            else:
                cache[built] = Forwarder(staged_topology(self.topology, built)).expected_matrix(targets)
        return cache[built]

    def ping_matrix(self, timeout: float = 1.0, stages: Sequence[str] | None = None) -> PingMatrix:
        """Probe every node to every address of every other node, concurrently.

        Each probe carries what is expected of it with ``stages`` built (default: what this Lab has
        built so far), so a partial lab marks only what differs from what is expected at that point.
        """
        record = self._record(create=False)
        if record is None:
            raise LabNotFound(_("lab '{lab}' is not up; run lab.up() first").format(lab=self.name))
        built = tuple(s for s in STAGES if s in (self.built_stages if stages is None else stages))
        matrix = self.backend.probe(self.topology, self.targets(), timeout, lambda: self.expected(built))
        matrix.expected_for = None if built == STAGES else built
        return matrix

    def state(self) -> LabState:
        """The live kernel state of every node (interfaces, veth peers, addresses, routes, forwarding)."""
        return self.backend.read_state(self.topology)

    def check(self, sections: Sequence[str] | None = None, matrix: PingMatrix | None = None,
              only: Sequence[str] | None = None, hints: int | str = 3, lang: str | None = None,
              timeout: float = 1.0) -> CheckReport:
        """Grade the lab against its topology by what it achieves (all sections, or only those asked;
        ``only``: just these nodes and the links between them).  It needs no record: a lab built by
        hand with ``ip`` or ``lxc`` + ``ln -sf`` is graded the same.  ``hints``: the level shown
        (1 idea, 2 shape of the command, 3 the command) or "escalate"; ``lang``: "es" or "en"."""
        return check(self.topology, sections or SECTIONS, matrix=matrix, backend=self.backend, only=only,
                     hints=hints, lang=lang, timeout=timeout)

    def explain(self, source: str, destination: str, lang: str | None = None) -> Explanation:
        """Why ``source`` can or cannot reach ``destination`` (a node or an address), hop by hop,
        from the live state and the kernel's own route lookups; with the fix."""
        return explain(self.topology, self.backend.kernel_view(self.topology, self.state()), source, destination, lang)

    def status(self) -> dict[str, Any]:
        """The lab's nodes and whether each exists as nslab created it."""
        record = self._record(create=False)
        nodes = {}
        for n in self.topology.node_names:
            h = self.backend.handle(self.topology, n)
            nodes[n] = {"netns": h.netns, "state": self.backend.node_state(self.topology, record, n)}
        up = sum(v["state"] == NodeStatus.UP for v in nodes.values())
        return {"lab": self.name, "backend": self.backend.name, "recorded": record is not None,
                "nodes": nodes, "up": up, "total": len(nodes), "links": len(self.topology.links),
                "terminals": terminals.recorded_open(record)}

    def exec(self, node: str, argv: Sequence[str] | str, timeout: float = 30.0) -> ExecResult:
        """Run a command inside a node; returns its output and exit status."""
        self.topology.node(node)
        if isinstance(argv, str):
            argv = shlex.split(argv)
        return self.backend.exec(self.topology, node, list(argv), timeout)

    def terminal(self, node: str, *, height: str = "360px", rows: int = 24, cols: int = 80) -> Any:
        """An interactive shell inside ``node`` (its netns, or its LXD container).

        In a notebook: an xterm.js terminal (``nslab_widgets.TerminalView``), found
        through the ``nslab.views`` entry point so that this layer imports no UI;
        without nslab_widgets: the :class:`~nslab_kernel.lifecycle.terminals.Terminal`
        itself (``write``, ``subscribe``, ``close``).  Open as many as you like;
        each ends with ``lab.down()``, with the kernel, or on Ctrl-D.
        """
        return terminals.view_of(self.terminal_session(node, rows=rows, cols=cols), height=height)

    def terminal_session(self, node: str, rows: int = 24, cols: int = 80) -> "terminals.Terminal":
        """A shell inside ``node`` on a pty, with no view (for scripts, tests and other UIs)."""
        return terminals.open_terminal(self, node, rows=rows, cols=cols)


def staged_topology(topo: Topology, built: Sequence[str]) -> Topology:
    """The topology as far as ``built`` goes: without forwarding until that stage, without
    static routes until theirs (nodes, links and addresses are the rest of the model)."""
    nodes = tuple(dataclasses.replace(n, forwarding=n.forwarding and "forwarding" in built,
                                      routes=n.routes if "routes" in built else ()) for n in topo.nodes)
    return dataclasses.replace(topo, nodes=nodes)


def only_lab() -> str:
    names = records.lab_names()
    if len(names) == 1:
        return names[0]
    if not names:
        raise LabNotFound(_("no lab is up; start one with 'nslab up figure1'"))
    raise InputError(_("{n} labs are up ({labs}); say which with --lab NAME").format(n=len(names), labs=", ".join(names)))


def down(name: str) -> Report:
    """Remove what lab ``name``'s record lists, then the record itself."""
    report = Report(f"down {name}")
    with records.lock(name):
        record = records.read(name)
        backend = get_backend(record.backend, **record.header.get("backend_options", {}))
        report.add(terminals.close_recorded(record))  # a shell left in a netns would keep it alive
        report.add(backend.remove(record))
        records.remove(record)
    return report


def cleanup(lxd: bool | None = None) -> list[Report]:
    """``down`` for every lab nslab has a record of; then LXD containers tagged as nslab's
    whose record is gone (a crash).  Nothing without a record or a tag is touched.

    ``lxd``: look for tagged containers (None: only where an LXD daemon answers).
    """
    reports = []
    problems = []
    known: set[str] = set()
    for lab in records.lab_names():
        try:
            record = records.read(lab)
            known.add(record.instance)
            reports.append(down(lab))
        except RecordError as exc:
            problems.append(str(exc))
            try:  # never remove containers whose (unreadable) record may still name them
                known.update(records.instances_in(records.record_path(lab)))
            except OSError:
                pass
        except LabNotFound:
            continue  # removed by someone else meanwhile
    if lxd is not False:
        if lxd or socket_path():
            backend = LxdBackend()
            try:
                orphans = backend.orphans(known)
            except BackendError:
                if lxd:
                    raise
                orphans = []
            for inst in orphans:
                report = Report(f"cleanup of {inst.name} (tagged as lab '{inst.config.get('user.nslab.lab')}', "
                                "whose record is gone)")
                report.add(backend.remove_orphan(inst))
                reports.append(report)
    records.remove_stale_temporaries()
    records.remove_unused_locks()
    if problems:
        raise RecordError("; ".join(problems))
    return reports
