// nslab's terminal widget: xterm.js in an anywidget view.
// The kernel owns the shell (a pty inside a lab node); this view only draws bytes
// and sends keystrokes and its size.  Built by build.mjs into widgets/static/.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";

// A dark palette whose every colour stays readable on the background (ip -color uses
// magenta and blue for addresses, which xterm's defaults draw too dark).
const THEME = {
  background: "#1e1e1e", foreground: "#e6e6e6", cursor: "#f0f0f0", selectionBackground: "#5a6b7f",
  black: "#3c3c3c", red: "#f14c4c", green: "#23d18b", yellow: "#e5c07b", blue: "#5caeff",
  magenta: "#e07ee0", cyan: "#3cc8e0", white: "#e5e5e5",
  brightBlack: "#8a8a8a", brightRed: "#ff6b6b", brightGreen: "#5ff0a8", brightYellow: "#f5f543",
  brightBlue: "#8cc8ff", brightMagenta: "#f0a0f0", brightCyan: "#70e0f0", brightWhite: "#ffffff",
};

function bytesOf(buffer) {
  // anywidget hands binary buffers over as DataView (or ArrayBuffer)
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function render({ model, el }) {
  const view = Math.random().toString(36).slice(2);
  el.classList.add("nslab-terminal");

  const bar = document.createElement("div");
  bar.className = "nslab-terminal-bar";
  const title = document.createElement("span");
  title.className = "nslab-terminal-title";
  const status = document.createElement("span");
  status.className = "nslab-terminal-status";
  status.setAttribute("role", "status");
  const button = document.createElement("button");
  button.className = "nslab-terminal-button jupyter-button";
  bar.append(title, status, button);

  const screen = document.createElement("div");
  screen.className = "nslab-terminal-screen";
  // JupyterLab's shortcuts (Shift+Enter, Esc, A, B, D D...) must not fire while typing here
  screen.setAttribute("data-lm-suppress-shortcuts", "true");
  el.append(bar, screen);

  const term = new Terminal({
    cursorBlink: true,
    fontSize: 13,
    fontFamily: "'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace",
    scrollback: 5000,
    theme: THEME,
    allowProposedApi: false,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(screen);

  const send = (content) => model.send(content);
  const encoder = new TextEncoder();

  // Copy and paste as students expect in a browser: Ctrl+V / Ctrl+Shift+V paste (the browser's own
  // paste event, which xterm.js turns into input); Ctrl+Shift+C, or Ctrl+C while text is selected,
  // copies.  Ctrl+C with nothing selected stays the interrupt (SIGINT).
  term.attachCustomKeyEventHandler((event) => {
    if (event.type !== "keydown" || !event.ctrlKey || event.altKey || event.metaKey) return true;
    const key = event.key.toLowerCase();
    if (key === "v") return false; // let the browser paste
    if (key === "c" && (event.shiftKey || term.hasSelection())) {
      const text = term.getSelection();
      if (text && navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
      term.clearSelection();
      event.preventDefault();
      return false;
    }
    return true;
  });

  term.onData((data) => {
    if (!model.get("closed")) send({ type: "input", data });
  });
  term.onBinary((data) => {
    if (!model.get("closed")) send({ type: "input", data, binary: true });
  });
  term.onResize(({ rows, cols }) => send({ type: "resize", rows, cols }));

  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "output" && buffers && buffers.length) {
      term.write(bytesOf(buffers[0]));
    } else if (msg.type === "reset") {
      term.reset();
    } else if (msg.type === "replay" && msg.view === view) {
      term.reset();
      if (buffers && buffers.length) term.write(bytesOf(buffers[0]));
    }
  });

  const update = () => {
    const labels = model.get("labels") || {};
    const closed = model.get("closed");
    title.textContent = model.get("title");
    title.title = model.get("command");
    status.textContent = model.get("status_text");
    el.classList.toggle("nslab-terminal-closed", closed);
    button.textContent = closed ? labels.reopen || "Reopen" : labels.close || "Close";
    button.title = closed ? labels.reopen_tip || "" : labels.close_tip || "";
    term.options.disableStdin = closed;
    term.options.cursorBlink = !closed;
    screen.style.height = model.get("height");
  };
  model.on("change:closed", update);
  model.on("change:status_text", update);
  model.on("change:title", update);
  model.on("change:labels", update);
  model.on("change:height", () => { update(); refit(); });
  update();

  button.addEventListener("click", () => {
    send({ type: model.get("closed") ? "reopen" : "close", view, rows: term.rows, cols: term.cols });
    if (model.get("closed")) term.focus();
  });

  // Fit the terminal to its box whenever the box changes size (a resized panel, a
  // sidebar opened): the kernel learns the new rows x cols and tells the shell.
  let pending = 0;
  const refit = () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      if (screen.offsetWidth > 0 && screen.offsetHeight > 0) {
        try { fit.fit(); } catch (e) { /* not laid out yet */ }
      }
    });
  };
  const observer = new ResizeObserver(refit);
  observer.observe(screen);
  refit();

  // Ask for what the shell wrote before this view existed (a re-rendered cell, a reload).
  requestAnimationFrame(() => send({ type: "ready", view, rows: term.rows, cols: term.cols }));
  el.addEventListener("click", () => { if (!model.get("closed")) term.focus(); });
  // For tests and screen readers: the text currently on the screen.
  el.nslabTerminalText = () => {
    const lines = [];
    const buf = term.buffer.active;
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
    return lines.join("\n");
  };
  el.nslabTerminalSize = () => [term.rows, term.cols];
  el.dataset.nslabView = view;

  return () => {
    observer.disconnect();
    cancelAnimationFrame(pending);
    term.dispose();
  };
}

export default { render };
