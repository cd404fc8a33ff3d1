"""What every widget shares: the lab-like source it reads, and showing errors where the student clicked."""

from __future__ import annotations

import html
from typing import Any, Callable, Protocol

import ipywidgets as w

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
