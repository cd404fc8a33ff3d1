"""PingMatrixView: the node-by-node grid, readable at a glance, with the graph right above it.

Each cell says its outcome with a symbol and a colour (Okabe-Ito: told apart with
any colour blindness) and its whole round-trip time; the full details are on hover
and on click.  "!" marks only a cell whose outcome differs from what is expected
*at this point* (a lab built stage by stage expects less at each stage); the legend
says so.  Clicking a cell draws that probe's path on the graph shown just above
the matrix, not on some graph many cells away.
"""

from __future__ import annotations

import html
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets as w

from nslab_kernel.core.results import FAILED, OK, PARTIAL, Pair, PingMatrix

from .base import LabLike, error_html, guarded
from .text import N_, _, get_language, plural
from .topology_view import TopologyView

# Okabe-Ito: bluish green, orange, vermillion; text colour chosen for contrast on each
COLOURS = {OK: "#009E73", PARTIAL: "#E69F00", FAILED: "#D55E00"}
TEXT_COLOURS = {OK: "#ffffff", PARTIAL: "#000000", FAILED: "#ffffff"}
SYMBOLS = {OK: "✓", PARTIAL: "◐", FAILED: "✗"}
WORDS = {OK: N_("reachable"), PARTIAL: N_("partly reachable"), FAILED: N_("unreachable")}
STAGE_WORDS = {"nodes": N_("nodes"), "links": N_("links"), "addresses": N_("addresses"),
               "forwarding": N_("forwarding"), "routes": N_("routes")}


def format_rtt(ms: float | None) -> str:
    """A round-trip time a person reads at once: ``4 µs``, ``0.25 ms``, ``12.5 ms``, ``310 ms``."""
    if ms is None:
        return ""
    if ms < 0.001:
        return "<1 µs"
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 100:
        return f"{ms:.1f} ms"
    return f"{ms:.0f} ms"


@dataclass(frozen=True)
class CellView:
    """What one cell shows (pure data: tested without a browser)."""

    source: str
    destination: str
    state: str
    expected: str | None
    text: str  # the cell's whole text
    tooltip: str

    @property
    def unexpected(self) -> bool:
        return self.expected is not None and self.expected != self.state


def cell_view(pair: Pair) -> CellView:
    state, expected = pair.state, pair.expected_state
    answered = sum(p.ok for p in pair.probes)
    if state == OK:
        text = f"{SYMBOLS[OK]} {format_rtt(pair.rtt_ms)}".strip()
    elif state == PARTIAL:
        text = f"{SYMBOLS[PARTIAL]} {answered}/{len(pair.probes)}"
    else:
        text = SYMBOLS[FAILED]
    unexpected = expected is not None and expected != state
    if unexpected:
        text = "! " + text
    lines = [f"{pair.source} → {pair.destination}: {_(WORDS[state])}"]
    if expected is not None:
        lines.append(_("expected at this point: {what}").format(what=_(WORDS[expected]))
                     + (" (!)" if unexpected else ""))
    for p in pair.probes:
        lines.append(f"  {p.address}: " + (format_rtt(p.rtt_ms) if p.ok else (p.error or _("no reply"))))
    return CellView(pair.source, pair.destination, state, expected, text, "\n".join(lines))


def legend_html(matrix: PingMatrix | None) -> str:
    items = [f"<span class='nslab-key nslab-key-{s}' style='background:{COLOURS[s]};color:{TEXT_COLOURS[s]}'>"
             f"{SYMBOLS[s]} {html.escape(_(WORDS[s]))}</span>" for s in (OK, PARTIAL, FAILED)]
    stages = getattr(matrix, "expected_for", None) if matrix is not None else None
    if stages:
        when = _("expected with what is built so far: {stages}").format(
            stages=", ".join(_(STAGE_WORDS.get(s, s)) for s in stages))
    else:
        when = _("expected in the finished lab")
    items.append(f"<span class='nslab-key nslab-key-unexpected'><b>!</b> {html.escape(_('differs from what is expected at this point'))}"
                 f" ({html.escape(when)})</span>")
    items.append(f"<span class='nslab-key'>{html.escape(_('time: the fastest round trip'))} · "
                 f"{html.escape(_('click a cell for its path'))}</span>")
    return "<div class='nslab-legend'>" + "".join(items) + "</div>"


