"""What a change did: one :class:`Step` per action, each with its iproute2 equivalent.

Students are here to learn ``ip``, ``lxc`` and ``sysctl``: every step nslab
takes carries the command that does the same thing by hand, and says whether it
changed something or found it already so.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .i18n import N_, _

# Notes steps carry, shown in the student's language (a note not listed here is shown as it is)
NOTES = (N_("already gone"), N_("simulated"), N_("its peer is gone too"),
         N_("left alone: that container is not this lab's"), N_("left alone: not the symlink nslab made"),
         N_("left alone: it points somewhere nslab did not link"),
         N_("removed a placeholder left by an interrupted run"),
         N_("left alone: that name now refers to a namespace nslab did not create"),
         N_("left alone: that name is now a dangling link nslab did not make"))


@dataclass(frozen=True)
class Step:
    action: str  # netns, container, link, address, up, forwarding, route, delete, ...
    target: str  # what it acted on: "h1", "h1:eth0 - r1:eth0", "r1: 10.0.3.0/24 via 10.0.12.2"
    command: str  # the equivalent command a student can type
    changed: bool  # False: it was already so
    note: str = ""

    @property
    def status(self) -> str:
        return "changed" if self.changed else "already so"

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "target": self.target, "command": self.command,
                "changed": self.changed, "note": self.note}


COLLAPSE_AFTER = 8  # a report longer than this shows as its summary line, the steps a click away


@dataclass(repr=False)
class Report:
    """The steps of one operation (``up``, ``down``, a single helper call)."""

    title: str
    steps: list[Step] = field(default_factory=list)

    def add(self, steps: Iterable[Step] | Step) -> None:
        if isinstance(steps, Step):
            self.steps.append(steps)
        else:
            self.steps.extend(steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def changed(self) -> list[Step]:
        return [s for s in self.steps if s.changed]

    @property
    def already(self) -> list[Step]:
        return [s for s in self.steps if not s.changed]

    def commands(self, changed_only: bool = False) -> list[str]:
        return [s.command for s in self.steps if s.changed or not changed_only]

    def __repr__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        return _("{title}: {changed} changed, {already} already so").format(
            title=self.title, changed=len(self.changed), already=len(self.already))

    def to_dict(self) -> dict[str, object]:
        return {"title": self.title, "changed": len(self.changed), "already": len(self.already),
                "steps": [s.to_dict() for s in self.steps]}

    def __str__(self) -> str:
        lines = [self.summary()]
        for s in self.steps:
            mark = "+" if s.changed else "="
            note = f"  ({_(s.note)})" if s.note else ""
            lines.append(f"  {mark} {s.command}{note}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        changed, already = html.escape("✔ " + _("changed")), html.escape("· " + _("already so"))
        rows = "".join(
            f"<tr><td>{changed if s.changed else already}</td><td>{html.escape(s.target)}</td>"
            f"<td><code>{html.escape(s.command)}</code></td><td>{html.escape(_(s.note) if s.note else '')}</td></tr>"
            for s in self.steps)
        heads = "".join(f"<th>{html.escape(h)}</th>" for h in (_("status"), _("what"), _("equivalent command"), ""))
        table = f"<table><tr>{heads}</tr>{rows}</table>"
        if len(self.steps) <= COLLAPSE_AFTER:
            return f"<div class='nslab-report'><b>{html.escape(self.summary())}</b>{table}</div>"
        # A long report (85 steps for Figure 1) is one line; its steps are a click away
        count = html.escape(_("{n} steps").format(n=len(self.steps)))
        return (f"<div class='nslab-report'><details><summary style='cursor:pointer'><b>{html.escape(self.summary())}"
                f"</b> ▸ {count}</summary>{table}</details></div>")


def ip_batches(commands: Iterable[str]) -> tuple[list[str], dict[str, list[str]], list[list[str]]]:
    """Group taught commands for ``ip -batch``: (lines for ``ip -batch``, lines per namespace for
    ``ip -n NS -batch``, commands to run one by one).  Used to replay a build and compare."""
    global_lines: list[str] = []
    per_ns: dict[str, list[str]] = {}
    one_by_one: list[list[str]] = []
    for command in commands:
        words = command.split()
        if words[:3] == ["ip", "netns", "exec"] or words[0] != "ip":
            one_by_one.append(words)
        elif words[1] == "-n":
            per_ns.setdefault(words[2], []).append(" ".join(words[3:]))
        else:
            global_lines.append(" ".join(words[1:]))
    return global_lines, per_ns, one_by_one
