// nslab topology graph: Graphviz's SVG, each node a button that opens a shell inside it.
// Hand-written, no dependencies (the SVG comes from the kernel, drawn by Graphviz).
// Model: value (SVG text), terminals (nodes open terminals), labels ({open: "Open a terminal in {node}"}).
// A click, Enter or Space on a node sends {type: "terminal", node}; the kernel opens the terminal under the graph.

function render({ model, el }) {
  el.classList.add("nslab-graph");
  const enabled = () => !!model.get("terminals");
  const open = (g) => model.send({ type: "terminal", node: g.dataset.node });

  const draw = () => {
    const active = el.contains(document.activeElement) ? document.activeElement.getAttribute("data-node") : null;
    el.innerHTML = model.get("value") || "";
    el.classList.toggle("nslab-graph-terminals", enabled());
    if (!enabled()) return;
    const label = (model.get("labels") || {}).open || "Open a terminal in {node}";
    for (const g of el.querySelectorAll("g.node")) {
      const node = (g.id || "").replace(/^node-/, "");
      if (!node) continue;
      g.dataset.node = node;
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", label.replace("{node}", node));
      g.setAttribute("data-lm-suppress-shortcuts", "true"); // Enter opens the terminal, not the cell editor
    }
    if (active) {
      const again = Array.from(el.querySelectorAll("g.node[data-node]")).find((g) => g.dataset.node === active);
      if (again) again.focus({ preventScroll: true }); // a live redraw keeps the keyboard where it was
    }
  };

  const target = (ev) => (enabled() && ev.target.closest ? ev.target.closest("g.node[data-node]") : null);
  el.addEventListener("click", (ev) => {
    const g = target(ev);
    if (g) {
      ev.preventDefault();
      open(g);
    }
  });
  el.addEventListener("keydown", (ev) => {
    const g = target(ev);
    if (g && (ev.key === "Enter" || ev.key === " ") && !ev.ctrlKey && !ev.altKey && !ev.metaKey && !ev.shiftKey) {
      ev.preventDefault();
      ev.stopPropagation();
      open(g);
    }
  });
  model.on("change:value", draw);
  model.on("change:terminals", draw);
  model.on("change:labels", draw);
  draw();
}

export default { render };
