"""Grade a live lab by what it achieves: what is right, what is missing, and a hint.

The checker reads the *kernel's* state of the namespaces the topology names,
whoever made them: nslab, a student typing ``ip`` commands, or ``lxc launch``
plus ``ln -sf /proc/PID/ns/net /var/run/netns/NAME`` as the activity does.  It
grades outcomes, not one solution:

- routes are judged by what they achieve: from every node, every address the
  figure asks for is routed there and back with no loop and no host used as a
  router (the topology's own routes are shown as one solution; a topology with
  ``check: {routes: exact}`` asks for exactly those);
- addresses a link leaves to the student (``choose: true``) pass with any valid
  choice: both ends in one subnet, no clash with the rest of the lab, up;
- reachability is probed, for real, against the topology being checked.

Each item says what is right, what is missing, and a hint in three levels (the
idea, the shape of the command, the exact command), in the student's language.
Items are grouped by section, so a notebook can ask only for what the student
has reached so far.
"""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from ..backends import Backend, get_backend
from ..backends.images import DEFAULT_IMAGE
from ..backends.lxd import PROC_LINK, connect, init_pids
from ..core import commands
from ..core.errors import InputError
from ..core.i18n import N_, _, get_language, language, resolve
from ..core.state import InterfaceState, LabState
from ..kernel import nsfs
from ..model.routing import Forwarder, Parts
from ..model.topology import Endpoint, Link, Route, Topology

SECTIONS = ("nodes", "links", "addresses", "forwarding", "routes", "reachability")
SECTION_NAMES = {"nodes": N_("nodes"), "links": N_("links"), "addresses": N_("addresses"),
                 "forwarding": N_("forwarding"), "routes": N_("routes"), "reachability": N_("reachability")}
HINT_LEVELS = (1, 2, 3)
MAX_HOPS = 64


@lru_cache(maxsize=4096)
def _iface(text: str) -> ipaddress.IPv4Interface:
    return ipaddress.IPv4Interface(text)


@lru_cache(maxsize=4096)
def _net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network("0.0.0.0/0" if text == "default" else text)


@lru_cache(maxsize=4096)
def _addr(text: str | int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(text)


# --------------------------------------------------------------------------------------------------------
# Items and reports
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckItem:
    """One thing checked.  All text is already in the report's language.

    ``hints`` escalate: (1) the idea, (2) the shape of the command, (3) the exact command(s).
    ``command``: the exact command(s) that fix it (one per line); when ok, the command that does it.
    ``solution``: the topology's own answer, shown as one way among others (routes), or "".
    """

    section: str
    target: str
    ok: bool
    right: str = ""
    missing: str = ""
    hints: tuple[str, str, str] = ("", "", "")
    command: str = ""
    solution: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.section, self.target)

    def hint(self, level: int = 1) -> str:
        """The hint at ``level`` (1 idea, 2 shape of the command, 3 exact command); the nearest level
        below it that has one."""
        level = max(1, min(3, int(level)))
        for lv in range(level, 0, -1):
            if self.hints[lv - 1]:
                return self.hints[lv - 1]
        return ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hints"] = list(self.hints)
        return d


def item(section: str, target: str, ok: bool, right: str = "", missing: str = "",
         hints: Sequence[str] = ("", "", ""), command: str | None = None, solution: str = "") -> CheckItem:
    """A :class:`CheckItem`, for checks of one's own (exercises): ``command`` defaults to the level-3 hint."""
    h = tuple(hints) + ("",) * (3 - len(hints))
    return CheckItem(section, target, ok, right, "" if ok else missing, (h[0], h[1], h[2]),
                     h[2] if command is None else command, solution)


