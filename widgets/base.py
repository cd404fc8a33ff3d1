"""What every widget shares: the lab-like source it reads, and showing errors where the student clicked."""

from __future__ import annotations

import html
import weakref
from typing import Any, Callable, Protocol

import ipywidgets as w
from IPython import get_ipython

from nslab_kernel.core.errors import NslabError


class LabLike(Protocol):
    """What the widgets need from a lab (``nslab_kernel.Lab`` is one; a saved snapshot is another)."""

    topology: Any

    def state(self) -> Any: ...

    def ping_matrix(self, timeout: float = 1.0) -> Any: ...


def error_html(exc: BaseException) -> str:
    """One readable line, never a traceback from deep inside a library."""
    text = str(exc) if isinstance(exc, NslabError) else f"{type(exc).__name__}: {exc}"
    return f"<div class='nslab-error' style='color:#cf222e'>⚠ {html.escape(text)}</div>"


def guarded(message: w.HTML, fn: Callable[[], None]) -> None:
    """Run a button's work; put any error in the widget's message line."""
    try:
        message.value = ""
        fn()
    except Exception as exc:  # noqa: BLE001 - shown where the student clicked
        message.value = error_html(exc)


_BY_CELL: dict[tuple[str, str], list[tuple[str, "weakref.ref[w.Widget]"]]] = {}


def _cell_and_run() -> tuple[str | None, str | None]:
    """The notebook cell being run (JupyterLab sends its id) and this run's message id."""
    try:
        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:  # noqa: BLE001 - not in a kernel
        return None, None
    if not parent:
        return None, None
    return (parent.get("metadata") or {}).get("cellId"), (parent.get("header") or {}).get("msg_id")


def replaces_earlier_output(widget: w.Widget) -> None:
    """Running a cell again replaces its output: close the widgets its earlier run made
    (of the same class), so nothing keeps following the kernel for an output nobody sees."""
    cell, run = _cell_and_run()
    if cell is None:
        return
    key = (cell, type(widget).__name__)
    kept = []
    for old_run, ref in _BY_CELL.get(key, []):
        old = ref()
        if old is None:
            continue
        if old_run != run:
            try:
                old.close()
            except Exception:  # noqa: BLE001
                pass
        else:
            kept.append((old_run, ref))
    kept.append((run, weakref.ref(widget)))
    _BY_CELL[key] = kept