STYLE = """<style>
.nslab-legend{display:flex;flex-wrap:wrap;gap:4px 10px;font-size:12px;margin:2px 0 6px 0;line-height:1.6}
.nslab-key{padding:0 6px;border-radius:3px;white-space:nowrap}
.nslab-matrix .nslab-head{font-weight:bold;white-space:nowrap;padding:0 6px;text-align:center;line-height:28px}
.nslab-matrix .nslab-rowhead{font-weight:bold;white-space:nowrap;padding:0 8px 0 2px;text-align:right;line-height:28px}
.nslab-matrix .nslab-cell button, .nslab-matrix button.nslab-cell{font-variant-numeric:tabular-nums}
.nslab-matrix .nslab-unexpected{outline:3px solid #000;outline-offset:-3px;font-weight:bold}
.nslab-matrix .widget-html, .nslab-matrix .widget-html-content{overflow:visible}
</style>"""


def _explain_in_language(explain: Callable[..., Any], source: str, destination: str) -> Any:
    """``explain(source, destination)`` in the notebook's language where it takes one."""
    try:
        takes_lang = "lang" in inspect.signature(explain).parameters
    except (TypeError, ValueError):
        takes_lang = False
    return explain(source, destination, lang=get_language()) if takes_lang else explain(source, destination)


