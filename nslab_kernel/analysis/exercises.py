"""The student track: each step of the activity as an exercise the student does by hand.

A student notebook opens one :class:`Exercise` (``start("two-containers")``) and,
after each cell where the student typed commands (``!lxc launch ...``,
``!ln -sf ...``, ``!ip link add ...``), calls ``ex.check("2.launch")``: it reads
the live kernel and LXD state (never the student's commands) and says what is
right, what is missing and a hint.  Hints escalate when the same item fails
again: the idea, then the shape of the command, then the exact command.
``ex.solve(step)`` applies a step for a stuck student and shows its commands;
``ex.grade(section, points)`` gives nbgrader its points.  Nothing here raises
into a notebook: every problem becomes a message in the notebook's language.

Names (containers, namespaces, interfaces, addresses) come from the topology
file; ``lab`` (or ``$NSLAB_LAB``) prefixes them, so several students, or tests,
can share one machine.
"""

from __future__ import annotations

import atexit
import html
import ipaddress
import os
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from typing import Any, Callable

from pyroute2 import IPRoute

from ..backends import auto, rootless
from ..backends.images import DEFAULT_IMAGE, ensure_image
from ..backends.lxd import connect, init_pids
from ..backends.registry import get_backend
from ..core import commands as cmds  # (a local 'commands' lists a solution's steps)
from ..core.errors import NslabError
from ..core.i18n import N_, _, language, set_language
from ..core.state import NodeHandle
from ..kernel import fanout, netconf, nsfs, sandbox
from ..kernel.pty import BASHRC, SHELL_ENV, OpenShell, PtyShell, ShellCommand, container_shell, netns_shell
from ..kernel.netstate import read_lab_state
from ..kernel.probe import ping_matrix
from ..kernel.procs import processes, ps_faxu
from ..model.schema import load as load_topology
from ..model.topology import Topology
from . import checker
from .checker import CheckItem, CheckReport, HintLadder, item
from .explain import explain as explain_path



def tr(msgid: str, lang: str) -> str:
    """``msgid`` (English) in ``lang``, from the catalogue (domain nslab_notebooks for these messages)."""
    return _(msgid, lang)


# --- one checked item --------------------------------------------------------------------------

Item = CheckItem  # the checker's per-item machinery: right, missing, hints (idea, shape, exact)


