"""One progress bar per operation: pass ``progress_bar()`` to ``lab.up`` or ``lab.add_node``.

It is tqdm's notebook bar (a plain text bar outside a notebook), created once and
shown once, whatever thread reports progress (LXD starts containers from several
threads).  The lab closes it when the operation ends: green when it finished, red
when it stopped on an error, never left half-way.  Running the cell again makes a
new bar; the old one has already been closed.
"""

from __future__ import annotations

import threading
from typing import Any

from tqdm.auto import tqdm

from .text import _


class ProgressBar:
    """A ``progress(node, done, total)`` callback over one tqdm bar, closed with ``close()``.

    The bar is made (and shown) when this object is, in the thread and the cell that asked for
    it, so progress reported later from worker threads updates that one bar and never shows another.
    """

    def __init__(self, description: str | None = None):
        self.description = description if description is not None else _("nodes")
        self._lock = threading.Lock()
        self.closed = False
        self.done = 0
        self.total = 0
        self._bar: Any = tqdm(total=None, desc=self.description, leave=True, dynamic_ncols=True)

    def __call__(self, node: str, done: int, total: int) -> None:
        with self._lock:
            if self.closed:
                return
            if total and self._bar.total != total:
                self._bar.reset(total=total)
            self.done, self.total = done, total
            self._bar.n = max(self._bar.n, done)  # reports from several threads may come out of order
            self._bar.set_postfix_str(node, refresh=False)
            self._bar.refresh()

    def close(self, ok: bool = True) -> None:
        """Finish the bar: complete when ``ok``, else left where it stopped (tqdm shows it red)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if ok and self._bar.total:
                self._bar.n = self._bar.total
                self._bar.set_postfix_str(_("done"), refresh=False)
                self._bar.refresh()
            self._bar.close()


def progress_bar(description: str | None = None) -> ProgressBar:
    """A progress callback for ``lab.up(progress=...)``: one bar, closed when the operation ends."""
    return ProgressBar(description)


__all__ = ["ProgressBar", "progress_bar"]