class PingMatrixView(w.VBox):
    """A grid of buttons, one per (source, destination), under the lab's graph.

    ``graph`` (default: when a topology is known) shows the graph just above the
    matrix; a click on a cell shows the pair's probes and, where it fails, why,
    and draws the path on that graph.  ``on_explain`` is also called with the
    explanation (another view may draw it too).
    """

    def __init__(self, lab: LabLike | None = None, matrix: PingMatrix | None = None, run: bool = False,
                 explain: Callable[[str, str], Any] | None = None, on_explain: Callable[[Any], None] | None = None,
                 graph: bool | None = None, topology: Any = None):
        self.lab = lab
        self.matrix = matrix
        self.explain = explain or (getattr(lab, "explain", None) if lab is not None else None)
        self.on_explain = on_explain
        self.grid = w.GridBox(layout=w.Layout(grid_gap="3px", width="max-content", max_width="100%",
                                              overflow="auto"))
        self.grid.add_class("nslab-matrix")
        self.details = w.HTML()
        self.details.add_class("nslab-matrix-details")
        self.message = w.HTML()
        self.message.add_class("nslab-matrix-summary")
        self.button = w.Button(description=_("Ping matrix"), icon="play", tooltip=_("probe every node to every address"),
                               layout=w.Layout(width="auto", align_self="flex-start"))
        self.button.on_click(lambda _b: self.run())
        self.legend = w.HTML(STYLE + legend_html(matrix))
        self.cells: dict[tuple[str, str], w.Button] = {}
        self.graph = None
        topo = topology if topology is not None else getattr(lab, "topology", None)
        if graph is None:
            graph = topo is not None
        if graph and topo is not None:
            # the lab as it was when the matrix was probed (not live: a matrix and its graph always agree)
            self.graph = TopologyView(lab, topology=topo, state=self._state_now(), live=False, compact=True,
                                      caption=_("the lab when it was probed") if lab is not None else None)
        top = [self.button] if lab is not None else []
        children = top + ([self.graph] if self.graph is not None else []) + [self.legend, self.grid, self.message,
                                                                             self.details]
        super().__init__(children, layout=w.Layout(width="100%"))
        self.add_class("nslab-matrix-view")
        if matrix is not None:
            self.draw()
        elif run and lab is not None:
            self.run()

    def _state_now(self) -> Any:
        try:
            return self.lab.state() if self.lab is not None else None
        except Exception:  # noqa: BLE001 - the graph then shows the target alone
            return None

    @classmethod
    def from_dict(cls, data: dict, topology: Any = None) -> "PingMatrixView":
        return cls(None, PingMatrix.from_dict(data), topology=topology)

    def close(self) -> None:
        if self.graph is not None:
            self.graph.close()
        super().close()

    def run(self) -> None:
        def work() -> None:
            self.button.disabled = True
            self.button.description = _("Probing…")
            try:
                self.matrix = self.lab.ping_matrix()  # type: ignore[union-attr]
                if self.graph is not None:
                    self.graph.state = self._state_now()
                    self.graph.redraw()
            finally:
                self.button.disabled = False
                self.button.description = _("Ping matrix")
            self.draw()
        guarded(self.message, work)

    def draw(self) -> None:
        m = self.matrix
        if m is None:
            return
        nodes = m.nodes
        self.legend.value = STYLE + legend_html(m)
        self.grid.layout.grid_template_columns = f"max-content repeat({len(nodes)}, minmax(max-content, 1fr))"
        corner = w.HTML(f"<span title='{html.escape(_('from (row) to (column)'))}'>{html.escape(_('from ↓ to →'))}</span>")
        corner.add_class("nslab-rowhead")
        children: list[w.Widget] = [corner]
        for n in nodes:
            head = w.HTML(html.escape(n))
            head.add_class("nslab-head")
            children.append(head)
        self.cells = {}
        for s in nodes:
            row = w.HTML(html.escape(s))
            row.add_class("nslab-rowhead")
            children.append(row)
            for d in nodes:
                if s == d or (s, d) not in m._pairs:
                    cell = w.Button(description="—" if s == d else "", disabled=True,
                                    tooltip=_("the same node") if s == d else "",
                                    layout=w.Layout(width="auto", min_width="3.2em", height="28px"))
                    cell.add_class("nslab-cell-self")
                else:
                    cell = self._cell(m.pair(s, d))
                    self.cells[(s, d)] = cell
                children.append(cell)
        self.grid.children = children
        ok = sum(p.ok for p in m.probes)
        text = _("{ok} of {total} probes answered, in {elapsed}").format(ok=ok, total=len(m.probes), elapsed=m.elapsed)
        unexpected = sum(1 for c in self.cells.values() if "nslab-unexpected" in c._dom_classes)
        if unexpected:
            text += " · " + plural(unexpected, N_("1 cell marked ! differs from what is expected at this point"),
                                   N_("{n} cells marked ! differ from what is expected at this point"))
        self.message.value = f"<span>{html.escape(text)}</span>"

    def _cell(self, pair: Pair) -> w.Button:
        view = cell_view(pair)
        cell = w.Button(description=view.text, tooltip=view.tooltip,
                        layout=w.Layout(width="auto", min_width="3.2em", height="28px", padding="0 8px"))
        cell.style.button_color = COLOURS[view.state]
        cell.style.text_color = TEXT_COLOURS[view.state]
        cell.style.font_weight = "bold" if view.unexpected else "normal"
        for cls in ("nslab-cell", f"nslab-{view.state}", f"cell-{pair.source}-{pair.destination}"):
            cell.add_class(cls)
        if view.unexpected:
            cell.add_class("nslab-unexpected")
        cell.on_click(lambda _b, p=pair: self.show(p.source, p.destination))
        return cell

    def show(self, source: str, destination: str) -> None:
        """The details of one pair: each probe, and why it failed when path explanation is there."""
        pair = self.matrix.pair(source, destination)  # type: ignore[union-attr]
        rows = "".join(
            f"<tr><td><code>{html.escape(p.address)}</code></td>"
            f"<td style='color:{COLOURS[OK] if p.ok else COLOURS[FAILED]}'>"
            f"{SYMBOLS[OK] + ' ' + html.escape(_('answers')) if p.ok else SYMBOLS[FAILED] + ' ' + html.escape(_('fails'))}</td>"
            f"<td>{format_rtt(p.rtt_ms)}</td><td>{html.escape(p.error)}</td></tr>" for p in pair.probes)
        text = (f"<div class='nslab-pair'><b>{html.escape(source)} → {html.escape(destination)}</b>: "
                f"{SYMBOLS[pair.state]} {html.escape(_(WORDS[pair.state]))}<table><tr><th>{html.escape(_('address'))}</th>"
                f"<th>{html.escape(_('result'))}</th><th>{html.escape(_('time'))}</th><th></th></tr>{rows}</table>")
        why = None
        if self.explain is not None:
            try:
                why = _explain_in_language(self.explain, source, destination)
                if pair.state != OK:
                    text += (f"<div class='nslab-why'>{why._repr_html_() if hasattr(why, '_repr_html_') else html.escape(str(why))}"
                             "</div>")
            except Exception as exc:  # noqa: BLE001
                text += error_html(exc)
        self.details.value = text + "</div>"
        if why is not None:
            if self.graph is not None:
                self.graph.show_path(why)
            if self.on_explain is not None:
                self.on_explain(why)


__all__ = ["COLOURS", "CellView", "PingMatrixView", "SYMBOLS", "cell_view", "format_rtt", "legend_html"]
