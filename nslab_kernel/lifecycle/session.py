"""Opening a lab from a notebook: pick the backend, say plainly what is missing, clean up at exit.

No UI imports: results display themselves through ``_repr_html_``.
"""

from __future__ import annotations

import atexit
import weakref
from typing import Any

from ..backends.auto import WHY_NO_SANDBOX, WHY_OUTSIDE, WHY_ROOTLESS, choose
from ..core.i18n import N_, _
from .lab import Lab

_open: "weakref.WeakSet[Lab]" = weakref.WeakSet()
SIMULATED_NOTE = N_("⚠ Simulated network: this machine cannot create network namespaces, so nslab simulates them "
                    "in Python. Steps, checks, pings and explanations behave as the kernel would; raw commands "
                    "(!ip ...) cannot run here.")


SAID = (WHY_ROOTLESS, WHY_NO_SANDBOX, WHY_OUTSIDE)  # the choices a notebook explains when it makes them


def choose_backend(backend: str = "auto") -> str:
    """``auto``: for a normal user, plain namespaces in their own sandbox (never LXD, root-equivalent),
    and says why in the notebook's language; for root, LXD where it is usable, else plain namespaces,
    else the simulation."""
    if backend != "auto":
        return backend
    chosen, why = choose()
    if why in SAID:
        print(_(why))
    return chosen


def open_lab(topology: str, backend: str = "auto", lab: "str | Lab | None" = None, image: str | None = None,
             keep: bool = False) -> Lab:
    """A Lab for a notebook.  Unless ``keep``, it is taken down when the kernel shuts down or restarts.

    ``lab`` is the lab's name, or the Lab this cell returned the last time it ran
    (``lab = open_lab(..., lab, ...)`` run twice): running a cell again is safe.
    """
    if isinstance(lab, Lab):
        lab = lab.name
    chosen = choose_backend(backend)
    options: dict[str, Any] = {"image": image} if (image and chosen == "lxd") else {}
    result = Lab.load(topology, backend=chosen, lab=lab, **options)
    result.backend.preflight()
    if chosen == "sim":
        print(_(SIMULATED_NOTE))
    if not keep:
        _open.add(result)
    return result


@atexit.register
def _down_all() -> None:
    """Kernel shutdown or restart: remove the labs this kernel opened."""
    for lab in list(_open):
        try:
            lab.down()
        except Exception:  # noqa: BLE001 - exiting anyway; 'nslab cleanup' remains
            pass