@dataclass
class CheckReport:
    lab: str
    items: list[CheckItem] = field(default_factory=list)
    lang: str = field(default_factory=get_language)  # a report made by hand speaks the notebook's language
    hint_level: int = 3  # the hint shown for failed items, unless ``levels`` says otherwise
    levels: dict[tuple[str, str], int] = field(default_factory=dict)  # per item key (HintLadder)

    @property
    def passed(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def failed(self) -> list[CheckItem]:
        return [i for i in self.items if not i.ok]

    def sections(self) -> list[str]:
        """Sections in the order the checker uses, then any others in order of appearance."""
        seen = [s for s in SECTIONS if any(i.section == s for i in self.items)]
        for i in self.items:
            if i.section not in seen:
                seen.append(i.section)
        return seen

    def scores(self) -> dict[str, tuple[int, int]]:
        """Per section: (items passed, items)."""
        out: dict[str, tuple[int, int]] = {}
        for s in self.sections():
            items = [i for i in self.items if i.section == s]
            out[s] = (sum(i.ok for i in items), len(items))
        return out

    @property
    def score(self) -> float:
        return sum(i.ok for i in self.items) / len(self.items) if self.items else 0.0

    def level_of(self, it: CheckItem) -> int:
        return self.levels.get(it.key, self.hint_level)

    def to_dict(self) -> dict[str, Any]:
        return {"lab": self.lab, "lang": self.lang, "passed": self.passed, "score": round(self.score, 4),
                "sections": {s: {"passed": p, "total": t} for s, (p, t) in self.scores().items()},
                "items": [i.to_dict() for i in self.items]}

    def nbgrader(self, points_per_section: float = 1.0) -> dict[str, Any]:
        """Points per section, for nbgrader autograder cells (or any grader)."""
        sections = {}
        for s, (p, t) in self.scores().items():
            sections[s] = {"score": round(points_per_section * p / t, 4), "max_score": points_per_section}
        return {"lab": self.lab, "sections": sections,
                "score": round(sum(v["score"] for v in sections.values()), 4),
                "max_score": points_per_section * len(sections)}

    def assert_passed(self, *sections: str) -> None:
        """For autograder cells (nbgrader): raise AssertionError naming what is missing and the hint."""
        failed = [i for i in self.items if not i.ok and (not sections or i.section in sections)]
        if failed:
            first = failed[0]
            with language(self.lang):
                more = (" " + _("(and {n} more)").format(n=len(failed) - 1)) if len(failed) > 1 else ""
                hint = first.hint(self.level_of(first))
                text = f"{section_name(first.section, self.lang)}: {first.target}: {first.missing}"
                if hint:
                    text += "; " + _("hint") + ": " + hint
            raise AssertionError(text + more)

    # --- display ----------------------------------------------------------------------------------------
    def headline(self) -> str:
        with language(self.lang):
            scores = ", ".join(f"{section_name(s, self.lang)} {p}/{t}" for s, (p, t) in self.scores().items())
            return _("Check of lab '{lab}': {scores}").format(lab=self.lab, scores=scores)

    def text(self, level: int | None = None, limit: int = 6) -> str:
        """The report for a terminal: the headline, then each failure with what is right, what is
        missing and its hint; past ``limit`` failures in one section, a count of the rest."""
        with language(self.lang):
            right_word, hint_word, solution_word = _("right"), _("hint"), _("one solution")
            lines = [self.headline()]
            shown: dict[str, int] = {}
            hidden: dict[str, int] = {}
            for i in self.items:
                if i.ok:
                    continue
                shown[i.section] = shown.get(i.section, 0) + 1
                if shown[i.section] > limit:
                    hidden[i.section] = hidden.get(i.section, 0) + 1
                    continue
                lv = level if level is not None else self.level_of(i)
                lines.append(f"  ✘ {section_name(i.section, self.lang):<14} {i.target}: {i.missing}")
                if i.right:
                    lines.append(f"      {right_word}: {i.right}")
                for text in _shown_hints(i, lv):
                    first, *rest = text.splitlines() or [""]
                    lines.append(f"      {hint_word}: {first}")
                    lines.extend(f"      {' ' * len(hint_word)}  {line}" for line in rest)
                if i.solution and lv >= 3:
                    lines.append(f"      {solution_word}: {i.solution}")
            for section, n in hidden.items():
                lines.append("  … " + _("and {n} more in {section}").format(n=n, section=section_name(section, self.lang)))
            if self.passed:
                lines.append("  " + _("everything checked is right"))
            else:
                lines.append("  " + _("{failed} of {total} items to fix").format(failed=len(self.failed),
                                                                               total=len(self.items)))
            return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.headline()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's text display (a console, a text/plain output): the whole report, not a dataclass dump."""
        printer.text(self.headline() if cycle else self.text())

    def html(self, level: int | None = None, limit: int = 6) -> str:
        """The report for a notebook: the score per section, then what to fix (at most ``limit`` per
        section in view, the rest folded), then what is right, folded under a <details>."""
        esc = html.escape
        with language(self.lang):
            right_word, hint_word, solution_word = _("right"), _("hint"), _("one solution")
            head = " · ".join(f"<b>{esc(section_name(s, self.lang))}</b> {p}/{t}" for s, (p, t) in self.scores().items())
            shown, more_failed, passed = [], [], []
            count: dict[str, int] = {}
            for i in self.items:
                lv = level if level is not None else self.level_of(i)
                if i.ok:
                    detail = esc(i.right)
                else:
                    detail = esc(i.missing)
                    if i.right:
                        detail += f"<br><span style='color:#57606a'>{esc(right_word)}: {esc(i.right)}</span>"
                    for text in _shown_hints(i, lv):
                        body = f"<code>{esc(text)}</code>" if text == i.hints[2] else esc(text)
                        detail += f"<br><i>{esc(hint_word)}</i>: {body}".replace("\n", "<br>")
                    if i.solution and lv >= 3:
                        detail += f"<br><i>{esc(solution_word)}</i>: {esc(i.solution)}"
                colour = "#1a7f37" if i.ok else "#cf222e"
                row = (f"<tr style='vertical-align:top' data-section='{esc(i.section)}' data-ok='{int(i.ok)}' "
                       f"data-level='{lv}'><td style='color:{colour}'>{'✔' if i.ok else '✘'}</td>"
                       f"<td style='color:{colour}'>{esc(section_name(i.section, self.lang))}</td>"
                       f"<td style='color:{colour}'>{esc(i.target)}</td><td style='text-align:left'>{detail}</td></tr>")
                if i.ok:
                    passed.append(row)
                    continue
                count[i.section] = count.get(i.section, 0) + 1
                (shown if count[i.section] <= limit else more_failed).append(row)
            title = esc(_("Check of lab '{lab}'").format(lab=self.lab))
            foot = _("everything checked is right") if self.passed else _("{failed} of {total} items to fix").format(
                failed=len(self.failed), total=len(self.items))
            parts = [f"<div class='nslab-check' lang='{self.lang}'><div>{title}: {head}</div>",
                     f"<div><b>{esc(foot)}</b></div>"]
            if shown:
                parts.append(f"<table>{''.join(shown)}</table>")
            if more_failed:
                summary = esc(_("{n} more items to fix").format(n=len(more_failed)))
                parts.append(f"<details><summary>{summary}</summary><table>{''.join(more_failed)}</table></details>")
            if passed:
                summary = esc(_("{n} items right").format(n=len(passed)))
                parts.append(f"<details><summary>{summary}</summary><table>{''.join(passed)}</table></details>")
            return "".join(parts) + "</div>"

    def _repr_html_(self) -> str:
        return self.html()


def _shown_hints(it: CheckItem, level: int) -> list[str]:
    """The hints a failed item shows at ``level``: the idea, and the level's own hint if higher."""
    shown = [it.hints[0]] if it.hints[0] else []
    top = it.hint(level)
    if level > 1 and top and top not in shown:
        shown.append(top)
    return shown


def section_name(section: str, lang: str | None = None) -> str:
    return _(SECTION_NAMES[section], lang) if section in SECTION_NAMES else section


class HintLadder:
    """Hints that escalate on repeated failure of the same mistake: an item's 1st failure shows the idea,
    the 2nd the shape of the command, the 3rd and later the exact command; a pass, or a different mistake
    on the same item (another ``missing`` text), starts it again from the idea."""

    def __init__(self) -> None:
        self.failures: dict[tuple[str, str, str], tuple[int, str]] = {}

    def apply(self, report: CheckReport) -> CheckReport:
        for i in report.items:
            key = (report.lab, *i.key)
            if i.ok:
                self.failures.pop(key, None)
                continue
            count, mistake = self.failures.get(key, (0, i.missing))
            count = count + 1 if mistake == i.missing else 1
            self.failures[key] = (count, i.missing)
            report.levels[i.key] = min(3, count)
        return report

    def level(self, lab: str, i: CheckItem) -> int:
        """The level the last check showed for ``i`` if it is still the same mistake, else 1 (no change)."""
        count, mistake = self.failures.get((lab, *i.key), (0, ""))
        return max(1, min(3, count)) if mistake == i.missing else 1

    def reset(self) -> None:
        self.failures.clear()


LADDER = HintLadder()


# --------------------------------------------------------------------------------------------------------
# The commands a student types: core/commands.py (the same ones nslab's steps show)
# --------------------------------------------------------------------------------------------------------

def _name_netns(pid: int | str, ns: str) -> str:
    """Name a container's netns the activity's way (the folder first: it may not exist yet)."""
    return commands.then(commands.netns_dir(nsfs.NETNS_RUN_DIR), commands.netns_link(pid, nsfs.netns_path(ns)))


def _backend_name(backend: Any) -> str:
    if backend is None:
        return "netns"
    return backend if isinstance(backend, str) else getattr(backend, "name", "netns")


def _image(backend: Any) -> str:
    return getattr(backend, "image", None) or DEFAULT_IMAGE


# --------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------

def as_backend(backend: Backend | str | None) -> Backend:
    """The backend a lab's nodes live on: a Backend, or its name ("netns" when none is given)."""
    return backend if isinstance(backend, Backend) else get_backend(backend or "netns")


def _subtopology(topo: Topology, keep: set[str]) -> Topology:
    for n in keep:
        topo.node(n)
    return dataclasses.replace(topo, nodes=tuple(n for n in topo.nodes if n.name in keep),
                               links=tuple(l for l in topo.links if l.a.node in keep and l.b.node in keep))


# --------------------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------------------

def check(topo: Topology, sections: Sequence[str] = SECTIONS, state: LabState | None = None,
          matrix: Any = None, backend: Any = None, only: Sequence[str] | None = None,
          hints: int | str = 3, lang: str | None = None, timeout: float = 1.0) -> CheckReport:
    """Grade the live state against ``topo`` for the ``sections`` asked.

    ``backend``: "netns" (default), "lxd", "sim" or a Backend: how the nodes exist, which decides the
    hints (``lxc launch`` on LXD) and how the state is read and probed.  ``only``: just these nodes and
    the links between them.  ``hints``: the level shown (1..3), or "escalate" (:data:`LADDER`).
    """
    lang = resolve(lang)
    with language(lang):
        if isinstance(sections, str):
            sections = (sections,)  # check(topo, "routes") means the one section
        if hints != "escalate" and hints not in HINT_LEVELS:
            raise InputError(_("hints must be 1, 2, 3 or \"escalate\", not {value!r}").format(value=hints))
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown:
            raise InputError(_("unknown check section {section!r}; sections are {sections}").format(
                section=unknown[0], sections=", ".join(SECTIONS)))
        if only is not None:
            topo = _subtopology(topo, set(only))
            if state is not None:
                state = LabState(state.lab, {k: v for k, v in state.nodes.items() if k in set(only)})
        backend = as_backend(backend)
        if state is None:
            state = backend.read_state(topo)
        grader = _Grader(topo, state, backend, lang)
        items: list[CheckItem] = []
        for section in SECTIONS:
            if section in sections:
                items += getattr(grader, section)(matrix, timeout) if section == "reachability" else getattr(grader, section)()
        report = CheckReport(topo.name, items, lang)
        if hints == "escalate":
            LADDER.apply(report)
        else:
            report.hint_level = max(1, min(3, int(hints)))
        return report


class _Grader:
    def __init__(self, topo: Topology, state: LabState, backend: Any, lang: str):
        self.topo = topo
        self.state = state
        self.backend = backend
        self.kind = _backend_name(backend)
        self.lang = lang
        self.live = state.nodes
        self._chosen: dict[tuple[str, str], ipaddress.IPv4Interface | None] | None = None
        self._plan: tuple | None = None
        self._node_commands: dict[str, tuple[str, list[str], str]] = {}
        self._pids: dict[str, int] | None = None

    # --- helpers -----------------------------------------------------------------------------------------
    def ns(self, node: str) -> str:
        return self.topo.netns_name(node)

    def exists(self, node: str) -> bool:
        s = self.live.get(node)
        return s is not None and s.exists

    def iface(self, end: Endpoint) -> InterfaceState | None:
        s = self.live.get(end.node)
        return s.interface(end.ifname) if s is not None and s.exists else None

    def missing_node_item(self, section: str, target: str, node: str) -> CheckItem:
        """An item that cannot be judged before its node exists: the nodes section has the commands."""
        return item(section, target, False, missing=_("node {node} does not exist yet").format(node=node),
                    hints=(_("Create the nodes first (section nodes), then come back to this."), "", ""))

    # --- nodes -------------------------------------------------------------------------------------------
    def node_commands(self, node: str) -> tuple[str, list[str], str]:
        """(what is missing, exact commands, shape) for a node that does not exist, fitting the backend."""
        if node not in self._node_commands:
            self._node_commands[node] = self._find_node_commands(node)
        return self._node_commands[node]

    def _find_node_commands(self, node: str) -> tuple[str, list[str], str]:
        ns = self.ns(node)
        if self.kind != "lxd":
            path = nsfs.netns_path(ns)
            if os.path.lexists(path):  # a file, or a link to something that is not (or no longer) a netns
                target = os.readlink(path) if os.path.islink(path) else path
                return (_("{path} exists but is not a network namespace ({target})").format(path=path, target=target),
                        [commands.remove(path), commands.netns_add(ns)], commands.netns_add("NAME"))
            return (_("there is no network namespace '{ns}'").format(ns=ns), [commands.netns_add(ns)],
                    commands.netns_add("NAME"))
        cname = self.topo.container_name(node)
        path = nsfs.netns_path(ns)
        if self._pids is None:
            self._pids = init_pids()  # one scan of /proc for the whole check
        pid = self._pids.get(cname)
        shape = (commands.lxc_info("NAME") + "   # PID\n" + commands.then(
            commands.netns_dir(), commands.netns_link("PID", f"{commands.NETNS_RUN_DIR}/NETNS")))
        if pid is not None:
            if os.path.islink(path):
                target = os.readlink(path)
                match = PROC_LINK.match(target)
                if match and int(match.group(1)) != pid:
                    what = _("{path} points at {target}, but the init of container {c} is PID {pid} "
                             "(the container restarted, or another PID was used)").format(
                        path=path, target=target, c=cname, pid=pid)
                else:
                    what = _("{path} points at {target}, which is not a network namespace any more").format(
                        path=path, target=target)
            else:
                what = _("container {c} runs (its init is PID {pid}) but its network namespace has no name "
                         "'{ns}' yet").format(c=cname, pid=pid, ns=ns)
            return what, [commands.lxc_info(cname), _name_netns(pid, ns)], shape
        state = self._container_status(cname)
        if state == "stopped":
            return (_("container {c} exists but is stopped").format(c=cname),
                    [commands.lxc_start(cname), commands.lxc_info(cname), _name_netns("<PID>", ns)],
                    commands.lxc_start("NAME") + "\n" + shape)
        return (_("there is no container {c} (and so no network namespace '{ns}')").format(c=cname, ns=ns),
                [commands.lxc_launch(_image(self.backend), cname), commands.lxc_info(cname), _name_netns("<PID>", ns)],
                commands.lxc_launch("IMAGE", "NAME") + "\n" + shape)

    def _container_status(self, cname: str) -> str:
        """'stopped' or 'missing', asking LXD only when the container does not run (a failing check)."""
        try:
            from pylxd.exceptions import NotFound  # optional: only with the lxd extra
            client = getattr(self.backend, "client", None) or connect()
            try:
                inst = client.instances.get(cname)
            except NotFound:
                return "missing"
            return "stopped" if inst.status != "Running" else "running"
        except Exception:  # noqa: BLE001 - a hint must never break a check
            return "missing"

    def nodes(self) -> list[CheckItem]:
        out = []
        for n in self.topo.node_names:
            ns = self.ns(n)
            if self.exists(n):
                if self.kind == "lxd":
                    right = _("container {c} runs and its network namespace is named '{ns}'").format(
                        c=self.topo.container_name(n), ns=ns)
                else:
                    right = _("the network namespace '{ns}' exists").format(ns=ns)
                out.append(item("nodes", n, True, right=right, command="\n".join(self.node_commands(n)[1])
                                if self.kind != "lxd" else ""))
                continue
            missing, commands, shape = self.node_commands(n)
            if self.kind == "lxd":
                idea = _("Each node is an LXD container; name its network namespace by linking "
                         "/proc/<PID of its init>/ns/net into /var/run/netns (lxc info shows the PID).")
            else:
                idea = _("Each node is a network namespace with a name.")
            out.append(item("nodes", n, False, missing=missing, hints=(idea, shape, "\n".join(commands))))
        return out

    # --- links -------------------------------------------------------------------------------------------
    def _host_has(self, ifname: str) -> bool:
        return os.path.exists(f"/sys/class/net/{ifname}") if self.kind != "sim" else False

    def _host_veth(self, ifname: str) -> bool:
        """An interface of that name in the host's namespace linked to a peer (a veth made there, not moved yet);
        the host's own eth0 is not one: its iflink is itself."""
        if self.kind == "sim":
            return False
        try:
            with open(f"/sys/class/net/{ifname}/iflink") as a, open(f"/sys/class/net/{ifname}/ifindex") as b:
                return a.read().strip() != b.read().strip()
        except OSError:
            return False

    def create_link_commands(self, link: Link) -> list[str]:
        a, b = link.a, link.b
        na, nb = self.ns(a.node), self.ns(b.node)
        if self.kind == "sim" or self._host_has(a.ifname) or self._host_has(b.ifname) or a.ifname == b.ifname:
            return [commands.veth(a.ifname, na, b.ifname, nb)]  # names the host already uses: make it in place
        return [commands.veth_in_host(a.ifname, b.ifname), commands.link_move(a.ifname, na), commands.link_move(b.ifname, nb)]

    def links(self) -> list[CheckItem]:
        out = []
        for link in self.topo.links:
            a, b = link.a, link.b
            target = str(link)
            if not (self.exists(a.node) and self.exists(b.node)):
                out.append(self.missing_node_item("links", target, a.node if not self.exists(a.node) else b.node))
                continue
            ia, ib = self.iface(a), self.iface(b)
            create = self.create_link_commands(link)
            idea = _("A link is a veth pair: create it, then put one end in each node's namespace "
                     "with the names of the figure.")
            shape = commands.veth_in_host("NAME", "PEER") + "\n" + commands.link_move("NAME", "NETNS")
            if ia is not None and ia.kind == "veth" and ia.peer == f"{b.node}:{b.ifname}":
                out.append(item("links", target, True,
                                right=_("a veth joins {a} and {b}").format(a=a, b=b), command="\n".join(create)))
                continue
            in_host = [e for e, i in ((a, ia), (b, ib)) if i is None and self._host_veth(e.ifname)]
            if in_host and all(i is None or (i.kind == "veth" and not i.peer) for i in (ia, ib)):
                moves = [commands.link_move(e.ifname, self.ns(e.node)) for e in in_host]
                out.append(item("links", target, False,
                                missing=_("the veth is still in the host's namespace: {names} must be moved into "
                                          "the nodes").format(names=", ".join(e.ifname for e in in_host)),
                                hints=(_("Move each end of the veth into its node's namespace."),
                                       commands.link_move("NAME", "NETNS"), "\n".join(moves))))
                continue
            missing, fix, right = self._link_problem(link, ia, ib, create)
            out.append(item("links", target, False, right=right, missing=missing, hints=(idea, shape, "\n".join(fix))))
        return out

    def _link_problem(self, link: Link, ia: InterfaceState | None, ib: InterfaceState | None,
                      create: list[str]) -> tuple[str, list[str], str]:
        a, b = link.a, link.b
        na, nb = self.ns(a.node), self.ns(b.node)
        sa = self.live[a.node]
        want_peer = f"{b.node}:{b.ifname}"
        recreate = [commands.link_del(na, a.ifname)] + create if ia is not None else create
        if ia is not None and ia.kind == "veth" and ia.peer and ia.peer != want_peer:
            return (_("{a} is a veth to {peer}, not to {want} (links swapped?)").format(a=a, peer=ia.peer, want=want_peer),
                    recreate, "")
        if ia is not None and ia.kind != "veth":
            return (_("{a} exists but is a {kind}, not a veth").format(a=a, kind=ia.kind), recreate, "")
        for iface in sa.interfaces:  # a veth between the right nodes, under another name?
            if iface.kind == "veth" and iface.peer and iface.peer.split(":")[0] == b.node and iface.name != a.ifname:
                peer_if = iface.peer.split(":")[1]
                if peer_if == b.ifname or ib is None:
                    fix = [commands.link_rename(na, iface.name, a.ifname)]
                    if peer_if != b.ifname:
                        fix.append(commands.link_rename(nb, peer_if, b.ifname))
                    return (_("there is a veth {a}:{ifname} - {peer}, but the figure names this end {want}: "
                              "{command}").format(a=a.node, ifname=iface.name, peer=iface.peer, want=a.ifname,
                                                  command=fix[0]), fix,
                            _("the veth between {a} and {b} exists").format(a=a.node, b=b.node))
        if ib is not None and ib.kind == "veth" and ib.peer and ib.peer != str(a):
            return (_("{b} is a veth to {peer}, not to {a} (links swapped?)").format(b=b, peer=ib.peer, a=a),
                    [commands.link_del(nb, b.ifname)] + create, "")
        if ia is None and ib is None:
            return _("there is no veth between {a} and {b}").format(a=a, b=b), create, ""
        if ia is None:
            return _("{node} has no interface {ifname}").format(node=a.node, ifname=a.ifname), \
                [commands.link_del(nb, b.ifname)] + create, ""
        return _("{a} is not paired with {b}").format(a=a, b=b), recreate, ""

    # --- addresses ---------------------------------------------------------------------------------------
    def all_live_addresses(self) -> dict[ipaddress.IPv4Address, list[str]]:
        out: dict[ipaddress.IPv4Address, list[str]] = {}
        for n, s in self.live.items():
            if not s.exists:
                continue
            for i in s.interfaces:
                if i.kind == "loopback":
                    continue
                for a in i.addresses:
                    out.setdefault(_iface(a).ip, []).append(f"{n}:{i.name}")
        return out

    @staticmethod
    def _v4(iface: InterfaceState | None) -> list[ipaddress.IPv4Interface]:
        if iface is None:
            return []
        return [_iface(a) for a in iface.addresses if not a.startswith("169.254.")]

    def chosen(self) -> dict[tuple[str, str], ipaddress.IPv4Interface | None]:
        """For the ends of ``choose`` links: the student's address when it is a valid choice, else None."""
        if self._chosen is not None:
            return self._chosen
        out: dict[tuple[str, str], ipaddress.IPv4Interface | None] = {}
        for link in self.topo.links:
            if not link.student_chooses:
                continue
            for end in link.endpoints:
                problem, address = self._choice_problem(link, end)
                out[(end.node, end.ifname)] = None if problem else address
        self._chosen = out
        return out

    def _choice_problem(self, link: Link, end: Endpoint) -> tuple[str, ipaddress.IPv4Interface | None]:
        """(what is wrong or "", the address) for an end whose address the student chooses."""
        iface = self.iface(end)
        if iface is None:
            return _("{node} has no interface {ifname} yet").format(node=end.node, ifname=end.ifname), None
        mine = self._v4(iface)
        if not mine:
            return _("{end} has no address yet").format(end=end), None
        other = link.other(end.node)
        theirs = self._v4(self.iface(other))
        if theirs:  # both ends must share a subnet: pick the pair that does
            pair = next(((m, t) for m in mine for t in theirs if m.network == t.network), None)
            if pair is None:
                return (_("{end} has {mine} and {other} has {theirs}: they are not in one subnet").format(
                    end=end, mine=", ".join(map(str, mine)), other=other, theirs=", ".join(map(str, theirs))),
                    mine[0])
            address = pair[0]
            if pair[0].ip == pair[1].ip:
                return _("both ends have address {ip}; each end needs its own").format(ip=address.ip), address
        else:
            address = mine[0]
        net = address.network
        if net.prefixlen < 31 and address.ip in (net.network_address, net.broadcast_address):
            which = _("the network address") if address.ip == net.network_address else _("the broadcast address")
            return _("{address} is {which} of {net}, not a host address").format(address=address, which=which,
                                                                               net=net), address
        if net.prefixlen == 32:
            return _("{address} has prefix /32, which leaves no room for the other end").format(address=address), address
        users = [u for u in self.all_live_addresses().get(address.ip, []) if u != str(end)]
        if users:
            return _("address {ip} is also used by {users}").format(ip=address.ip, users=", ".join(users)), address
        for other_link in self.topo.links:  # another link's subnet overlapping this one?
            if other_link is link:
                continue
            for e in other_link.endpoints:
                for have in self._v4(self.iface(e)):
                    if have.network.overlaps(net):
                        return (_("subnet {net} overlaps {other} of {end}: give each link its own subnet").format(
                            net=net, other=have.network, end=e), address)
        return "", address

    def _suggest(self, link: Link, end: Endpoint) -> str:
        """An address for ``end``: in the other end's subnet when it has a valid one, else the topology's."""
        theirs = self._v4(self.iface(link.other(end.node)))
        if theirs:
            net = theirs[0].network
            taken = {a.ip for a in theirs}
            for host in net.hosts():
                if host not in taken:
                    return f"{host}/{net.prefixlen}"
        return str(end.address) if end.address else "10.1.1.1/24"

    def address_shape(self) -> str:
        shape = commands.addr_add("NETNS", "ADDRESS/PREFIX", "IFNAME") + "\n" + commands.link_up("NETNS", "IFNAME")
        if self.kind == "lxd":  # the activity: "from a shell in the container, or with ip netns exec"
            shape += "\n# " + _("or from a shell in the container:") + \
                " lxc exec CONTAINER -- ip addr add ADDRESS/PREFIX dev IFNAME"
        return shape

    def addresses(self) -> list[CheckItem]:
        out = []
        for link in self.topo.links:
            for end in link.endpoints:
                if link.student_chooses:
                    out.append(self._chosen_item(link, end))
                elif end.address is not None:
                    out.append(self._fixed_item(end))
        return out

    def _fixed_item(self, end: Endpoint) -> CheckItem:
        ns = self.ns(end.node)
        target = f"{end} {end.address}"
        add = commands.addr_add(ns, end.address, end.ifname)
        idea = _("Give each end of a link the address of the plan, and bring the interface up.")
        shape = self.address_shape()
        if not self.exists(end.node):
            return self.missing_node_item("addresses", target, end.node)
        iface = self.iface(end)
        if iface is None:
            return item("addresses", target, False,
                        missing=_("{node} has no interface {ifname} yet").format(node=end.node, ifname=end.ifname),
                        hints=(_("Create the link first (section links), then address it."), shape, add))
        if str(end.address) not in iface.addresses:
            have = ", ".join(iface.addresses)
            wrong = [a for a in iface.addresses if ipaddress.IPv4Interface(a).ip == end.address.ip
                     or ipaddress.IPv4Interface(a).network == end.address.network]
            fix = [commands.addr_del(ns, a, end.ifname) for a in wrong] + [add]
            if not iface.up:
                fix.append(commands.link_up(ns, end.ifname))
            missing = (_("{end} has address {have}, not {want}").format(end=end, have=have, want=end.address) if have
                       else _("{end} has no address; the plan gives it {want}").format(end=end, want=end.address))
            return item("addresses", target, False, missing=missing, hints=(idea, shape, "\n".join(fix)))
        if not iface.up:
            return item("addresses", target, False, right=_("{end} has address {want}").format(end=end, want=end.address),
                        missing=_("{end} is down").format(end=end),
                        hints=(_("An interface carries traffic only when it is up."), "ip -n NETNS link set IFNAME up",
                               commands.link_up(ns, end.ifname)))
        return item("addresses", target, True, right=_("{end} has address {want} and is up").format(
            end=end, want=end.address), command=add)

    def _chosen_item(self, link: Link, end: Endpoint) -> CheckItem:
        ns = self.ns(end.node)
        target = str(end)
        if not self.exists(end.node):
            return self.missing_node_item("addresses", target, end.node)
        problem, address = self._choice_problem(link, end)
        suggestion = self._suggest(link, end)
        idea = _("The addresses of this link are your choice: both ends in one subnet (like {a} and {b}), "
                 "each address used once in the lab, interfaces up.").format(
            a=link.a.address or "10.1.1.1/24", b=link.b.address or "10.1.1.2/24")
        shape = self.address_shape()
        iface = self.iface(end)
        fix = [commands.addr_add(ns, suggestion, end.ifname)]
        if address is not None and problem:
            fix.insert(0, commands.addr_del(ns, address, end.ifname))
        mine, theirs = self._v4(iface), self._v4(self.iface(link.other(end.node)))
        if mine and theirs and not any(m.network == t.network for m in mine for t in theirs):
            b = link.b  # both addressed, in two subnets: one fix for both items, moving the second end
            nb = self.ns(b.node)
            fix = [commands.addr_del(nb, a, b.ifname) for a in self._v4(self.iface(b))] + \
                [commands.addr_add(nb, self._suggest(link, b), b.ifname)]
        if iface is not None and not iface.up:
            fix.append(commands.link_up(ns, end.ifname))
        if iface is None:
            return item("addresses", target, False, missing=problem,
                        hints=(_("Create the link first (section links), then address it."), shape, "\n".join(fix)))
        if problem:
            return item("addresses", target, False, missing=problem, hints=(idea, shape, "\n".join(fix)))
        if not iface.up:
            return item("addresses", target, False, right=_("{end} has address {have} (your choice)").format(
                end=end, have=address), missing=_("{end} is down").format(end=end),
                hints=(_("An interface carries traffic only when it is up."), "ip -n NETNS link set IFNAME up",
                       commands.link_up(ns, end.ifname)))
        return item("addresses", target, True, right=_("{end} has address {have} (your choice) and is up").format(
            end=end, have=address), command=commands.addr_add(ns, address, end.ifname))

    # --- forwarding --------------------------------------------------------------------------------------
    def forwarding(self) -> list[CheckItem]:
        out = []
        for node in self.topo.nodes:
            s = self.live[node.name]
            want = node.forwarding
            cmd = commands.forwarding(self.ns(node.name), want)
            shape = commands.forwarding("NETNS", "1|0")
            if not s.exists:
                out.append(self.missing_node_item("forwarding", node.name, node.name))
            elif s.forwarding != want:
                if want:
                    missing = _("{node} is a router but does not forward (net.ipv4.ip_forward=0)").format(node=node.name)
                    idea = _("A router forwards packets between its links: the kernel flag net.ipv4.ip_forward, "
                             "one per network namespace, must be 1.")
                else:
                    missing = _("{node} is a host but forwards (net.ipv4.ip_forward=1)").format(node=node.name)
                    idea = _("A host does not forward other nodes' packets: a host that forwards can hide a "
                             "routing mistake. Set its net.ipv4.ip_forward back to 0.")
                out.append(item("forwarding", node.name, False, missing=missing, hints=(idea, shape, cmd)))
            else:
                right = (_("{node} forwards (net.ipv4.ip_forward=1)") if want else
                         _("{node} does not forward (net.ipv4.ip_forward=0), as a host"))
                out.append(item("forwarding", node.name, True, right=right.format(node=node.name), command=cmd))
        return out

    # --- routes ------------------------------------------------------------------------------------------
    def routes(self) -> list[CheckItem]:
        if getattr(self.topo, "routes_check", "outcome") == "exact":
            return self._exact_routes()
        return _RouteGrader(self).items()

    def _exact_routes(self) -> list[CheckItem]:
        out = []
        for node in self.topo.nodes:
            s = self.live[node.name]
            have = {r.dst: r for r in s.routes if r.gateway} if s.exists else {}
            for route in node.routes:
                dst = route.destination
                cmd = commands.route(self.ns(node.name), route)
                target = f"{node.name}: {route}"
                idea = _("This course asks for exactly the routes of the plan.")
                shape = commands.route_text("NETNS", "PREFIX", "GATEWAY")
                got = have.get(dst)
                if not s.exists:
                    out.append(self.missing_node_item("routes", target, node.name))
                elif got is None:
                    out.append(item("routes", target, False, missing=_("{node} has no route to {dst}").format(
                        node=node.name, dst=dst), hints=(idea, shape, cmd)))
                elif got.gateway != str(route.via):
                    out.append(item("routes", target, False,
                                    missing=_("{node} routes {dst} via {have}, not via {want}").format(
                                        node=node.name, dst=dst, have=got.gateway, want=route.via),
                                    hints=(idea, shape.replace(" add ", " replace "),
                                           commands.route(self.ns(node.name), route, "replace"))))
                else:
                    out.append(item("routes", target, True, right=_("{node} has the route {route}").format(
                        node=node.name, route=route), command=cmd))
        return out

    # --- the topology with the student's choices filled in --------------------------------------------------
    def plan(self) -> tuple[Topology, set[tuple[str, str]], dict[str, list[tuple[str, str]]],
                            dict[tuple[str, str], bool]]:
        """(resolved topology, ends with no valid chosen address, targets, expected) computed once per check:
        what the figure asks for, with the student's choices filled in."""
        if self._plan is None:
            topo, unknown = self.resolved()
            targets = _targets(topo)
            self._plan = (topo, unknown, targets, Forwarder(topo).expected_matrix(targets))
        return self._plan

    def resolved(self) -> tuple[Topology, set[tuple[str, str]]]:
        """The topology with each ``choose`` end's valid live address (or a stand-in where there is none
        yet: those ends, returned too, cannot be probed)."""
        chosen = self.chosen()
        if not chosen:
            return self.topo, set()
        unknown: set[tuple[str, str]] = set()
        links = []
        spare = iter(ipaddress.IPv4Network("198.18.0.0/15").subnets(new_prefix=30))
        for link in self.topo.links:
            if not link.student_chooses:
                links.append(link)
                continue
            a, b = chosen.get((link.a.node, link.a.ifname)), chosen.get((link.b.node, link.b.ifname))
            if a is not None and b is None:  # one end chosen: the other stands in its subnet until it is
                b = _iface(self._suggest(link, link.b))
                unknown.add((link.b.node, link.b.ifname))
            elif b is not None and a is None:
                a = _iface(self._suggest(link, link.a))
                unknown.add((link.a.node, link.a.ifname))
            elif a is None or b is None or a.network != b.network:
                hosts = list(next(spare).hosts())
                unknown.update({(link.a.node, link.a.ifname), (link.b.node, link.b.ifname)})
                a, b = _iface(f"{hosts[0]}/30"), _iface(f"{hosts[1]}/30")
            links.append(dataclasses.replace(link, a=dataclasses.replace(link.a, address=a),
                                             b=dataclasses.replace(link.b, address=b), choose=True))
        return dataclasses.replace(self.topo, links=tuple(links)), unknown

    # --- reachability ------------------------------------------------------------------------------------
    def reachability(self, matrix: Any = None, timeout: float = 1.0) -> list[CheckItem]:
        topo, unknown, targets_all, expected = self.plan()
        unknown_ips = {str(e.address.ip) for l in topo.links for e in l.endpoints if (e.node, e.ifname) in unknown}
        present = [n for n in topo.node_names if self.exists(n)]
        if matrix is None and present:
            targets = {n: [t for t in targets_all[n] if t[1] not in unknown_ips] for n in present}
            matrix = _probe(topo, self.backend, present, targets, expected, timeout)
        out = []
        idea = _("Follow the packet hop by hop, there and back: explain says where it stops and why.")
        shape = "lab.explain(SOURCE, DESTINATION)   # nslab explain SOURCE DESTINATION --lab LAB"
        explain_args = f" --lab {topo.name}"
        spec = topology_spec(self.topo)
        if spec:  # a lab built by hand has no record: name the topology too
            explain_args += f" --topology {spec}"
        pairs = {(p.source, p.destination): p for p in matrix.pairs} if matrix is not None else {}
        by_node: dict[str, dict[str, list[tuple[str, str]]]] = {}
        for src, targets in targets_all.items():
            for node, addr in targets:
                by_node.setdefault(src, {}).setdefault(node, []).append((node, addr))
            by_node.setdefault(src, {})
        for src in topo.node_names:
            if src not in present:
                continue
            for dst in topo.node_names:
                if dst == src:
                    continue
                wanted = by_node[src].get(dst, [])
                if not wanted or not all(expected.get((src, addr)) for _n, addr in wanted):
                    continue  # the topology does not ask for it
                target = f"{src} -> {dst}"
                explain = f"lab.explain({src!r}, {dst!r})\n{commands.nslab_explain(src, dst)}{explain_args}"
                waiting = [addr for _n, addr in wanted if addr in unknown_ips]
                if waiting:
                    out.append(item("reachability", target, False,
                                    missing=_("{dst} cannot be reached yet: the addresses chosen on its link "
                                              "are missing or not valid (see addresses)").format(dst=dst),
                                    hints=(_("Address both ends of the link first (section addresses)."), "", "")))
                    continue
                pair = pairs.get((src, dst))
                if pair is None:
                    continue
                ok = all(p.ok for p in pair.probes)
                lost = [p.address for p in pair.probes if not p.ok]
                answered = [p.address for p in pair.probes if p.ok]
                if ok:
                    out.append(item("reachability", target, True, right=_("{src} reaches {addresses} of {dst}").format(
                        src=src, addresses=", ".join(p.address for p in pair.probes), dst=dst), command=explain))
                else:
                    error = probe_error(next((p.error for p in pair.probes if not p.ok and p.error), ""))
                    missing = _("{src} gets no answer from {addresses} of {dst}").format(
                        src=src, addresses=", ".join(lost), dst=dst) + (f" ({error})" if error else "")
                    right = _("{src} reaches {addresses}").format(src=src, addresses=", ".join(answered)) if answered else ""
                    out.append(item("reachability", target, False, right=right, missing=missing,
                                    hints=(idea, shape, explain)))
        for src in topo.node_names:
            if src not in present:
                out.append(self.missing_node_item("reachability", f"{src} -> *", src))
        return out


PROBE_ERRORS = (N_("no reply"), N_("no reply (simulated)"), N_("no route"), N_("send buffer full"),
                N_("network unreachable"), N_("host unreachable"), N_("port unreachable"), N_("network prohibited"),
                N_("host prohibited"), N_("administratively prohibited"),
                N_("time exceeded (a routing loop, or more routers than the TTL)"))


def probe_error(text: str) -> str:
    """A probe's error in the current language ("" where it has no translation: no English in a Spanish
    notebook)."""
    if not text:
        return ""
    why, sep, by = text.partition(", reported by ")
    translated = _(why)
    if translated == why and why not in PROBE_ERRORS:
        return "" if resolve(None) != "en" else text
    return _("{why}, reported by {router}").format(why=translated, router=by) if sep else translated


def topology_spec(topo: Topology) -> str:
    """How the command line names this topology again: a bundled name, a file path, or "" (a record's)."""
    source = topo.source
    if source.endswith(" (bundled)"):
        return source[: -len(" (bundled)")]
    if source.endswith((".yaml", ".yml")) and os.path.isfile(source):
        return source
    return ""


def resolve_choices(topo: Topology, state: LabState) -> Topology:
    """``topo`` with the student's valid addresses on its ``choose`` links (explain walks those)."""
    return _Grader(topo, state, None, resolve(None)).resolved()[0]


def _targets(topo: Topology) -> dict[str, list[tuple[str, str]]]:
    everyone = [(n, str(a.ip)) for n in topo.node_names for a in topo.addresses_of(n)]
    return {s: [t for t in everyone if t[0] != s] for s in topo.node_names}


def _probe(topo: Topology, backend: Any, sources: list[str], targets: Mapping[str, list[tuple[str, str]]],
           expected: Mapping[tuple[str, str], bool], timeout: float) -> Any:
    """Ping from ``sources`` to their targets, the real probe of the backend (simulated on sim)."""
    return as_backend(backend).probe(topo, dict(targets), timeout, expected, nodes=sources)


# --------------------------------------------------------------------------------------------------------
# Routes graded by what they achieve
# --------------------------------------------------------------------------------------------------------

def live_parts(topo: Topology, state: LabState, forwards: Mapping[str, bool]) -> Parts:
    """The live state as the forwarding model reads it (every address of every interface)."""
    ends = []
    routes: dict[str, tuple[Route, ...]] = {}
    for node in topo.node_names:
        s = state.nodes.get(node)
        if s is None or not s.exists:
            routes[node] = ()
            continue
        for i in s.interfaces:
            if i.kind == "loopback":
                continue
            peer = tuple(i.peer.split(":", 1)) if i.peer else None
            v4 = [_iface(a) for a in i.addresses]
            for a in v4 or [None]:
                ends.append((node, i.name, a, i.up, peer))
        mine = []
        for r in s.routes:
            if not r.gateway:
                continue
            try:
                mine.append(Route(_net(r.dst), _addr(r.gateway), r.dev))
            except ValueError:
                continue
        routes[node] = tuple(mine)
    return Parts(tuple(topo.node_names), tuple(ends), routes, dict(forwards))


class _RouteGrader:
    """Walk every packet the figure asks for (there and back) over the live routes.

    Forwarding flags are taken from the figure (routers forward, hosts do not): the sysctls are graded
    in their own section, so a route is judged by where it sends packets, not by a flag elsewhere.
    A fault is laid at the node whose route decides it: no route, a gateway nobody on the link has,
    a host used as a router, or a loop (every node on it).
    """

    def __init__(self, g: _Grader):
        self.g = g
        self.topo, self.unknown, self.targets, self.expected = g.plan()
        self.kind = {n.name: n.forwarding for n in self.topo.nodes}
        self.fw = Forwarder(parts=live_parts(self.topo, g.state, self.kind))
        self.faults: dict[str, dict[tuple[str, str], set[str]]] = {n: {} for n in self.topo.node_names}
        self.walked: set[tuple[str, int]] = set()
        self.judged: set[str] = set()  # nodes whose routes some packet of the figure was looked up in

    def needs_routes(self, node: str) -> bool:
        """A node needs routes when the figure asks it to reach an address outside its own subnets."""
        connected = [e.address.network for e in self.topo.endpoints_of(node) if e.address is not None]
        for n in self.topo.node_names:
            if n == node:
                continue
            for a in self.topo.addresses_of(n):
                if not any(a.ip in net for net in connected):
                    return True
        return False

    def _fault(self, node: str, reason: str, dst: int, detail: str = "") -> None:
        self.faults[node].setdefault((reason, detail), set()).add(str(ipaddress.IPv4Address(dst)))

    def walk(self, src: str, dst: int) -> None:
        """Follow a packet from ``src`` to ``dst``; note the first fault of a route on the way."""
        path = [src]
        try:
            self._walk(path, dst)
        finally:
            self.walked.update((n, dst) for n in path)  # forwarding depends on the destination only: once is enough

    def _walk(self, path: list[str], dst: int) -> None:
        fw = self.fw
        node = path[0]
        for _hop in range(MAX_HOPS):
            if fw.owner.get(dst) == node or (node, dst) in self.walked:
                return
            self.judged.add(node)
            hop = fw.lookup_int(node, dst)
            if hop is None:
                here = ipaddress.IPv4Address(dst)
                if not any(here in e.address.network for e in self.topo.endpoints_of(node) if e.address is not None):
                    self._fault(node, "no_route", dst)  # (on a subnet of its own, the address is missing instead)
                return
            ifname, nh = hop
            peer = fw.peer.get((node, ifname))
            if peer is None:
                return  # no carrier: the link or its other end is down (links/addresses sections)
            if fw.owner.get(nh) != peer:
                if nh == dst:
                    return  # delivered on a connected subnet to the wrong neighbour: a link is miscabled (links)
                planned = self.topo.owner_of(ipaddress.IPv4Address(nh))
                if planned is not None and planned.node == peer:
                    return  # the neighbour lacks the address the plan gives it (addresses section)
                self._fault(node, "gateway_absent", dst, f"{ipaddress.IPv4Address(nh)} dev {ifname}")
                return
            if fw.owner.get(dst) == peer:
                return
            if not self.kind.get(peer, False):
                self._fault(node, "via_host", dst, peer)
                return
            if peer in path:
                cycle = path[path.index(peer):] + [peer]
                for n in dict.fromkeys(cycle):
                    self._fault(n, "loop", dst, " -> ".join(cycle))
                return
            path.append(peer)
            node = peer
        self._fault(node, "loop", dst, " -> ".join(path[-6:]))

    def items(self) -> list[CheckItem]:
        g = self.g
        expected = self.expected
        unknown_ips = {int(e.address.ip) for l in self.topo.links for e in l.endpoints
                       if (e.node, e.ifname) in self.unknown}
        for (src, addr), want in expected.items():
            if not want or not g.exists(src):
                continue
            dst = int(_addr(addr))
            if dst in unknown_ips or self.fw.owner.get(dst) is None:
                continue  # the address itself is missing (addresses section)
            self.walk(src, dst)
            src_ip = self.fw.source_int(src, dst)
            owner = self.fw.owner.get(dst)
            if src_ip is not None and owner is not None and owner != src:
                self.walk(owner, src_ip)  # the reply
        out = []
        for node in self.topo.node_names:
            if not self.needs_routes(node):
                continue
            if not g.exists(node):
                out.append(g.missing_node_item("routes", node, node))
                continue
            out.append(self._item(node))
        return out

    def _plan_route(self, node: str, dst: str) -> Route | None:
        return self.topo.route_for(node, dst)

    def _who(self, addresses: Iterable[str]) -> str:
        """Destinations by the subnet of the plan they are on: "10.0.4.0/24 (h4, r3)"."""
        groups: dict[str, list[str]] = {}
        for a in sorted(addresses, key=lambda x: ipaddress.IPv4Address(x)):
            owner = self.topo.owner_of(ipaddress.IPv4Address(a))
            if owner is None or owner.address is None:
                groups.setdefault(a, [])
                continue
            groups.setdefault(str(owner.address.network), []).append(owner.node)
        return ", ".join(f"{net} ({', '.join(dict.fromkeys(nodes))})" if nodes else net for net, nodes in groups.items())

    def _unaddressed(self, node: str) -> list[str]:
        """This node's ends of the plan with no address or down: a route through them cannot be added."""
        out = []
        for end in self.topo.endpoints_of(node):
            iface = self.g.iface(end)
            if iface is None or not iface.up or not self.g._v4(iface):
                out.append(str(end))
        return out

    def _item(self, node: str) -> CheckItem:
        g = self.g
        ns = g.ns(node)
        plan = self.topo.node(node).routes
        solution = "; ".join(str(r) for r in plan)
        idea = (_("A router needs a route to every network it is not connected to; a host, a default route "
                  "via its router. Any routes that take every packet there and back are right."))
        shape = (commands.route_text("NETNS", "PREFIX", "GATEWAY") + "\n"
                 + commands.route_text("NETNS", "default", "GATEWAY"))
        faults = self.faults[node]
        if not faults and node not in self.judged:
            return item("routes", node, False,
                        missing=_("the routes of {node} cannot be graded yet: no packet the figure asks for gets as "
                                  "far as {node} (addresses or links are missing)").format(node=node),
                        hints=(_("Routes come after addresses: give every interface its address and bring it up "
                                 "first (section addresses)."), shape, "\n".join(commands.route(ns, r) for r in plan)),
                        solution=solution)
        if not faults:
            live = [str(r) for r in g.live[node].routes if r.gateway]
            return item("routes", node, True,
                        right=_("the routes of {node} take every packet the figure asks for to its destination "
                                "and back").format(node=node) + (f" ({'; '.join(live)})" if live else ""),
                        command="\n".join(commands.route(ns, r) for r in plan), solution=solution)
        problems: list[str] = []
        fix: list[str] = []
        live = {r.dst: r for r in g.live[node].routes if r.gateway}
        for (reason, detail), dsts in sorted(faults.items()):
            plan_routes = {self._plan_route(node, d) for d in dsts} - {None}
            for r in sorted(plan_routes, key=str):
                have = live.get(r.destination)
                fix.append(commands.route(ns, r, "add" if have is None else "replace"))
            who = self._who(dsts)
            if reason == "no_route":
                text = _("{node} has no route to {who}").format(node=node, who=who)
                waiting = self._unaddressed(node)
                if waiting:
                    text += " " + _("(first address and bring up {ends}: a route needs its gateway on a connected "
                                    "subnet)").format(ends=", ".join(waiting))
                problems.append(text)
            elif reason == "gateway_absent":
                problems.append(_("{node} sends packets for {who} via {detail}, but nobody on that link has that "
                                  "address").format(node=node, who=who, detail=detail))
            elif reason == "via_host":
                problems.append(_("{node} sends packets for {who} through {host}, a host: a host is not a "
                                  "router").format(node=node, who=who, host=detail))
            else:
                problems.append(_("packets for {who} go round in a loop: {cycle}").format(who=who, cycle=detail))
        exact = "\n".join(dict.fromkeys(fix))
        return item("routes", node, False, missing="; ".join(problems), hints=(idea, shape, exact),
                    solution=solution)


# --------------------------------------------------------------------------------------------------------
# Which backend a lab built by hand is on
# --------------------------------------------------------------------------------------------------------

def guess_backend(topo: Topology) -> str:
    """'lxd' when the topology's netns names are symlinks into /proc (the activity's ``ln -sf``) or a
    container of the topology's runs; 'netns' otherwise."""
    for n in topo.node_names:
        path = nsfs.netns_path(topo.netns_name(n))
        if os.path.islink(path) and os.readlink(path).startswith("/proc/"):
            return "lxd"
    try:
        running = init_pids()
    except Exception:  # noqa: BLE001
        return "netns"
    return "lxd" if any(topo.container_name(n) in running for n in topo.node_names) else "netns"


__all__ = ["CheckItem", "CheckReport", "HintLadder", "LADDER", "SECTIONS", "as_backend", "check", "item",
           "guess_backend", "live_parts", "resolve_choices", "section_name"]
