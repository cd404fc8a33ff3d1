"""NetnsInspector: section 2 of the activity made visible.

The process tree as ``ps faxu`` shows it, grouped by network namespace inode (the
container's processes visibly in their own netns); the names in /var/run/netns,
what each points to, dangling names flagged; and per node its interfaces,
addresses, routes and forwarding flag.
"""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any

import ipywidgets as w

from nslab_kernel.core.state import LabState
from nslab_kernel.kernel.procs import NetnsName, Process, host_netns, netns_names, processes

from .base import LabLike, guarded


def _group_html(procs: list[Process], names: list[NetnsName], host: int, labels: dict[int, str]) -> str:
    by_ns: dict[int | None, list[Process]] = {}
    for p in procs:
        by_ns.setdefault(p.netns, []).append(p)
    named: dict[int, list[str]] = {}
    for n in names:
        if n.inode is not None:
            named.setdefault(n.inode, []).append(n.name)
    order = sorted(by_ns, key=lambda ino: (ino != host, ino is None, ino or 0))
    out = []
    for ino in order:
        group = by_ns[ino]
        if ino is None:
            title = "netns no legible / not readable"
        elif ino == host:
            title = f"netns {ino} · anfitrión / host"
        else:
            extra = ", ".join(named.get(ino, [])) or labels.get(ino, "sin nombre / unnamed")
            title = f"netns {ino} · {html.escape(extra)}"
        lines = "\n".join(f"{html.escape(p.user[:8]):<8} {p.pid:>7}  " + html.escape(("  " * p.depth + "\\_ " if p.depth else "")
                                                                                   + p.command[:100]) for p in group)
        cls = "host" if ino == host else "other"
        out.append(f"<details class='nslab-netns {cls}' data-inode='{ino}' {'open' if ino != host else ''}>"
                   f"<summary><b>{title}</b> — {len(group)} procesos / processes</summary><pre>{lines}</pre></details>")
    return "".join(out)


def _names_html(names: list[NetnsName]) -> str:
    if not names:
        return "<i>/var/run/netns está vacío / is empty</i>"
    rows = []
    for n in names:
        state = "<b style='color:#cf222e'>colgando / dangling</b>" if n.dangling else f"netns {n.inode}"
        rows.append(f"<tr class='{'dangling' if n.dangling else 'ok'}'><td><code>{html.escape(n.name)}</code></td>"
                    f"<td>{n.kind}</td><td>{html.escape(n.target or '')}</td><td>{state}</td></tr>")
    return ("<table class='nslab-names'><tr><th>nombre / name</th><th>tipo / kind</th><th>destino / target</th>"
            "<th></th></tr>" + "".join(rows) + "</table>")


def _node_html(state: LabState, node: str) -> str:
    s = state.nodes[node]
    if not s.exists:
        return f"<i>{html.escape(node)}: no existe / does not exist ({html.escape(s.netns)})</i>"
    down = "<b style='color:#cf222e'>DOWN</b>"
    rows = "".join(f"<tr><td><code>{html.escape(i.name)}</code></td><td>{i.kind}</td>"
                   f"<td>{'UP' if i.up else down}</td>"
                   f"<td>{html.escape(', '.join(i.addresses))}</td><td>{html.escape(i.peer or '')}</td></tr>"
                   for i in s.interfaces)
    routes = "".join(f"<li><code>{html.escape(str(r))}</code></li>" for r in s.routes)
    fwd = "1 (reenvía / forwards)" if s.forwarding else "0 (no reenvía / does not forward)"
    return (f"<div class='nslab-node-state'><b>{html.escape(node)}</b> · netns <code>{html.escape(s.netns)}</code> "
            f"· net.ipv4.ip_forward = {fwd}<table><tr><th>interfaz</th><th>tipo</th><th>estado</th>"
            f"<th>direcciones</th><th>par / peer</th></tr>{rows}</table><ul>{routes}</ul></div>")


class NetnsInspector(w.VBox):
    def __init__(self, lab: LabLike | None = None, snapshot: dict | None = None):
        self.lab = lab
        self.snapshot = snapshot
        self.message = w.HTML()
        self.tabs = w.Tab()
        self.button = w.Button(description="Actualizar / refresh", icon="refresh")
        self.button.on_click(lambda _b: self.refresh())
        super().__init__(([self.button] if lab is not None else []) + [self.tabs, self.message])
        self.refresh()

    def refresh(self) -> None:
        def work() -> None:
            if self.snapshot is not None:
                procs = [Process(**p) for p in self.snapshot["processes"]]
                names = [NetnsName(**n) for n in self.snapshot["names"]]
                host = self.snapshot["host_netns"]
                state = LabState.from_dict(self.snapshot["state"]) if self.snapshot.get("state") else None
            else:
                procs, names, host = processes(), netns_names(), host_netns()
                state = self.lab.state() if self.lab is not None else None
            labels = {}
            if state is not None:
                labels = {s.inode: f"{s.node} ({s.netns})" for s in state.nodes.values() if s.inode}
            pages = [w.HTML(_group_html(procs, names, host, labels)), w.HTML(_names_html(names))]
            titles = ["Procesos por netns", "/var/run/netns"]
            if state is not None:
                for node in state.nodes:
                    pages.append(w.HTML(_node_html(state, node)))
                    titles.append(node)
            self.tabs.children = pages
            for i, t in enumerate(titles):
                self.tabs.set_title(i, t)
        guarded(self.message, work)


def snapshot(lab: Any | None = None) -> dict:
    """Everything the inspector shows, as plain data (save it as JSON; load it without root)."""
    return {"processes": [asdict(p) for p in processes()], "names": [asdict(n) for n in netns_names()],
            "host_netns": host_netns(), "state": lab.state().to_dict() if lab is not None else None}
