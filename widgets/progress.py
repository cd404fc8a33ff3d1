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
    """A ``progress(node, done, total)`` callback over a tqdm bar, closed with ``close()``."""

    def __init__(self, description: str | None = None):
        self.description = description if description is not None else _("nodes")
        self._bar: Any = None
        self._lock = threading.Lock()
        self.closed = False
        self.done = 0
        self.total = 0

    def _open(self, total: int) -> Any:
        return tqdm(total=total, desc=self.description, unit="", leave=True, dynamic_ncols=True,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {postfix}")

    def __call__(self, node: str, done: int, total: int) -> None:
        with self._lock:
            if self.closed:
                return
            if self._bar is None:
                self._bar = self._open(max(total, 1))
            if self._bar.total != total and total:
                self._bar.total = total
            self.done, self.total = done, total
            self._bar.n = done
            self._bar.set_postfix_str(node, refresh=False)
            self._bar.refresh()

    def close(self, ok: bool = True) -> None:
        """Finish the bar: complete when ``ok``, else left where it stopped (tqdm shows it red)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            if self._bar is None:
                return
            if ok and self._bar.total:
                self._bar.n = self._bar.total
                self._bar.set_postfix_str(_("done"), refresh=False)
                self._bar.refresh()
            self._bar.close()


def progress_bar(description: str | None = None) -> ProgressBar:
    """A progress callback for ``lab.up(progress=...)``: one bar, closed when the operation ends."""
    return ProgressBar(description)


__all__ = ["ProgressBar", "progress_bar"]
