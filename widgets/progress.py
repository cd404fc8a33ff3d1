"""A progress bar for long steps (starting containers): pass ``progress_bar()`` to ``lab.up``."""

from __future__ import annotations

from typing import Callable

import ipywidgets as w
from IPython.display import display


def progress_bar(description: str = "nodos / nodes") -> Callable[[str, int, int], None]:
    """A callback for ``lab.up(progress=...)`` that shows an IntProgress as nodes come up."""
    bar = w.IntProgress(value=0, min=0, max=1, description=description, bar_style="info")
    label = w.HTML()
    shown = [False]

    def update(node: str, done: int, total: int) -> None:
        if not shown[0]:
            display(w.HBox([bar, label]))
            shown[0] = True
        bar.max = max(total, 1)
        bar.value = done
        label.value = f"{done}/{total} · {node}"
        if done >= total:
            bar.bar_style = "success"

    return update
