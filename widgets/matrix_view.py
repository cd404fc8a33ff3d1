"""PingMatrixView: the node-by-node grid, coloured reachable / partial / unreachable, with details on click."""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as w

from nslab_kernel.core.results import FAILED, OK, PARTIAL, Pair, PingMatrix

from .base import LabLike, error_html, guarded

COLOURS = {OK: "#2da44e", PARTIAL: "#d4a72c", FAILED: "#cf222e"}
WORDS = {OK: "alcanzable / reachable", PARTIAL: "parcial / partial", FAILED: "inalcanzable / unreachable"}


class PingMatrixView(w.VBox):
    """A grid of buttons, one per (source, destination); click one to see its probes and why."""

    def __init__(self, lab: LabLike | None = None, matrix: PingMatrix | None = None, run: bool = False,
                 explain: Callable[[str, str], Any] | None = None, on_explain: Callable[[Any], None] | None = None):
        self.lab = lab
        self.matrix = matrix
        self.explain = explain or (getattr(lab, "explain", None) if lab is not None else None)
        self.on_explain = on_explain
        self.grid = w.GridBox(layout=w.Layout(grid_gap="2px"))
        self.grid.add_class("nslab-matrix")
        self.details = w.HTML()
        self.details.add_class("nslab-matrix-details")
        self.message = w.HTML()
        self.progress = w.IntProgress(value=0, min=0, max=1, description="", layout=w.Layout(width="200px",
                                                                                             visibility="hidden"))
        self.button = w.Button(description="Ping matrix", icon="play", tooltip="probe every node to every address")
        self.button.on_click(lambda _b: self.run())
        self.legend = w.HTML(" ".join(f"<span style='background:{c};color:white;padding:1px 6px;border-radius:3px'>"
                                      f"{WORDS[s]}</span>" for s, c in COLOURS.items()))
        self.cells: dict[tuple[str, str], w.Button] = {}
        top = [w.HBox([self.button, self.progress])] if lab is not None else []
        super().__init__(top + [self.legend, self.grid, self.message, self.details])
        if matrix is not None:
            self.draw()
        elif run and lab is not None:
            self.run()

    @classmethod
    def from_dict(cls, data: dict) -> "PingMatrixView":
        return cls(None, PingMatrix.from_dict(data))

    def run(self) -> None:
        def work() -> None:
            self.button.disabled = True
            self.progress.layout.visibility = "visible"
            self.progress.bar_style = "info"
            self.progress.value = 0
            try:
                self.matrix = self.lab.ping_matrix()  # type: ignore[union-attr]
            finally:
                self.progress.value = 1
                self.progress.layout.visibility = "hidden"
                self.button.disabled = False
            self.draw()
        guarded(self.message, work)

    def draw(self) -> None:
        m = self.matrix
        if m is None:
            return
        nodes = m.nodes
        self.grid.layout.grid_template_columns = f"70px repeat({len(nodes)}, 76px)"
        children: list[w.Widget] = [w.HTML("<b>de \\ a</b>")]
        children += [w.HTML(f"<b>{html.escape(n)}</b>") for n in nodes]
        self.cells = {}
        for s in nodes:
            children.append(w.HTML(f"<b>{html.escape(s)}</b>"))
            for d in nodes:
                if s == d:
                    cell = w.Button(description="", disabled=True, layout=w.Layout(width="76px"))
                    cell.add_class("nslab-cell-self")
                else:
                    pair = m.pair(s, d)
                    cell = self._cell(pair)
                    self.cells[(s, d)] = cell
                children.append(cell)
        self.grid.children = children
        ok = sum(p.ok for p in m.probes)
        self.message.value = (f"{ok}/{len(m.probes)} sondas respondidas / probes answered "
                              f"({m.elapsed})" + ("" if not m.unexpected else
                                                          f" · {len(m.unexpected)} distintas de lo esperado / "
                                                          "differ from the target"))

    def _cell(self, pair: Pair) -> w.Button:
        state = pair.state
        expected = pair.expected_state
        text = f"{pair.rtt_ms:.3g} ms" if pair.rtt_ms is not None else "—"
        if expected is not None and expected != state:
            text = "! " + text
        tip = f"{pair.source} → {pair.destination}: {WORDS[state]}"
        if expected is not None:
            tip += f" (esperado / expected: {WORDS[expected]})"
        cell = w.Button(description=text, tooltip=tip, layout=w.Layout(width="76px"))
        cell.style.button_color = COLOURS[state]
        cell.style.text_color = "white"
        for cls in ("nslab-cell", f"nslab-{state}", f"cell-{pair.source}-{pair.destination}"):
            cell.add_class(cls)
        if expected is not None and expected != state:
            cell.add_class("nslab-unexpected")
        cell.on_click(lambda _b, p=pair: self.show(p.source, p.destination))
        return cell

    def show(self, source: str, destination: str) -> None:
        """The details of one pair: each probe, and why it failed when path explanation is there."""
        pair = self.matrix.pair(source, destination)  # type: ignore[union-attr]
        rows = "".join(
            f"<tr><td>{html.escape(p.address)}</td><td style='color:{COLOURS[OK] if p.ok else COLOURS[FAILED]}'>"
            f"{'ok' if p.ok else 'falla / fails'}</td><td>{'' if p.rtt_ms is None else f'{p.rtt_ms:.3f} ms'}</td>"
            f"<td>{html.escape(p.error)}</td></tr>" for p in pair.probes)
        text = (f"<div class='nslab-pair'><b>{html.escape(source)} → {html.escape(destination)}</b>: "
                f"{WORDS[pair.state]}<table><tr><th>dirección / address</th><th></th><th>rtt</th><th></th></tr>"
                f"{rows}</table>")
        if pair.state != OK and self.explain is not None:
            try:
                why = self.explain(source, destination)
                text += f"<div class='nslab-why'>{why._repr_html_() if hasattr(why, '_repr_html_') else html.escape(str(why))}</div>"
                if self.on_explain is not None:
                    self.on_explain(why)
            except Exception as exc:  # noqa: BLE001
                text += error_html(exc)
        self.details.value = text + "</div>"