@dataclass
class StepResult:
    """What a check cell shows: the items of one step, each failing one with its hint level."""

    step: str
    title: str
    items: list[Item]
    lang: str
    levels: dict[tuple[str, str], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    solve_hint: str = ""
    error: str = ""
    whole_section: bool = False  # a grade's summary: every step of a section

    @property
    def passed(self) -> bool:
        return not self.error and all(i.ok for i in self.items)

    def counts(self) -> tuple[int, int]:
        return sum(i.ok for i in self.items), len(self.items)

    def _t(self, msgid: str) -> str:
        return tr(msgid, self.lang)

    def parts(self) -> list[tuple[bool, str, str, str, str, int]]:
        """(ok, target, text, hint label, hint, level) per item, hint at its level (level 1: the idea in words;
        2 and 3: commands, one per line)."""
        out = []
        for i in self.items:
            if i.ok:
                out.append((True, i.target, i.right, "", "", 0))
                continue
            level = max(1, min(3, self.levels.get(i.key, 1)))
            while level > 1 and not i.hints[level - 1]:
                level -= 1  # the nearest level below that has a hint
            hint = i.hints[level - 1]
            label = {1: self._t("Hint"), 2: self._t("Hint (the shape of the command)"),
                     3: self._t("Hint (the exact command)")}[level]
            out.append((False, i.target, i.missing + (f" — {i.right}" if i.right else ""),
                        label if hint else "", hint, level))
        return out

    def lines(self) -> list[tuple[bool, str, str, str]]:
        """(ok, target, text, hint) per item, hint at its level."""
        return [(ok, target, text, f"{label}: {hint}" if hint else "")
                for ok, target, text, label, hint, _level in self.parts()]

    def headline(self) -> str:
        if self.error:
            return self._t("The check could not run") + ": " + self.error
        ok, total = self.counts()
        if not total:
            return self._t("Nothing to check in this step here.")
        if self.passed:
            return (self._t("Done: everything this section asks for is right.") if self.whole_section else
                    self._t("Done: everything this step asks for is right.")) + f" ({ok}/{total})"
        return self._t("Not yet") + f": {ok}/{total} " + self._t("right") + "."

    def grouped(self) -> list[tuple[bool, str, str, str, str, int]]:
        """:meth:`parts`, with the items that are right and have nothing to say joined into one line."""
        parts = self.parts()
        quiet = [p[1] for p in parts if p[0] and not p[2]]
        out = [p for p in parts if not (p[0] and not p[2])]
        if quiet:
            out.insert(0, (True, ", ".join(quiet), "", "", "", 0))
        return out

    def __str__(self) -> str:
        out = [f"{self.title}: {self.headline()}"]
        for ok, target, text, label, hint, level in self.grouped():
            out.append(f"  {'✔' if ok else '✘'} {target}" + (f": {text}" if text else ""))
            if hint and level == 1:
                out.append(f"      {label}: {hint}")
            elif hint:
                out.append(f"      {label}:")
                out += [f"        {line}" for line in hint.splitlines()]
        out += [f"  · {n}" for n in self.notes]
        if not self.passed and self.solve_hint:
            out.append("  " + self.solve_hint)
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#9a6700" if not self.error else "#cf222e"
        rows = []
        for ok, target, text, label, hint, level in self.grouped():
            mark = "<span style='color:#1a7f37'>✔</span>" if ok else "<span style='color:#cf222e'>✘</span>"
            if hint and level == 1:
                extra = f"<div style='margin-left:1.5em;color:#57606a'>{html.escape(label)}: {_code(hint)}</div>"
            elif hint:  # commands: code, one per line, never wrapped mid-command
                extra = (f"<div style='margin-left:1.5em;color:#57606a'>{html.escape(label)}:</div>"
                         f"{_pre(hint, '1.5em')}")
            else:
                extra = ""
            body = f": {_code(text)}" if text else ""
            rows.append(f"<li style='list-style:none'>{mark} <b>{html.escape(target)}</b>{body}{extra}</li>")
        notes = "".join(f"<li style='list-style:none;color:#57606a'>· {_code(n)}</li>" for n in self.notes)
        solve = (f"<div style='color:#57606a'>{_code(self.solve_hint)}</div>"
                 if not self.passed and self.solve_hint else "")
        return (f"<div class='nslab-exercise'><div style='color:{colour}'><b>{html.escape(self.title)}</b> · "
                f"{html.escape(self.headline())}</div><ul style='padding-left:0.5em;margin:0.3em 0'>"
                f"{''.join(rows)}{notes}</ul>{solve}</div>")


def _pre(text: str, indent: str = "0") -> str:
    """Commands (or ps output) as code, one per line, scrolled sideways rather than wrapped mid-word."""
    return (f"<pre style='margin:0.2em 0 0.2em {indent};white-space:pre;overflow-x:auto;word-break:normal;"
            f"overflow-wrap:normal'>{html.escape(text)}</pre>")


def _code(text: str) -> str:
    """Escape, and show `...` spans as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


@dataclass
class Solution:
    """What ``solve`` did: the commands, each changed or already so."""

    title: str
    commands: list[tuple[str, bool]]
    lang: str
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def __str__(self) -> str:
        already = tr("already so", self.lang)
        out = [self.title + ":" + ((" " + self.error) if self.error else "")]
        out += [f"  {'+' if changed else '='} {cmd}" + ("" if changed else f"   ({already})")
                for cmd, changed in self.commands]
        out += [f"  · {n}" for n in self.notes]
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        already = html.escape(tr("already so", self.lang))
        rows = "".join(f"<div><code>{html.escape(c)}</code>{'' if ch else f' <i>({already})</i>'}</div>"
                       for c, ch in self.commands)
        notes = "".join(f"<div style='color:#57606a'>· {_code(n)}</div>" for n in self.notes)
        err = f"<div style='color:#cf222e'>{html.escape(self.error)}</div>" if self.error else ""
        return f"<div class='nslab-solution'><b>{html.escape(self.title)}</b>{err}{rows}{notes}</div>"


# --- names of one exercise topology ------------------------------------------------------------

def exercise_topology(spec: str | Topology, lab: str | None = None) -> Topology:
    """The topology with its names prefixed by ``lab`` (a unique lab per student or test)."""
    topo = spec if isinstance(spec, Topology) else load_topology(spec)
    if not lab:
        return topo
    netns = topo.netns_naming if "{lab}" in topo.netns_naming else "{lab}-" + topo.netns_naming
    container = topo.container_naming if "{lab}" in topo.container_naming else "{lab}-" + topo.container_naming
    return replace(topo.renamed(lab), netns_naming=netns, container_naming=container)


@dataclass(frozen=True)
class LinkPlan:
    """One link of the figure, in the words a command needs."""

    a_node: str
    a_if: str
    a_ns: str
    a_addr: str | None
    b_node: str
    b_if: str
    b_ns: str
    b_addr: str | None


class Exercise:
    """The live exercises of one notebook (one topology, one backend, one language)."""

    def __init__(self, topology: str | Topology, backend: str = "auto", lab: str | None = None,
                 image: str | None = None, lang: str = "es", points: dict[str, float] | None = None):
        self.lang = lang
        self.topology = exercise_topology(topology, lab or os.environ.get("NSLAB_LAB") or None)
        self.backend, self.why = _choose(backend)
        self.lxd = self.backend == "lxd"
        self.image = image or DEFAULT_IMAGE
        self._ladder = HintLadder()  # the checker's: idea, shape of the command, exact command
        self._last: dict[str, StepResult] = {}
        self.steps: dict[str, tuple[str, Callable[[], list[Item]], Callable[[], Solution] | None, str]] = {}
        self._register()

    # --- facts -----------------------------------------------------------------------------------
    def _t(self, msgid: str) -> str:
        return tr(msgid, self.lang)

    @property
    def nodes(self) -> list[str]:
        return list(self.topology.node_names)

    def netns(self, node: str) -> str:
        return self.topology.netns_name(node)

    def _handle(self, node: str) -> NodeHandle:
        """Where the node's namespace is, by the name the activity gives it (whoever made it)."""
        return NodeHandle(node, self.netns(node), nsfs.netns_path(self.netns(node)))

    def container(self, node: str) -> str:
        return self.topology.container_name(node)

    @property
    def routers(self) -> list[str]:
        return [n.name for n in self.topology.nodes if n.forwarding]

    @property
    def links(self) -> list[LinkPlan]:
        return [LinkPlan(l.a.node, l.a.ifname, self.netns(l.a.node), str(l.a.address) if l.a.address else None,
                         l.b.node, l.b.ifname, self.netns(l.b.node), str(l.b.address) if l.b.address else None)
                for l in self.topology.links]

    def routes(self, node: str) -> list[tuple[str, str]]:
        """(destination, gateway) of the figure's routes of ``node``: one solution that works."""
        return [("default" if r.is_default else str(r.dst), str(r.via)) for r in self.topology.node(node).routes]

    def names(self) -> dict[str, str]:
        """Node -> the name its container (LXD) or namespace has in this notebook."""
        return {n: (self.container(n) if self.lxd else self.netns(n)) for n in self.nodes}

    def plan(self) -> "_Table":
        """The addressing plan of the topology: each link's ends, interfaces and addresses, with the names
        of this notebook."""
        head = [self._t("link"), self._t("node"), self._t("interface"), self._t("address"),
                self._t("network namespace")]
        rows = []
        for k, l in enumerate(self.links, 1):
            for node, ifname, ns, addr in ((l.a_node, l.a_if, l.a_ns, l.a_addr), (l.b_node, l.b_if, l.b_ns, l.b_addr)):
                kind = self._t("router") if node in self.routers else self._t("host")
                rows.append([str(k), f"{node} ({kind})", ifname, addr or self._t("your choice"), ns])
        return _Table(head, rows)

    def _repr_html_(self) -> str:
        why = self._t(self.why)
        if self.lxd:
            mode = why + " " + self._t("Name each container's network namespace with a symlink in /var/run/netns.")
            head = [self._t("node"), self._t("container"), self._t("network namespace")]
            rows = [[n, self.container(n), self.netns(n)] for n in self.nodes]
        else:
            mode = why + " " + self._t("Where the activity launches a container, create a named network namespace "
                                       "instead: `ip netns add NAME`.")
            head = [self._t("node"), self._t("network namespace")]
            rows = [[n, self.netns(n)] for n in self.nodes]
        head_html = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join("<tr><td>" + html.escape(r[0]) + "</td>" + "".join(f"<td><code>{html.escape(c)}</code></td>"
                                                                            for c in r[1:]) + "</tr>" for r in rows)
        return f"<div class='nslab-exercise'><div>{_code(mode)}</div><table><tr>{head_html}</tr>{body}</table></div>"

    def __str__(self) -> str:
        mode = "LXD" if self.lxd else "netns"
        return f"{self.topology.name} ({mode}): " + ", ".join(
            f"{n} = {self.container(n) if self.lxd else self.netns(n)}" for n in self.nodes)

    __repr__ = __str__

    # --- the cells -------------------------------------------------------------------------------
    def check(self, step: str) -> StepResult:
        """Read the live state for one step; say what is right, what is missing and a hint."""
        return self._check(step, advance=True)

    def _check(self, step: str, advance: bool) -> StepResult:
        """One step's result; ``advance``: a failure climbs the hint ladder (a check cell), else the hints
        stay where the student's own checks left them (grading)."""
        title = step
        try:
            section, items_fn, _solve, title = self._step(step)
            items = items_fn()
        except _Unknown as exc:
            return StepResult(step, step, [], self.lang, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a student never sees a traceback
            return StepResult(step, title, [], self.lang, error=self._problem(exc))
        if advance:
            report = self._ladder.apply(CheckReport(self.topology.name, list(items), self.lang, hint_level=1))
            result = StepResult(step, title, report.items, self.lang, report.levels)
        else:
            result = StepResult(step, title, list(items), self.lang,
                                {i.key: self._ladder.level(self.topology.name, i) for i in items if not i.ok})
        if step == "2.pid" and not self.lxd:
            result.notes.append(self._t("without LXD there is no container init: nothing to find here, and this "
                                        "step does not count"))
        if not result.passed and self.steps[step][2] is not None:
            result.solve_hint = self._t("Stuck? `ex.solve(\"{step}\")` does this step for you and shows its "
                                        "commands.").format(step=step)
        if step.endswith("ping") and not result.passed and len(self.nodes) > 2:
            bad = next((i for i in items if not i.ok and " -> " in i.target), None)
            if bad is not None:
                src, dst = bad.target.split(" -> ")
                result.notes.append(self._t("Why does a ping fail? `ex.explain(\"{src}\", \"{dst}\")` follows the "
                                            "packet hop by hop.").format(src=src, dst=dst))
        if advance:
            self._last[step] = result
        return result

    def solve(self, step: str) -> Solution:
        """Do one step for the student (only what is missing) and show the commands."""
        title = step
        try:
            _section, _items, solve_fn, title = self._step(step)
            if solve_fn is None:
                return Solution(title, [], self.lang, [self._t("Nothing to do here: this step only looks.")])
            solution = solve_fn()
            changed = any(ch for _c, ch in solution.commands)
            if solution.error:
                solution.title = title  # nothing was solved: the error says what comes first
            else:
                solution.title = (self._t("Solved for you") if changed or not solution.commands
                                  else self._t("Already done: nslab changed nothing")) + f": {title}"
            return solution
        except _Unknown as exc:
            return Solution(step, [], self.lang, error=str(exc))
        except Exception as exc:  # noqa: BLE001
            return Solution(title, [], self.lang, error=self._problem(exc))

    def grade(self, section: str, points: float) -> float:
        """nbgrader's points for a section: ``points`` times the share of its items that are right.

        Shows what is missing; returns the number (an autograded cell's output is its score)."""
        from IPython.display import display
        results = []
        for step, (sec, _items, _solve, _title) in self.steps.items():
            if sec == section:
                results.append(self._check(step, advance=False))
        items: dict[tuple[str, str], Item] = {}  # one item checked by two steps counts once
        for r in results:
            for i in r.items:
                items.setdefault(i.key, i)
        levels = {k: v for r in results for k, v in r.levels.items()}
        ok = sum(i.ok for i in items.values())
        total = len(items)
        if any(r.error for r in results):
            total = max(total, 1)
        score = round(points * ok / total, 2) if total else 0.0
        summary = StepResult(f"grade-{section}", self._t("Section {section}: {score} of {points} points").format(
            section=section, score=_num(score), points=_num(points)), list(items.values()), self.lang, levels,
            whole_section=True)
        summary.notes += [f"{r.step} ({r.title}): {r.error}" for r in results if r.error]
        summary.notes += [f"{r.step} ({r.title}): {n}" for r in results if not r.items for n in r.notes]
        try:
            display(summary)
        except Exception:  # noqa: BLE001 - outside IPython
            print(summary)
        return score

    def explain(self, source: str, destination: str) -> Any:
        """Why ``source`` can or cannot reach ``destination``, hop by hop (the kernel's own lookups)."""
        try:
            backend = get_backend("netns")
            view = backend.kernel_view(self.topology, backend.read_state(self.topology))
            return explain_path(self.topology, view, source, destination, self.lang)
        except Exception as exc:  # noqa: BLE001
            return _Message(self._problem(exc))

    def terminal(self, node: str | None = None, height: str = "360px") -> Any:
        """An interactive shell in the notebook (xterm.js), inside ``node`` as the student made it: its
        network namespace, or its LXD container.  Without ``node``: a shell in the student's host (as
        root, the machine's; as a normal user, their sandbox, whose network namespace is their host).

        A node that does not exist yet gets one line saying what to create first, never a traceback.
        The shell ends on Ctrl-D / ``exit``, with its Close button, with ``ex.teardown()`` and with the
        kernel.  The view comes from the UI package through the ``nslab.views`` entry point (as
        ``Lab.terminal`` finds it): this layer imports no UI."""
        try:
            factory = _terminal_view()
            command = self._shell_command(node)
            if factory is None:  # no UI installed: say what to type in a terminal
                return _Message(self._t("Open a terminal in JupyterLab (File > New > Terminal) and run: `{command}`")
                                .format(command=command.shown))
            with language(self.lang):  # the view's labels in the notebook's language
                return factory(ExerciseShell.open(self, node, command), height=height)
        except _NotThere as exc:
            return _Message(str(exc))
        except Exception as exc:  # noqa: BLE001 - a student never sees a traceback
            return _Message(self._problem(exc))

    def _shell_command(self, node: str | None) -> ShellCommand:
        """How to enter ``node`` as it is now (None: the student's host), or _NotThere saying what to do."""
        if node is None:
            return host_shell(self._t("your host"))
        if node not in self.nodes:
            raise _NotThere(self._t("There is no node '{node}' here; the nodes are: {nodes}").format(
                node=node, nodes=", ".join(self.nodes)))
        if self.lxd:
            name = self.container(node)
            pid = self._init_pid(node)
            if pid is None:
                status = self._container_status(name)
                if status is None:
                    raise _NotThere(self._t("{node} does not exist yet: launch its container first (`{command}`), "
                                            "then run this cell again.").format(
                        node=node, command=cmds.lxc_launch(self.image, name)))
                raise _NotThere(self._t("Container {container} is not running ({status}): start it first "
                                        "(`{command}`), then run this cell again.").format(
                    container=name, status=status, command=cmds.lxc_start(name)))
            return container_shell(node, name, pid)
        netns = self.netns(node)
        path = nsfs.netns_path(netns)
        if not os.path.exists(path):
            raise _NotThere(self._t("{node} does not exist yet: create its network namespace first (`{command}`), "
                                    "then run this cell again.").format(node=node, command=cmds.netns_add(netns)))
        return netns_shell(node, netns, path)

    def processes(self, node: str | None = None) -> "_Message":
        """``ps faxu`` cut to what matters: the host's first processes and the container's init with its
        descendants, each with the inode of its network namespace."""
        try:
            node = node or self.nodes[0]
            procs = processes()
            host = nsfs.host_netns_inode()
            pid = self._init_pid(node)
            if pid is None:
                keep = procs[:6]
                note = (self._t("{node} has no processes yet: without LXD its namespace is empty until something "
                                "runs in it (`ip netns exec {netns} ...`).").format(node=node, netns=self.netns(node))
                        if not self.lxd else
                        self._t("There is no running container {container} yet: launch it first.")
                        .format(container=self.container(node)))
            else:
                by_pid = {p.pid: p for p in procs}
                chain, p = [], by_pid.get(pid)
                while p is not None and p.ppid in by_pid:
                    p = by_pid[p.ppid]
                    chain.append(p.pid)
                start = next((i for i, q in enumerate(procs) if q.pid == pid), 0)
                end = start + 1
                while end < len(procs) and procs[end].depth > procs[start].depth:
                    end += 1
                keep = procs[:3] + [q for q in procs if q.pid in chain[:2]] + procs[start:end]
                note = self._t("The container's init is PID {pid}; its network namespace is {inode}, the host's is "
                               "{host}.").format(pid=pid, inode=by_pid[pid].netns, host=host)
            seen, rows = set(), []
            for q in keep:
                if q.pid not in seen:
                    seen.add(q.pid)
                    rows.append(q)
            return _Message(note, code=ps_faxu(rows) + "\n...")
        except Exception as exc:  # noqa: BLE001
            return _Message(self._problem(exc))

    def finish(self) -> "_Message":
        """The notebook's last cell.  Under nbgrader's autograder it removes this exercise's containers
        and names, so that the next submission starts from nothing; otherwise it says how to."""
        if os.environ.get("NBGRADER_EXECUTION") == "autograde" or os.environ.get("NSLAB_EXERCISE_TEARDOWN") == "1":
            return self.teardown()
        try:
            commands = self._teardown_commands()
        except Exception as exc:  # noqa: BLE001
            return _Message(self._problem(exc))
        if not commands:
            return _Message(self._t("There is nothing of this lab left to remove."))
        return _Message(self._t("Your lab stays up so that you can go on looking at it. To remove it:"),
                        pre=False, code="\n".join(commands))

    def teardown(self) -> "_Message":
        """Remove this exercise's containers, namespace names and host veth ends (by their names)."""
        done = []
        try:
            ExerciseShell.close_all(self, "down")
            done = self._remove_all()
        except Exception as exc:  # noqa: BLE001
            return _Message(self._problem(exc))
        return _Message(self._t("Removed:"), code="\n".join(done) if done else "-")

    # --- internals ------------------------------------------------------------------------------
    def _step(self, step: str):
        if step not in self.steps:
            raise _Unknown(self._t("There is no step '{step}' here; the steps are: {steps}").format(
                step=step, steps=", ".join(self.steps)))
        return self.steps[step]

    def _problem(self, exc: BaseException) -> str:
        if isinstance(exc, NslabError):
            return str(exc)
        if isinstance(exc, PermissionError):
            return self._t("This needs root privileges: open the notebook with the Python 3 (nslab) kernel.")
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({last[0].name})" if last else ""
        return f"{type(exc).__name__}: {exc}{where}"

    def _register(self) -> None:
        topo = self.topology
        names = set(topo.node_names)
        if len(topo.links) == 1 and len(names) == 2:  # two-containers: sections 2 and 3
            first, second = topo.node_names
            self.steps["2.launch"] = ("2", lambda: self._node_items([first], "2", name=False), lambda: self._solve_nodes([first]),
                                      self._t("Launch the container"))
            self.steps["2.pid"] = ("2", lambda: self._pid_items(first), lambda: self._solve_pid(first),
                                   self._t("The PID of its init"))
            self.steps["2.name"] = ("2", lambda: self._node_items([first], "2", launch=False),
                                    lambda: self._solve_nodes([first]), self._t("A name for its network namespace"))
            self.steps["3.launch"] = ("3", lambda: self._node_items([first, second], "3"),
                                      lambda: self._solve_nodes([first, second]), self._t("Two containers, named"))
            self.steps["3.veth"] = ("3", self._veth_items, self._solve_veth, self._t("The veth pair"))
            self.steps["3.move"] = ("3", self._move_items, self._solve_move, self._t("Each end in its container"))
            self.steps["3.addresses"] = ("3", self._address_items, self._solve_addresses,
                                         self._t("An address on each end"))
            self.steps["3.ping"] = ("3", self._ping_items, self._solve_addresses, self._t("Ping across"))
        else:  # Figure 1: section 4
            self.steps["4.nodes"] = ("4", lambda: self._node_items(self.nodes, "4"), lambda: self._solve_nodes(self.nodes),
                                     self._t("Every node a container"))
            for section, title in (("links", "Every link a veth pair"), ("addresses", "The addressing plan"),
                                   ("forwarding", "Routers forward"), ("routes", "Routes that work"),
                                   ("reachability", "Everyone reaches everyone")):
                key = "4.ping" if section == "reachability" else f"4.{section}"
                self.steps[key] = ("4", (lambda s=section: self._checker_items(s)),
                                   (lambda s=section: self._solve_figure(s)) if section != "reachability" else
                                   (lambda: self._solve_figure("routes")), self._t(title))

    # --- nodes (sections 2, 3, 4) ----------------------------------------------------------------
    def _init_pid(self, node: str) -> int | None:
        if not self.lxd:
            return None
        return init_pids().get(self.container(node))

    def _container_status(self, name: str) -> str | None:
        from pylxd.exceptions import NotFound
        try:
            return connect().instances.get(name).status
        except NotFound:
            return None

    def _node_items(self, nodes: list[str], section: str, launch: bool = True, name: bool = True) -> list[Item]:
        items: list[Item] = []
        host = nsfs.host_netns_inode()
        for node in nodes:
            ns, path = self.netns(node), nsfs.netns_path(self.netns(node))
            pid = self._init_pid(node)
            if self.lxd and launch:
                c = self.container(node)
                if pid is not None:
                    items.append(item(section, c, True, self._t("the container {c} is running (its init is PID {pid})")
                                      .format(c=c, pid=pid)))
                else:
                    status = self._container_status(c)
                    if status is None:
                        items.append(item(section, c, False, missing=self._t("there is no container {c}").format(c=c),
                                          hints=(self._t("Launch a container with LXD, from the image {image}.")
                                                 .format(image=self.image),
                                                 cmds.lxc_launch(self._t("IMAGE"), self._t("NAME")),
                                                 cmds.lxc_launch(self.image, c))))
                    else:
                        items.append(item(section, c, False, missing=self._t("{c} exists but is not running ({status})")
                                          .format(c=c, status=status),
                                          hints=(self._t("Start it."), cmds.lxc_start(self._t("NAME")), cmds.lxc_start(c))))
            if not name and not (not self.lxd and launch):
                continue
            if not self.lxd:
                inode = nsfs.name_inode(ns)
                if inode is not None and inode != host:
                    items.append(item(section, ns, True, self._t("the network namespace {ns} exists").format(ns=ns)))
                else:
                    strays = self._near_misses(node)
                    missing = self._t("there is no network namespace {ns}").format(ns=ns)
                    idea = self._t("Without LXD a node is a named network namespace.")
                    exact = cmds.netns_add(ns)
                    if strays:
                        missing += " " + self._t("(there is {stray}: the name must be exactly {ns})").format(
                            stray=", ".join(strays), ns=ns)
                        idea = self._t("The name must be exactly {ns}; remove the one with the other name.").format(ns=ns)
                        exact = "\n".join([cmds.netns_del(x) for x in strays] + [exact])
                    items.append(item(section, ns, False, missing=missing,
                                      hints=(idea, cmds.netns_add(self._t("NAME")), exact)))
                continue
            exact = cmds.netns_dir(nsfs.NETNS_RUN_DIR) + "\n" + cmds.netns_link(pid or "PID", path)
            hints = (self._t("Name the container's network namespace: a symbolic link in {dir} to the "
                             "/proc/<PID>/ns/net of its init (PID from `lxc info {c}`).")
                     .format(dir=nsfs.NETNS_RUN_DIR, c=self.container(node)),
                     cmds.netns_dir(nsfs.NETNS_RUN_DIR) + "\n"
                     + cmds.netns_link("PID", nsfs.netns_path(self._t("NAME"))), exact)
            if not os.path.isdir(nsfs.NETNS_RUN_DIR):
                items.append(item(section, ns, False, missing=self._t("the folder {dir} does not exist yet")
                                  .format(dir=nsfs.NETNS_RUN_DIR), hints=hints))
            elif not os.path.lexists(path):
                items.append(item(section, ns, False, missing=self._t("there is no name {path} yet").format(path=path),
                                  hints=hints))
            else:
                try:
                    inode = os.stat(path).st_ino
                except OSError:
                    inode = None
                want = nsfs.process_netns_inode(pid) if pid is not None else None
                where = os.readlink(path) if os.path.islink(path) else self._t("a namespace of its own")
                if inode is None:
                    items.append(item(section, ns, False, missing=self._t("{path} points to {where}, which no longer "
                                      "exists (the container restarted?)").format(path=path, where=where), hints=hints))
                elif want is None:
                    items.append(item(section, ns, False, missing=self._t("{path} exists, but its container is not "
                                      "running").format(path=path), hints=hints))
                elif inode != want:
                    items.append(item(section, ns, False, missing=self._t("{path} points to {where}, which is not the "
                                      "network namespace of {c}").format(path=path, where=where, c=self.container(node)),
                                      hints=hints))
                else:
                    items.append(item(section, ns, True, self._t("{path} -> {where}: the network namespace of {c}")
                                      .format(path=path, where=where, c=self.container(node))))
        return items

    def _solve_nodes(self, nodes: list[str]) -> Solution:
        commands: list[tuple[str, bool]] = []
        notes: list[str] = []
        if not self.lxd:
            todo = [n for n in nodes if nsfs.name_inode(self.netns(n)) is None]
            for n in nodes:
                commands.append((cmds.netns_add(self.netns(n)), n in todo))
            if todo:
                nsfs.ensure_run_dir()

                def make() -> None:
                    for n in todo:
                        fd = nsfs.unshare_net()
                        try:
                            nsfs.bind_name(fd, self.netns(n))
                        finally:
                            os.close(fd)
                fanout.in_thread(make, name="nslab:exercise")
            return Solution("", commands, self.lang, notes)
        client = connect()
        ensure_image(client, self.image)
        for n in nodes:
            c = self.container(n)
            status = self._container_status(c)
            if status is None:
                inst = client.instances.create({"name": c, "source": {"type": "image", "alias": self.image}}, wait=True)
                inst.start(wait=True)
            elif status != "Running":
                client.instances.get(c).start(wait=True)
            commands.append((cmds.lxc_launch(self.image, c), status != "Running"))
        nsfs.ensure_run_dir()
        for n in nodes:
            c, path = self.container(n), nsfs.netns_path(self.netns(n))
            pid = self._wait_pid(n)
            commands.append((cmds.lxc_info_pid(c), False))
            target = f"/proc/{pid}/ns/net"
            right = os.path.islink(path) and os.readlink(path) == target
            if not right:
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(target, path)
            commands.append((cmds.netns_dir(nsfs.NETNS_RUN_DIR), False))
            commands.append((cmds.netns_link(pid, path), not right))
        return Solution("", commands, self.lang, notes)

    def _wait_pid(self, node: str, timeout: float = 10.0) -> int:
        end = time.monotonic() + timeout
        while True:
            pid = self._init_pid(node)
            if pid is not None or time.monotonic() > end:
                break
            time.sleep(0.1)
        if pid is None:
            raise NslabError(self._t("the container {c} did not start").format(c=self.container(node)))
        return pid

    def _pid_items(self, node: str) -> list[Item]:
        from IPython import get_ipython
        shell = get_ipython()
        given = shell.user_ns.get("pid") if shell is not None else None
        c = self.container(node)
        if not self.lxd:
            return []  # nothing to find: check() says why
        pid = self._init_pid(node)
        hints = (self._t("`lxc info {c}` shows the PID of the container's init.").format(c=c),
                 cmds.lxc_info(self._t("NAME")) + "\npid = ...", cmds.lxc_info(c) + f"\npid = {pid or '...'}")
        if pid is None:
            return [item("2", "pid", False, missing=self._t("launch the container first"), hints=hints)]
        try:
            value = int(str(given).strip()) if given is not None else None
        except ValueError:
            value = None
        if value is None:
            return [item("2", "pid", False, missing=self._t("write the init's PID into the variable pid (pid = ...)"),
                         hints=hints)]
        if value != pid:
            return [item("2", "pid", False, missing=self._t("{value} is not the PID of the init of {c}")
                         .format(value=value, c=c), hints=hints)]
        inode, host = nsfs.process_netns_inode(pid), nsfs.host_netns_inode()
        return [item("2", "pid", True, self._t("PID {pid} is the init of {c}: /proc/{pid}/ns/net is net:[{inode}], "
                                               "the host's is net:[{host}]").format(pid=pid, c=c, inode=inode, host=host))]

    def _solve_pid(self, node: str) -> Solution:
        from IPython import get_ipython
        if not self.lxd:
            return Solution("", [], self.lang, [self._t("without LXD there is no container init: nothing to find here")])
        solution = self._solve_nodes([node]) if self._init_pid(node) is None else Solution("", [], self.lang)
        pid = self._wait_pid(node)
        shell = get_ipython()
        if shell is not None:
            shell.user_ns["pid"] = pid
        solution.commands += [(cmds.lxc_info_pid(self.container(node)), False), (f"pid = {pid}", True),
                              (cmds.show_netns_link(pid), False)]
        return solution

    # --- section 3: the veth pair ----------------------------------------------------------------
    def _pair(self):
        link = self.topology.links[0]
        return link.a, link.b

    def _host_links(self) -> dict[str, dict[str, Any]]:
        """The host's interfaces named like the pair's ends (read only)."""
        a, b = self._pair()

        def read() -> dict[str, dict[str, Any]]:
            out = {}
            with IPRoute() as ipr:
                for link in ipr.get_links():
                    name = link.get("IFLA_IFNAME")
                    if name in (a.ifname, b.ifname):
                        out[name] = {"kind": link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"), "index": link["index"],
                                     "peer_index": link.get("IFLA_LINK"), "netnsid": link.get("IFLA_LINK_NETNSID")}
            return out
        return fanout.in_thread(read, name="nslab:exercise-read")

    def _state(self):
        handles = {n: self._handle(n) for n in self.nodes}
        present = {n: h for n, h in handles.items() if nsfs.name_inode(h.netns) not in (None, nsfs.host_netns_inode())}
        state = read_lab_state(self.topology.name, present)
        return state

    # where the ends really are, and what it takes to make them one pair, each in its namespace
    def _near_miss(self, name: str) -> bool:
        """A named netns that looks meant for a node (``contenedor1`` for ``net-contenedor1``)."""
        def norm(x: str) -> str:
            return x.lower().replace("-", "").replace("_", "")
        own = {self.netns(n) for n in self.nodes}
        if name in own:
            return False
        wanted = set()
        for n in self.nodes:
            wanted |= {norm(n), norm(self.netns(n)), norm(self.container(n)), norm("net-" + n)}
        return norm(name) in wanted

    def _near_misses(self, node: str) -> list[str]:
        def norm(x: str) -> str:
            return x.lower().replace("-", "").replace("_", "")
        wanted = {norm(node), norm(self.netns(node)), norm(self.container(node)), norm("net-" + node)}
        return [n for n in nsfs.names() if n != self.netns(node) and norm(n) in wanted
                and nsfs.name_inode(n) not in (None, nsfs.host_netns_inode())]

    def _scan(self) -> list["_Iface"]:
        a, b = self._pair()
        lab = [self.netns(n) for n in self.nodes if nsfs.name_inode(self.netns(n)) not in (None, nsfs.host_netns_inode())]
        return scan_ends((a.ifname, b.ifname), lab, self._near_miss)

    def _good_pair(self, found: list["_Iface"]) -> tuple["_Iface", "_Iface"] | None:
        """The ends that are one veth pair, v-1a with v-1b, wherever they are."""
        a, b = self._pair()
        for x in found:
            for y in found:
                if (x.name == a.ifname and y.name == b.ifname and x.kind == "veth" and y.kind == "veth"
                        and x.peer == (y.place, y.name) and y.peer == (x.place, x.name)):
                    return x, y
        return None

    def _place(self, place: str | None) -> str:
        return self._t("the host") if place == HOST else place or self._t("another network namespace")

    def _describe(self, found: list["_Iface"]) -> str:
        """Why what is there is not one pair, in the student's words."""
        a, b = self._pair()
        said = []
        for end, other in ((a, b), (b, a)):
            mine = [x for x in found if x.name == end.ifname]
            if not mine:
                said.append(self._t("{i} does not exist").format(i=end.ifname))
            for x in mine:
                where = self._place(x.place)
                if x.kind != "veth":
                    said.append(self._t("{i} (in {where}) is not a veth").format(i=x.name, where=where))
                elif x.peer is None or x.peer[1] != other.ifname:
                    peer = x.peer[1] if x.peer and x.peer[1] else "?"
                    said.append(self._t("{i} (in {where}) is paired with {peer}, not with {other}")
                                .format(i=x.name, where=where, peer=peer, other=other.ifname))
        return "; ".join(dict.fromkeys(said))

    def _del_command(self, x: "_Iface") -> str:
        return cmds.link_del_host(x.name) if x.place == HOST else cmds.as_netns_exec(cmds.link_del(x.place, x.name))

    def _in_the_way(self, found: list["_Iface"]) -> list["_Iface"]:
        """What must go before the pair can be made: every interface with an end's name that is not part of
        one good pair (deleting a veth takes its peer with it: that peer is not listed again)."""
        good = self._good_pair(found)
        if good is not None:  # another interface with an end's name where that end has to go
            a, b = self._pair()
            home = {a.ifname: self.netns(a.node), b.ifname: self.netns(b.node)}
            return [x for x in found if x not in good and x.place == home[x.name]]
        out: list[_Iface] = []
        gone: set[tuple[str | None, str | None]] = set()
        for x in found:
            if (x.place, x.name) in gone:
                continue
            out.append(x)
            if x.kind == "veth" and x.peer is not None:
                gone.add(x.peer)
        return out

    def _pair_plan(self, found: list["_Iface"], move: bool) -> list[str]:
        """The commands that make the pair (and, with ``move``, put each end in its netns) from what is there."""
        a, b = self._pair()
        good = self._good_pair(found)
        commands = [self._del_command(x) for x in self._in_the_way(found)]
        if good is None:
            commands.append(cmds.veth_in_host(a.ifname, b.ifname))
            where = {a.ifname: HOST, b.ifname: HOST}
        else:
            where = {good[0].name: good[0].place, good[1].name: good[1].place}
        if move:
            for end in (a, b):
                ns = self.netns(end.node)
                if where[end.ifname] != ns:
                    commands.append(cmds.link_move(end.ifname, ns, None if where[end.ifname] == HOST else where[end.ifname]))
        return commands

    def _veth_items(self) -> list[Item]:
        a, b = self._pair()
        found = self._scan()
        good = self._good_pair(found)
        target = f"{a.ifname} - {b.ifname}"
        if good is not None:
            on_host = good[0].place == HOST and good[1].place == HOST
            return [item("3", target, True, (self._t("{a} and {b} are a veth pair, on the host for now") if on_host
                                             else self._t("{a} and {b} are a veth pair")).format(a=a.ifname, b=b.ifname))]
        hints = (self._t("Create the pair on the host: one command names both ends."),
                 cmds.veth_in_host(self._t("NAME1"), self._t("NAME2")), "\n".join(self._pair_plan(found, False)))
        if not found:
            return [item("3", target, False, missing=self._t("there is no {a} or {b} yet").format(a=a.ifname, b=b.ifname),
                         hints=hints)]
        idea = self._t("A veth is made in pairs, both ends in one command; what is in the way goes first "
                       "(deleting one end of a veth deletes both).")
        return [item("3", target, False, missing=self._t("{a} and {b} are not one veth pair: {why}")
                     .format(a=a.ifname, b=b.ifname, why=self._describe(found)),
                     hints=(idea, cmds.link_del_host(self._t("NAME")) + "\n" + hints[1], hints[2]))]

    def _move_items(self) -> list[Item]:
        a, b = self._pair()
        found = self._scan()
        good = self._good_pair(found)
        plan = "\n".join(self._pair_plan(found, True))
        shape = cmds.link_move(self._t("IFACE"), self._t("NETNS"))
        idea = self._t("Move each end into its container's network namespace.")
        items = []
        for end, other in ((a, b), (b, a)):
            ns = self.netns(end.node)
            target = f"{end.ifname} → {ns}"
            if nsfs.name_inode(ns) in (None, nsfs.host_netns_inode()):
                items.append(item("3", target, False, missing=self._t("there is no network namespace {ns} yet")
                                  .format(ns=ns), hints=(idea, cmds.netns_add(self._t("NAME")), cmds.netns_add(ns))))
                continue
            mine = next((x for x in good if x.name == end.ifname), None) if good else None
            if mine is None:
                what = (self._t("{a} and {b} are not one veth pair: {why}")
                        .format(a=a.ifname, b=b.ifname, why=self._describe(found)) if found else
                        self._t("there is no {i} yet").format(i=end.ifname))
                items.append(item("3", target, False, missing=what,
                                  hints=(self._t("First the pair (previous step), then move each end."),
                                         cmds.veth_in_host(self._t("NAME1"), self._t("NAME2")) + "\n" + shape, plan)))
            elif mine.place == ns:
                peer = self._t("{i} (in {where})").format(i=other.ifname, where=self._place(good[1 if end is a else 0].place))
                items.append(item("3", target, True, self._t("{i} is in {ns}, paired with {peer}")
                                  .format(i=end.ifname, ns=ns, peer=peer)))
            else:
                what = (self._t("{i} is still on the host").format(i=end.ifname) if mine.place == HOST else
                        self._t("{i} is in {where}, not in {ns}").format(i=end.ifname, where=mine.place, ns=ns))
                fix = cmds.link_move(end.ifname, ns, None if mine.place == HOST else mine.place)
                items.append(item("3", target, False, missing=what,
                                  hints=(idea, shape if mine.place == HOST else
                                         cmds.link_move(self._t("IFACE"), self._t("NETNS"), self._t("FROM_NETNS")), fix)))
        return items

    def _ends(self):
        a, b = self._pair()
        state = self._state()
        out = []
        for end in (a, b):
            s = state.nodes.get(end.node)
            iface = s.interface(end.ifname) if s is not None and s.exists else None
            out.append((end, iface))
        return out

    def _address_plan(self, ia, ib) -> dict[str, tuple[list[ipaddress.IPv4Interface], ipaddress.IPv4Interface]]:
        """node -> (addresses to delete, the address it keeps or gets): the fewest changes that give both ends
        addresses that reach each other.  The first end keeps what it has; the second follows it."""
        a, b = self._pair()
        nets_a = [ipaddress.IPv4Interface(x) for x in (ia.addresses if ia else ())]
        nets_b = [ipaddress.IPv4Interface(x) for x in (ib.addresses if ib else ())]
        pair = next(((m, t) for m in nets_a for t in nets_b if _reach(m, t)), None)
        if pair is not None:
            return {a.node: ([], pair[0]), b.node: ([], pair[1])}
        if nets_a:
            keep = nets_a[0]
            return {a.node: ([], keep), b.node: (nets_b, ipaddress.IPv4Interface(_suggest(b.address, [], [keep], False)))}
        if nets_b:
            keep = nets_b[0]
            return {a.node: ([], ipaddress.IPv4Interface(_suggest(a.address, [], [keep], True))), b.node: ([], keep)}
        first = ipaddress.IPv4Interface(_suggest(a.address, [], [], True))
        return {a.node: ([], first), b.node: ([], ipaddress.IPv4Interface(_suggest(b.address, [], [first], False)))}

    def _address_commands(self, plan, ends) -> list[str]:
        """The plan as commands, one per line: deletions, the missing address, bringing the end up."""
        out = []
        for end, iface in ends:
            ns = self.netns(end.node)
            dels, want = plan[end.node]
            out += [cmds.as_netns_exec(cmds.addr_del(ns, d, end.ifname)) for d in dels]
            have = [ipaddress.IPv4Interface(x) for x in (iface.addresses if iface else ())]
            if want not in have or want in dels:
                out.append(cmds.as_netns_exec(cmds.addr_add(ns, want, end.ifname)))
            if iface is None or not iface.up:
                out.append(cmds.as_netns_exec(cmds.link_up(ns, end.ifname)))
        return out

    def _address_items(self) -> list[Item]:
        (a, ia), (b, ib) = self._ends()
        items = []
        nets_a = [ipaddress.IPv4Interface(x) for x in (ia.addresses if ia else ())]
        nets_b = [ipaddress.IPv4Interface(x) for x in (ib.addresses if ib else ())]
        plan = self._address_plan(ia, ib)
        every = self._address_commands(plan, [(a, ia), (b, ib)])
        for end, iface, mine, theirs in ((a, ia, nets_a, nets_b), (b, ib, nets_b, nets_a)):
            ns = self.netns(end.node)
            target = f"{ns}:{end.ifname}"
            exact = "\n".join(self._address_commands(plan, [(end, iface)])) or "\n".join(every)
            shape = (cmds.as_netns_exec(cmds.addr_add(self._t("NETNS"), self._t("ADDRESS/PREFIX"), self._t("IFACE")))
                     + "\n" + cmds.as_netns_exec(cmds.link_up(self._t("NETNS"), self._t("IFACE"))))
            hints = (self._t("Give both ends addresses of one subnet, of your choice (for example {a} and {b}), and "
                             "bring them up.").format(a=_suggest(a.address, [], [], True), b=_suggest(b.address, [], [], False)),
                     shape, exact)
            if iface is None:
                items.append(item("3", target, False, missing=self._t("{i} is not in {ns} yet (previous step)")
                                  .format(i=end.ifname, ns=ns), hints=(hints[0], hints[1], "\n".join(self._pair_plan(self._scan(), True)))))
                continue
            if not mine:
                items.append(item("3", target, False, missing=self._t("{target} has no IPv4 address").format(target=target),
                                  hints=hints))
                continue
            good = [(m, t) for m in mine for t in theirs if _reach(m, t)]
            clash = [m for m in mine for t in theirs if m.ip == t.ip]
            have = ", ".join(str(m) for m in mine)
            wrong = (self._t("Remove the address that is in the way (`ip addr del`) and give this end one in the "
                             "other end's subnet."), cmds.as_netns_exec(cmds.addr_del(self._t("NETNS"), self._t(
                                 "ADDRESS/PREFIX"), self._t("IFACE"))) + "\n" + shape, "\n".join(every))
            if theirs and not good and clash:
                items.append(item("3", target, False, missing=self._t("{target} has {have}: the same address as the "
                                  "other end").format(target=target, have=have), hints=wrong))
            elif theirs and not good:
                items.append(item("3", target, False, missing=self._t("{target} has {have}, in another subnet than "
                                  "the other end ({other})").format(target=target, have=have,
                                                                     other=", ".join(str(t) for t in theirs)),
                                  hints=wrong))
            elif not iface.up:
                items.append(item("3", target, False, self._t("{target} has {have}").format(target=target, have=have),
                                  self._t("{target} is down").format(target=target),
                                  hints=(self._t("An interface carries nothing until it is up."),
                                         cmds.as_netns_exec(cmds.link_up(self._t("NETNS"), self._t("IFACE"))),
                                         cmds.as_netns_exec(cmds.link_up(ns, end.ifname)))))
            elif not theirs:
                items.append(item("3", target, True, self._t("{target} has {have} and is up (the other end still "
                                  "needs one)").format(target=target, have=have)))
            else:
                m, t = good[0]
                text = self._t("{target} has {have} and is up").format(target=target, have=have)
                if m.network.prefixlen != t.network.prefixlen:
                    text += " " + self._t("(the prefixes differ, /{mine} and /{theirs}: each address is inside the "
                                          "other's subnet, so they reach each other; one prefix for both is "
                                          "tidier)").format(mine=m.network.prefixlen, theirs=t.network.prefixlen)
                items.append(item("3", target, True, text))
        return items

    def _run_in(self, place: str, fn: Callable[[IPRoute], None]) -> None:
        """``fn(ipr)`` inside ``place`` (the host or a named netns), in a thread of its own."""
        path = f"/proc/{os.getpid()}/ns/net" if place == HOST else nsfs.netns_path(place)

        def work() -> None:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                nsfs.setns(fd)
            finally:
                os.close(fd)
            with IPRoute() as ipr:
                fn(ipr)
        fanout.in_thread(work, name="nslab:exercise")

    def _clear_way(self, found: list["_Iface"]) -> list[tuple[str, bool]]:
        """Delete what is in the way of the pair (shown as commands)."""
        done = []
        for x in self._in_the_way(found):
            def delete(ipr: IPRoute, x=x) -> None:
                try:
                    ipr.link("del", index=x.index)
                except Exception:  # noqa: BLE001 - gone with its peer already
                    pass
            self._run_in(x.place, delete)
            done.append((self._del_command(x), True))
        return done

    def _solve_veth(self) -> Solution:
        a, b = self._pair()
        found = self._scan()
        commands = self._clear_way(found)
        if self._good_pair(found) is not None:
            return Solution("", commands + [(cmds.veth_in_host(a.ifname, b.ifname), False)], self.lang)

        def make(ipr: IPRoute) -> None:
            ipr.link("add", ifname=a.ifname, kind="veth", peer=b.ifname)
        self._run_in(HOST, make)
        return Solution("", commands + [(cmds.veth_in_host(a.ifname, b.ifname), True)], self.lang)

    def _solve_move(self) -> Solution:
        a, b = self._pair()
        if self._node_problem([a.node, b.node]):
            return self._node_problem([a.node, b.node])
        commands = self._solve_veth().commands
        found = self._scan()
        good = self._good_pair(found)
        if good is None:
            return Solution("", commands, self.lang, error=self._t("the pair could not be made: {why}")
                            .format(why=self._describe(found)))
        for x in good:
            end = a if x.name == a.ifname else b
            ns = self.netns(end.node)
            command = cmds.link_move(x.name, ns, None if x.place in (HOST, ns) else x.place)
            if x.place == ns:
                commands.append((command, False))
                continue

            def move(ipr: IPRoute, x=x, ns=ns) -> None:
                fd = os.open(nsfs.netns_path(ns), os.O_RDONLY | os.O_CLOEXEC)
                try:
                    ipr.link("set", index=x.index, net_ns_fd=fd)
                finally:
                    os.close(fd)
            self._run_in(x.place, move)
            commands.append((command, True))
        return Solution("", commands, self.lang)

    def _node_problem(self, nodes: list[str]) -> Solution | None:
        missing = [n for n in nodes if nsfs.name_inode(self.netns(n)) in (None, nsfs.host_netns_inode())]
        if missing:
            return Solution("", [], self.lang, error=self._t("first the earlier steps: {ns} does not exist yet "
                                                              "(`ex.solve(\"3.launch\")`)").format(ns=self.netns(missing[0])))
        return None

    def _solve_addresses(self) -> Solution:
        (a, ia), (b, ib) = self._ends()
        commands: list[tuple[str, bool]] = []
        if ia is None or ib is None:
            moved = self._solve_move()
            if moved.error:
                return moved
            commands += moved.commands
            (a, ia), (b, ib) = self._ends()
        plan = self._address_plan(ia, ib)
        for end, iface in ((a, ia), (b, ib)):
            ns = self.netns(end.node)
            dels = plan[end.node][0]
            if not dels:
                continue

            def delete(ipr: IPRoute, iface=iface, dels=dels) -> None:
                for d in dels:
                    ipr.addr("del", index=iface.index, address=str(d.ip), prefixlen=d.network.prefixlen)
            self._run_in(ns, delete)
            commands += [(cmds.as_netns_exec(cmds.addr_del(ns, d, end.ifname)), True) for d in dels]
        handles = {end.node: self._handle(end.node) for end in (a, b)}
        results = netconf.for_each_netns(handles, lambda ns, node: netconf.converge(
            ns, lo=True, ends=[(a.ifname if node == a.node else b.ifname, plan[node][1])]))
        for node in (a.node, b.node):
            for step in results[node]:
                commands.append((cmds.as_netns_exec(step.command), step.changed))
        return Solution("", commands, self.lang)

    def _ping_items(self) -> list[Item]:
        (a, ia), (b, ib) = self._ends()
        addr = {a.node: [x.split("/")[0] for x in (ia.addresses if ia else ())],
                b.node: [x.split("/")[0] for x in (ib.addresses if ib else ())]}
        items = []
        hint_idea = self._t("Both ends need an address of one subnet, and both up (previous step).")
        for src, dst in ((a, b), (b, a)):
            target = f"{self.netns(src.node)} -> {self.netns(dst.node)}"
            if not addr[dst.node] or (src.node == a.node and ia is None) or (src.node == b.node and ib is None):
                items.append(item("3", target, False, missing=self._t("nothing to ping yet: {i} has no address")
                                  .format(i=f"{self.netns(dst.node)}:{dst.ifname}"),
                                  hints=(hint_idea, "ex.check(\"3.addresses\")", "ex.solve(\"3.addresses\")")))
                continue
            ip = addr[dst.node][0]
            handles = {src.node: self._handle(src.node)}
            matrix = ping_matrix(self.topology.name, handles, {src.node: [(dst.node, ip)]}, 1.0)
            ok = all(p.ok for p in matrix.probes)
            cmd = cmds.ping(self.netns(src.node), ip)
            if not ok:
                found = self._scan()
                if self._good_pair(found) is None:  # the cause is the pair, not the addresses
                    items.append(item("3", target, False, missing=self._t("`{cmd}` gets no answer").format(cmd=cmd)
                                      + ": " + self._t("{a} and {b} are not one veth pair: {why}").format(
                                          a=a.ifname, b=b.ifname, why=self._describe(found)),
                                      hints=(self._t("First the pair (previous step), then move each end."),
                                             "ex.check(\"3.veth\")\nex.check(\"3.move\")",
                                             "\n".join(self._pair_plan(found, True)))))
                    continue
            items.append(item("3", target, ok, self._t("`{cmd}` answers").format(cmd=cmd) if ok else "",
                              "" if ok else self._t("`{cmd}` gets no answer").format(cmd=cmd),
                              hints=(hint_idea, "ex.check(\"3.move\")\nex.check(\"3.addresses\")", cmd)))
        return items

    # --- section 4: Figure 1 ---------------------------------------------------------------------
    def _checker_items(self, section: str) -> list[Item]:
        """The checker's items of one section, graded by outcome, in this notebook's language and backend."""
        return checker.check(self.topology, [section], backend=self.backend, lang=self.lang).items

    def _solve_figure(self, stage: str) -> Solution:
        order = ["nodes", "links", "addresses", "forwarding", "routes"]
        commands: list[tuple[str, bool]] = []
        for s in order[: order.index(stage) + 1]:
            if s == "nodes":
                commands += self._solve_nodes(self.nodes).commands
                continue
            plan = {n: self._handle(n) for n in self.nodes}
            topo = self.topology
            if s == "links":
                wanted: dict[str, list] = {}
                for l in topo.links:
                    wanted.setdefault(l.a.node, []).append((l.a.ifname, self._handle(l.b.node), l.b.ifname))
                done = netconf.for_each_netns({n: plan[n] for n in wanted}, lambda ns, n: netconf.veths(ns, wanted[n]))
            elif s == "addresses":
                done = netconf.for_each_netns(plan, lambda ns, n: netconf.converge(
                    ns, lo=True, ends=[(e.ifname, e.address) for e in topo.endpoints_of(n)]))
            elif s == "forwarding":
                done = netconf.for_each_netns(plan, lambda ns, n: [netconf.forwarding(ns, topo.node(n).forwarding)])
            else:
                done = netconf.for_each_netns({n: plan[n] for n in self.nodes if topo.node(n).routes},
                                              lambda ns, n: netconf.converge(ns, wanted_routes=list(topo.node(n).routes)))
            for n in self.nodes:
                for step in done.get(n, []):
                    commands.append((step.command, step.changed))
        return Solution("", commands, self.lang)

    # --- removing ----------------------------------------------------------------------------
    def _teardown_commands(self) -> list[str]:
        """The commands that remove what there is now of this exercise (nothing that was never made)."""
        out = []
        host = self._host_links() if len(self.topology.links) == 1 else {}
        out += [cmds.link_del_host(name) for name in host][:1]  # one end takes its peer with it
        if self.lxd:
            from pylxd.exceptions import NotFound
            client = connect()
            made = []
            for n in self.nodes:
                try:
                    client.instances.get(self.container(n))
                    made.append(self.container(n))
                except NotFound:
                    pass
            if made:
                out.append(cmds.lxc_delete(*made))
            links = [nsfs.netns_path(self.netns(n)) for n in self.nodes if os.path.islink(nsfs.netns_path(self.netns(n)))]
            if links:
                out.append(cmds.remove(*links, force=True))
        out += [cmds.netns_del(self.netns(n)) for n in self.nodes
                if os.path.lexists(nsfs.netns_path(self.netns(n))) and not os.path.islink(nsfs.netns_path(self.netns(n)))]
        return out

    def _remove_all(self) -> list[str]:
        done = []
        if len(self.topology.links) == 1:  # the pair may still be on the host
            host = self._host_links()
            if host:
                def delete() -> None:
                    with IPRoute() as ipr:
                        for name, info in host.items():
                            if info["kind"] == "veth":
                                try:
                                    ipr.link("del", index=info["index"])
                                except Exception:  # noqa: BLE001 - its peer took it
                                    pass
                fanout.in_thread(delete, name="nslab:exercise")
                done += [cmds.link_del_host(name) for name in host]
        if self.lxd:
            from pylxd.exceptions import NotFound
            client = connect()
            for n in self.nodes:
                c = self.container(n)
                try:
                    inst = client.instances.get(c)
                except NotFound:
                    continue
                if inst.status == "Running":
                    inst.stop(force=True, wait=True)
                inst.delete(wait=True)
                done.append(cmds.lxc_delete(c))
            for n in self.nodes:
                path = nsfs.netns_path(self.netns(n))
                if os.path.islink(path):
                    os.unlink(path)
                    done.append(cmds.remove(path))
        for n in self.nodes:  # plain names (ip netns add), also under LXD if the student made some
            name = self.netns(n)
            path = nsfs.netns_path(name)
            if os.path.lexists(path) and not os.path.islink(path):
                nsfs.unbind_name(name)
                done.append(cmds.netns_del(name))
        return done


# --- where the pair's ends really are: the host, the lab's namespaces and any other named one they lead to ---

HOST = "host"


@dataclass(frozen=True)
class _Iface:
    """One interface named like an end of the pair (or the peer of one), wherever it is."""

    place: str  # HOST or a netns name
    name: str
    index: int
    kind: str | None
    peer: tuple[str | None, str | None] | None  # (place, name) of a veth's peer; (None, None): unknown netns


def _read_place(path: str, others: dict[str, str]) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Inside the netns at ``path`` (in a throw-away thread): its links, and the nsid of each other place."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        nsfs.setns(fd)
    finally:
        os.close(fd)
    links: dict[int, dict[str, Any]] = {}
    nsids: dict[int, str] = {}
    with IPRoute() as ipr:
        for link in ipr.get_links():
            links[link["index"]] = {"name": link.get("IFLA_IFNAME"),
                                    "kind": link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND"),
                                    "link": link.get("IFLA_LINK"), "nsid": link.get("IFLA_LINK_NETNSID")}
        for place, other in others.items():
            if other == path:
                continue
            try:
                ofd = os.open(other, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                nsid = ipr.get_netnsid(fd=ofd).get("nsid")
            except Exception:  # noqa: BLE001 - a namespace we may not look at
                nsid = None
            finally:
                os.close(ofd)
            if nsid is not None and nsid >= 0:
                nsids[nsid] = place
    return links, nsids


def scan_ends(names: tuple[str, ...], lab_places: list[str], near: Callable[[str], bool]) -> list[_Iface]:
    """Every interface called one of ``names``, in the host (this process's netns), the lab's named
    namespaces, the named namespaces ``near`` accepts (a near-miss name) and any named namespace a veth
    found leads to; with each veth's peer.  Read only."""
    host_inode = nsfs.host_netns_inode()
    paths: dict[str, str] = {HOST: f"/proc/{os.getpid()}/ns/net"}
    seen = {host_inode}
    for name in [*lab_places, *nsfs.names()]:
        inode = nsfs.name_inode(name)
        if inode is None or inode in seen:
            continue
        seen.add(inode)
        paths[name] = nsfs.netns_path(name)
    read: dict[str, tuple[dict, dict]] = {}

    def read_some(places: list[str]) -> None:
        def one(place: str):
            try:
                return _read_place(paths[place], paths)
            except OSError:
                return {}, {}
        for place, got in zip(places, fanout.each(one, places, name="nslab:exercise-read")):
            read[place] = got

    read_some([p for p in paths if p == HOST or p in lab_places or near(p)])
    for _round in range(2):  # a veth whose peer is in a namespace not read yet leads there
        wanted = set()
        for place, (links, nsids) in list(read.items()):
            for info in links.values():
                if info["name"] in names and info["kind"] == "veth" and info["nsid"] is not None:
                    other = nsids.get(info["nsid"])
                    if other is not None and other not in read:
                        wanted.add(other)
        if not wanted:
            break
        read_some(sorted(wanted))
    out = []
    for place, (links, nsids) in read.items():
        for index, info in links.items():
            if info["name"] not in names:
                continue
            peer = None
            if info["kind"] == "veth" and info["link"]:
                where = place if info["nsid"] is None else nsids.get(info["nsid"])
                peer_links = read.get(where, ({}, {}))[0] if where is not None else {}
                peer_name = peer_links.get(info["link"], {}).get("name") if where is not None else None
                peer = (where, peer_name)
            out.append(_Iface(place, info["name"], index, info["kind"], peer))
    return out


class _Table:
    def __init__(self, head: list[str], rows: list[list[str]]):
        self.head, self.rows = head, rows

    def __str__(self) -> str:
        widths = [max(len(str(r[i])) for r in [self.head, *self.rows]) for i in range(len(self.head))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [self.head, *self.rows])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.head)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in self.rows)
        return f"<table class='nslab-plan'><tr>{head}</tr>{rows}</table>"


def ps_tree(netns: int | None, context: int = 3) -> str:
    """``ps faxu`` cut to what matters: the first host processes, then every process of network namespace
    ``netns`` with the processes it hangs from (LXD's monitor), each with its netns inode."""
    procs = processes()
    by_pid = {p.pid: p for p in procs}
    inside = [p for p in procs if netns is not None and p.netns == netns]
    keep = {p.pid for p in procs[:context]}
    for p in inside:
        keep.add(p.pid)
        parent = by_pid.get(p.ppid)
        while parent is not None and parent.pid not in keep:
            keep.add(parent.pid)
            parent = by_pid.get(parent.ppid)
    lines = ps_faxu([p for p in procs if p.pid in keep]).splitlines()
    if len(lines) > context + 1:
        lines.insert(context + 1, "...")
    return "\n".join(lines)


class _Unknown(Exception):
    pass


class _NotThere(Exception):
    """A node a shell cannot enter yet; the message says what to create first (in the notebook's language)."""


# --- shells of the student track ----------------------------------------------------------------------
VIEW_GROUP = "nslab.views"  # the UI's views, as lifecycle.terminals.view_of finds them


def _terminal_view() -> Callable[..., Any] | None:
    """The installed UI's terminal view (nslab_widgets' xterm.js widget), or None."""
    for point in entry_points(group=VIEW_GROUP, name="terminal"):
        try:
            return point.load()
        except ImportError:
            continue  # the UI package is there but its dependencies (anywidget) are not
    return None


def host_shell(label: str, prompt: str = "host") -> ShellCommand:
    """A shell in the student's host: the machine's as root; as a normal user, inside their sandbox (whose
    network namespace is their own host), entered through ``nslab-sandbox run`` unless this process (a
    kernel started by the sandboxed kernelspec) already runs there."""
    env = {**SHELL_ENV, "NSLAB_NODE": prompt, "HOME": os.environ.get("HOME") or "/root"}
    if os.path.exists("/bin/bash"):
        argv: tuple[str, ...] = ("/bin/bash", "--rcfile", BASHRC, "-i")
    else:
        argv = ("/bin/sh", "-i")
        env["PS1"] = f"({prompt}) # "
    enter: tuple[str, ...] = ()
    if sandbox.wanted() and not sandbox.inside():
        enter = tuple(sandbox.command([]))
    shown = "nslab shell" if sandbox.wanted() else os.path.basename(argv[0])
    return ShellCommand(label, enter, argv, shown, env)


@dataclass(frozen=True)
class _Owner:
    name: str  # what the view shows as the lab's name


class ExerciseShell(OpenShell):
    """A shell of the student track, with the interface of ``lifecycle.terminals.Terminal`` (what the
    terminal view uses).  Unlike a lab's terminals it has no line in a lab's record: nslab did not make
    these nodes (the student did, by hand), so there is no record; it ends with ``ex.teardown()``, its
    Close button, Ctrl-D, and the kernel (an atexit hook here; a killed kernel's pty hangs the shell up)."""

    _open: list["ExerciseShell"] = []
    _lock = threading.RLock()

    def __init__(self, exercise: "Exercise", node: str | None, shell: PtyShell):
        self.exercise = exercise
        self.node_arg = node
        self.node = shell.command.node
        self.lab = _Owner(exercise.topology.name)
        self.shell = shell
        self.reason: str | None = None
        self._done = False
        self._exit_callbacks: list[Callable[["ExerciseShell"], None]] = []
        self._exit_lock = ExerciseShell._lock

    @classmethod
    def open(cls, exercise: "Exercise", node: str | None, command: ShellCommand,
             rows: int = 24, cols: int = 80) -> "ExerciseShell":
        shell = PtyShell(command, rows=rows, cols=cols).start()
        term = cls(exercise, node, shell)
        with cls._lock:
            cls._open.append(term)
        shell.subscribe(on_exit=term._ended)
        return term

    @classmethod
    def close_all(cls, exercise: "Exercise | None" = None, reason: str = "down") -> None:
        with cls._lock:
            shells = [t for t in cls._open if exercise is None or t.exercise is exercise]
        for term in shells:
            term.close(reason)

    def reopen(self) -> "ExerciseShell":
        """A new shell in the same place (the node as it is now: a restarted container has a new init)."""
        try:
            command = self.exercise._shell_command(self.node_arg)
        except _NotThere as exc:
            raise NslabError(str(exc)) from None
        return ExerciseShell.open(self.exercise, self.node_arg, command, self.shell.rows, self.shell.cols)

    def _translate(self, message: str) -> str:
        return self.exercise._t(message)

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.alive else self.closed_text()
        return f"<ExerciseShell {self.lab.name}:{self.node} ({self.command.shown}), {state}>"

    def _ended(self, _status: int | None) -> None:
        with self._lock:
            if self in ExerciseShell._open:
                ExerciseShell._open.remove(self)
        self._finished()


@atexit.register
def _close_shells() -> None:
    """The kernel is exiting: no shell of the student track outlives it."""
    ExerciseShell.close_all(None, "exit-kernel")


class _Message:
    """A message for a notebook: words (`...` spans as code), and optionally a block of code under them
    (``code``: commands or ps output, never wrapped mid-word); ``pre``: the words are the block."""

    def __init__(self, text: str, pre: bool = False, code: str = ""):
        if pre:
            text, code = "", text
        self.text, self.code = text, code

    def __str__(self) -> str:
        return "\n".join(x for x in (self.text, self.code) if x)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (f"<div>{_code(self.text)}</div>" if self.text else "") + (_pre(self.code) if self.code else "")


def _num(x: float) -> str:
    return f"{x:g}"


def _suggest(default, mine, theirs, first: bool) -> str:
    """An address for one end: the topology's own, or one in the subnet the other end already uses."""
    if theirs:
        t = theirs[0]
        for host in t.network.hosts():
            if host != t.ip:
                return f"{host}/{t.network.prefixlen}"
    if mine:
        return str(mine[0])
    if default is not None:
        return str(default)
    return "192.168.100.1/24" if first else "192.168.100.2/24"


def _reach(m: ipaddress.IPv4Interface, t: ipaddress.IPv4Interface) -> bool:
    """Two ends of one link can talk: different addresses, each inside the other's prefix."""
    return m.ip != t.ip and m.ip in t.network and t.ip in m.network


CHOSE_NETNS = N_('You chose backend = "netns": every node is a plain network namespace.')
CHOSE_LXD = N_('You chose backend = "lxd": every node is an LXD container.')
NO_LXD_ROOTLESS = N_('backend = "lxd" cannot work here: you are not root, and a normal user\'s sandbox never uses LXD '
                     '(access to LXD is equivalent to root). This notebook uses plain network namespaces instead; '
                     'write backend = "netns" in the parameters cell (the one that says backend = ...) to choose '
                     'them yourself.')


def _choose(backend: str) -> tuple[str, str]:
    """(backend, why: an English msgid) for this notebook."""
    if backend == "netns":
        return "netns", CHOSE_NETNS
    if backend == "lxd":
        return ("netns", NO_LXD_ROOTLESS) if rootless.active() else ("lxd", CHOSE_LXD)
    chosen, why = auto.choose()
    return (chosen, why) if chosen in ("lxd", "netns") else ("netns", why)


def start(topology: str, backend: str = "auto", lab: str | None = None, image: str | None = None,
          lang: str = "es") -> Exercise:
    """The exercises of one notebook.  Shows the names it uses and the backend.

    Under nbgrader's autograder (``NBGRADER_EXECUTION=autograde``) it first removes what an earlier
    submission may have left under these names, so that no student is graded on another's lab;
    ``$NSLAB_LAB`` and ``$NSLAB_BACKEND`` then choose the names and the backend for the whole run."""
    if backend == "auto":
        backend = os.environ.get("NSLAB_BACKEND") or "auto"
    set_language(lang)  # the checker's, explain's and the widgets' messages follow the notebook
    exercise = Exercise(topology, backend, lab, image, lang)
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        exercise.teardown()
    return exercise


__all__ = ["Exercise", "ExerciseShell", "Item", "Solution", "StepResult", "exercise_topology", "start", "tr"]
