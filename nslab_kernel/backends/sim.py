"""The simulated backend: the same lab, steps and commands, on a pure-Python network.

For Binder, JupyterLite and laptops without root.  It needs no privileges; every
report says the network is simulated.
"""

from __future__ import annotations

import errno
import time
from typing import Sequence

from ..core import commands, records
from ..core.errors import BackendError, NameClash
from ..core.records import Record
from ..core.results import PingMatrix, Probe
from ..core.state import NodeHandle, NodeStatus
from ..core.steps import Step
from ..model.topology import Topology
from .base import Backend, ExecResult, NodeWork
from .simnet import SimError, SimNetwork

NOTE = "simulated"


class SimBackend(Backend):
    name = "sim"
    simulated = True

    def preflight(self) -> None:
        folder = records.labs_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"the simulated backend keeps its state in {folder}, which cannot be written "
                               f"({exc.strerror}); set NSLAB_STATE_DIR to a folder of yours") from None

    def _net(self, topo: Topology) -> SimNetwork:
        return SimNetwork.load(records.sim_state_path(topo.name))

    def handle(self, topo: Topology, node: str) -> NodeHandle:
        name = topo.netns_name(node)
        return NodeHandle(node, name, f"sim:{name}")

    def node_state(self, topo: Topology, record: Record | None, node: str) -> NodeStatus:
        return NodeStatus.UP if node in self._net(topo).nodes and record is not None else NodeStatus.MISSING

    def create_nodes(self, topo: Topology, record: Record, nodes: Sequence[str], progress=None) -> list[Step]:
        net = self._net(topo)
        steps = []
        new = [n for n in nodes if n not in net.nodes]
        record.append_many([{"t": "sim-node", "name": topo.netns_name(n), "node": n} for n in new])
        for node in nodes:
            changed = net.add_node(node)
            steps.append(Step("netns", node, commands.netns_add(topo.netns_name(node)), changed, NOTE))
            if progress:
                progress(node)
        net.save()
        return steps

    def remove(self, record: Record) -> list[Step]:
        path = records.sim_state_path(record.lab)
        net = SimNetwork.load(path)
        steps = []
        for entry in reversed(record.of_type("sim-node")):
            changed = net.remove_node(entry["node"])
            steps.append(Step("delete", entry["name"], commands.netns_del(entry["name"]), changed, NOTE))
        path.unlink(missing_ok=True)
        return steps

    def make_links(self, topo: Topology, links) -> list[Step]:
        net = self._net(topo)
        steps = []
        for link in links:
            a, b = link.a, link.b
            na, nb = topo.netns_name(a.node), topo.netns_name(b.node)
            command = commands.veth(a.ifname, na, b.ifname, nb)
            have = net.iface(a.node, a.ifname)
            if have is not None:
                if have.get("peer") == f"{b.node}:{b.ifname}":
                    steps.append(Step("link", f"{na}:{a.ifname} - {nb}:{b.ifname}", command, False, NOTE))
                    continue
                raise NameClash(f"{na} already has an interface '{a.ifname}' that is not the veth to {nb}:{b.ifname}; "
                                f"delete it ({commands.link_del(na, a.ifname)}) and run up again")
            try:
                net.add_veth(a.node, a.ifname, b.node, b.ifname)
            except SimError:
                raise NameClash(f"{nb} already has an interface '{b.ifname}' that is not the veth to {na}:{a.ifname}; "
                                f"delete it ({commands.link_del(nb, b.ifname)}) and run up again") from None
            steps.append(Step("link", f"{na}:{a.ifname} - {nb}:{b.ifname}", command, True, NOTE))
        net.save()
        return steps

    def converge(self, topo: Topology, work: dict[str, NodeWork]) -> list[Step]:
        net = self._net(topo)
        steps: list[Step] = []
        for node, w in work.items():
            ns = topo.netns_name(node)
            if w.lo:
                steps.append(Step("up", f"{ns}:lo", commands.link_up(ns, "lo"), net.set_up(node, "lo"), NOTE))
            for ifname, address in w.ends:
                if net.iface(node, ifname) is None:
                    raise BackendError(f"{ns} has no interface '{ifname}'; create the link first "
                                       "(run up, or the link step of the notebook)")
                if address is not None:
                    steps.append(Step("address", f"{ns}:{ifname}", commands.addr_add(ns, address, ifname),
                                      net.add_address(node, ifname, str(address)), str(address)))
                steps.append(Step("up", f"{ns}:{ifname}", commands.link_up(ns, ifname), net.set_up(node, ifname), NOTE))
            if w.forwarding is not None:
                steps.append(Step("forwarding", ns, commands.forwarding(ns, w.forwarding),
                                  net.set_forwarding(node, w.forwarding), NOTE))
            for route in w.routes or ():
                command = commands.route(ns, route)
                have = net.route_of(node, str(route.dst))
                if have is not None and have["via"] == str(route.via) and (route.dev is None or have.get("dev") == route.dev):
                    steps.append(Step("route", f"{ns}: {route}", command, False, NOTE))
                    continue
                try:
                    net.replace_route(node, route)
                except SimError as exc:
                    if exc.errno == errno.ENETUNREACH:
                        raise BackendError(f"{ns}: route '{route}' refused: the gateway is not on a connected, up "
                                           "interface; set the address and bring the link up first") from None
                    raise
                steps.append(Step("route", f"{ns}: {route}", command, True,
                                  f"replaced a route via {have['via']}" if have else NOTE))
        net.save()
        return steps

    def one_change(self, topo: Topology, node: str, change: str, *args) -> Step:
        net = self._net(topo)
        ns = topo.netns_name(node)
        if change == "forwarding":
            (enabled,) = args
            step = Step("forwarding", ns, commands.forwarding(ns, enabled),
                        net.set_forwarding(node, enabled), NOTE)
        elif change == "delete_route":
            (route,) = args
            gone = net.delete_route(node, route)
            step = Step("delete", f"{ns}: {route}", commands.route_del(ns, route), gone, NOTE if gone else "already gone")
        else:
            (ifname,) = args
            gone = net.delete_link(node, ifname)
            step = Step("delete", f"{ns}:{ifname}", commands.link_del(ns, ifname), gone,
                        "its peer is gone too" if gone else "already gone")
        net.save()
        return step

    def read_state(self, topo: Topology):
        return self._net(topo).state(topo.name, {n: topo.netns_name(n) for n in topo.node_names})

    def probe(self, topo: Topology, targets, timeout: float, expected, nodes: Sequence[str] | None = None):
        sources = topo.node_names if nodes is None else list(nodes)
        start = time.perf_counter()
        net = self._net(topo)
        fw = net.forwarder()
        exp = expected() if callable(expected) else (expected or {})
        answers = fw.expected_matrix({s: targets.get(s, ()) for s in sources if s in net.nodes})
        probes = []
        for source in sources:
            for node, address in targets.get(source, ()):
                if source not in net.nodes:
                    probes.append(Probe(source, node, address, False, None, f"{source} is not up", exp.get((source, address))))
                    continue
                ok = answers[(source, address)]
                probes.append(Probe(source, node, address, ok, 0.05 if ok else None, "" if ok else "no reply (simulated)",
                                    exp.get((source, address))))
        return PingMatrix(topo.name, sources, probes, timeout, time.perf_counter() - start)

    def kernel_view(self, topo: Topology, state):
        net = self._net(topo)

        class View:
            def __init__(self) -> None:
                self.state = state

            def route_get(self, node, dst, src=None, iif=None):
                return net.route_get(node, dst, src, iif)

        return View()

    def shell_command(self, topo: Topology, node: str):
        """No shell: a simulated node has no namespace to run one in (``Lab.terminal`` says so in the
        notebook's language before getting here)."""
        raise BackendError(f"node '{node}' is simulated: there is no namespace to open a shell in")

    def exec(self, topo: Topology, node: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        code, out, err = self._net(topo).run(node, list(argv))
        return ExecResult(node, tuple(argv), code, out, err)
