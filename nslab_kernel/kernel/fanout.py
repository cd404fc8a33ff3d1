"""This work for each of many items, on a few dedicated threads: one helper for all of nslab.

Why dedicated threads that exit afterwards, rather than a pool: entering a
network namespace (``setns``) changes only the calling thread, and a thread
left in a lab namespace must never be reused for anything else; and
``concurrent.futures`` refuses new work once the interpreter is exiting,
which is exactly when a Jupyter kernel's at-exit hook takes its lab down.

The caller waits in short slices, so that Ctrl-C (KeyboardInterrupt) still
reaches the main thread; errors are raised after every thread has finished
(the first one wins), and no new item is started once one has failed.
"""

from __future__ import annotations

import threading
from typing import Callable, Mapping, Sequence, TypeVar

from ..core.errors import BackendError
from ..core.i18n import _
from ..core.state import NodeHandle
from . import nsfs

K = TypeVar("K")
T = TypeVar("T")
R = TypeVar("R")
WORKERS = 4  # a few threads: 50 threads fighting for the GIL around each syscall are slower


def each(fn: Callable[[T], R], items: Sequence[T], workers: int = WORKERS, name: str = "nslab") -> list[R]:
    """``[fn(item) for item in items]``, on up to ``workers`` threads started for it; in order."""
    results: list = [None] * len(items)
    errors: list[BaseException] = []
    lock = threading.Lock()
    todo = list(enumerate(items))
    todo.reverse()  # pop() from the end takes them in order

    def work() -> None:
        while True:
            with lock:
                if not todo or errors:
                    return
                i, item = todo.pop()
            try:
                results[i] = fn(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=work, name=name, daemon=True) for _ in range(max(1, min(workers, len(items))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # short slices: Ctrl-C still reaches the main thread
    if errors:
        raise errors[0]
    return results


def in_thread(fn: Callable[[], R], name: str = "nslab") -> R:
    """Run ``fn`` in one fresh thread that exits afterwards (for work that changes its namespace)."""
    return each(lambda _item: fn(), [None], 1, name)[0]


def in_each_netns(handles: Mapping[K, NodeHandle], fn: Callable[[K, NodeHandle], R],
                  workers: int = WORKERS) -> dict[K, R]:
    """``fn(key, handle)`` for every key, run inside that key's namespace; results in the caller's order.

    Refuses to work in the host's own namespace, whatever a name points at; a
    namespace that is gone is one clear error naming it.
    """
    host = nsfs.host_netns_inode()

    def one(item: tuple[K, NodeHandle]) -> R:
        key, handle = item
        try:
            nsfs.enter(handle.path, host)
        except PermissionError:
            raise BackendError(_("refusing to configure '{name}': it is the host's own namespace").format(
                name=handle.netns)) from None
        except OSError as exc:
            raise BackendError(_("network namespace '{name}' is gone ({path}: {why}); run 'nslab up' again to "
                                 "recreate it").format(name=handle.netns, path=handle.path, why=exc.strerror)) from None
        return fn(key, handle)

    items = list(handles.items())
    return dict(zip([k for k, _h in items], each(one, items, workers, "nslab-netns")))


__all__ = ["WORKERS", "each", "in_each_netns", "in_thread"]
