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
from .text import N_, _, plural

CONTAINER_ROOT = 100000  # LXD's default map: uid 0 in a container is uid 100000 on the host


def _user(user: str) -> str:
    """A process's user; a container's mapped uid says what it is inside."""
    if user.isdigit() and int(user) >= CONTAINER_ROOT:
        inside = int(user) - CONTAINER_ROOT
        return f"{user} (= {'root' if inside == 0 else 'uid ' + str(inside)} {_('in the container')})"
    return user


def _uid_note(procs: list[Process]) -> str:
    if not any(p.user.isdigit() and int(p.user) >= CONTAINER_ROOT for p in procs):
        return ""
    return ("<p class='nslab-uid-note'>" + html.escape(_(
        "uid 100000 is the container's root: LXD maps the users of an unprivileged container to other uids on "
        "the host (root, uid 0 inside, is uid 100000 outside), so a process that is root in the container has no "
        "privileges on the host.")) + "</p>")


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
            title = html.escape(_("netns not readable"))
        elif ino == host:
            title = f"netns {ino} · {html.escape(_('the host machine'))}"
        else:
            extra = ", ".join(named.get(ino, [])) or labels.get(ino, _("unnamed"))
            title = f"netns {ino} · {html.escape(extra)}"
        lines = "\n".join(f"{html.escape(_user(p.user)):<8} {p.pid:>7}  " + html.escape(("  " * p.depth + "\\_ " if p.depth else "")
                                                                                   + p.command[:100]) for p in group)
        cls = "host" if ino == host else "other"
        out.append(f"<details class='nslab-netns {cls}' data-inode='{ino}' {'open' if ino != host else ''}>"
                   f"<summary><b>{title}</b> — {html.escape(plural(len(group), N_('1 process'), N_('{n} processes')))}</summary>"
                   f"{_uid_note(group) if ino != host else ''}<pre>{lines}</pre></details>")
    return "".join(out)


def _names_html(names: list[NetnsName]) -> str:
    if not names:
        return f"<i>{html.escape(_('/var/run/netns is empty'))}</i>"
    rows = []
    for n in names:
        state = (f"<b style='color:#D55E00'>✗ {html.escape(_('dangling: its namespace is gone'))}</b>" if n.dangling
                 else f"netns {n.inode}")
        rows.append(f"<tr class='{'dangling' if n.dangling else 'ok'}'><td><code>{html.escape(n.name)}</code></td>"
                    f"<td>{n.kind}</td><td>{html.escape(n.target or '')}</td><td>{state}</td></tr>")
    return (f"<table class='nslab-names'><tr><th>{html.escape(_('name'))}</th><th>{html.escape(_('kind'))}</th>"
            f"<th>{html.escape(_('target'))}</th><th></th></tr>" + "".join(rows) + "</table>")


def _node_html(state: LabState, node: str) -> str:
    s = state.nodes[node]
    if not s.exists:
        return f"<i>{html.escape(node)}: {html.escape(_('does not exist yet'))} ({html.escape(s.netns)})</i>"
    down = f"<b style='color:#D55E00'>↓ {html.escape(_('down'))}</b>"
    rows = "".join(f"<tr><td><code>{html.escape(i.name)}</code></td><td>{i.kind}</td>"
                   f"<td>{'↑ ' + html.escape(_('up')) if i.up else down}</td>"
                   f"<td>{html.escape(', '.join(i.addresses))}</td><td>{html.escape(i.peer or '')}</td></tr>"
                   for i in s.interfaces)
    routes = "".join(f"<li><code>{html.escape(str(r))}</code></li>" for r in s.routes)
    fwd = f"1 ({_('forwards')})" if s.forwarding else f"0 ({_('does not forward')})"
    heads = "".join(f"<th>{html.escape(_(h))}</th>" for h in (N_("interface"), N_("kind"), N_("state"), N_("addresses"), N_("peer")))
    return (f"<div class='nslab-node-state'><b>{html.escape(node)}</b> · netns <code>{html.escape(s.netns)}</code> "
            f"· net.ipv4.ip_forward = {html.escape(fwd)}<table><tr>{heads}</tr>{rows}</table>"
            f"<b>{html.escape(_('routes'))}</b><ul>{routes}</ul></div>")


class NetnsInspector(w.VBox):
    def __init__(self, lab: LabLike | None = None, snapshot: dict | None = None):
        self.lab = lab
        self.snapshot = snapshot
        self.message = w.HTML()
        self.tabs = w.Tab()
        self.button = w.Button(description=_("Refresh"), icon="refresh", tooltip=_("read the processes and namespaces again"),
                               layout=w.Layout(width="auto", align_self="flex-start"))
        self.button.on_click(lambda _b: self.refresh())
        # tab titles at their whole width, wrapping to a second row rather than cut
        style = w.HTML("<style>.nslab-inspector .lm-TabBar-tab{flex:0 0 auto !important;max-width:none !important}"
                       ".nslab-inspector .lm-TabBar-content{flex-wrap:wrap}"
                       ".nslab-inspector .lm-TabBar-tabLabel{overflow:visible !important}</style>",
                       layout=w.Layout(height="0px", overflow="hidden"))
        super().__init__([style] + ([self.button] if lab is not None else []) + [self.tabs, self.message])
        self.add_class("nslab-inspector")
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
            titles = [_("Processes"), "/var/run/netns"]
            if state is not None:
                for node in [n for n, s in state.nodes.items() if s.exists]:  # no tab for a node not made yet
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
