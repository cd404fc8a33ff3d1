"""Is this machine ready for the lab?  Each check says what is missing and exactly what to do."""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass

from ..backends.images import DEFAULT_IMAGE, image_exists
from ..backends.lxd import connect
from ..backends.netns import require_netns_privileges
from ..core.errors import NslabError
from ..core.i18n import _
from ..kernel import sandbox
from . import userns


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # False: only some notebooks or backends need it


@dataclass
class Doctor:
    checks: list[Check]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def __str__(self) -> str:
        lines = []
        for c in self.checks:
            lines.append(f"{'ok ' if c.ok else 'NO '} {c.name}: {c.detail}" + (f"\n    -> {c.fix}" if c.fix and not c.ok else ""))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{'✔' if c.ok else '✘'}</td><td><b>{html.escape(c.name)}</b></td>"
                       f"<td>{html.escape(c.detail)}</td><td>{'' if c.ok else html.escape(c.fix)}</td></tr>"
                       for c in self.checks)
        return f"<table class='nslab-doctor'>{rows}</table>"


def examine(lxd: bool = True) -> Doctor:
    """Look at the machine; change nothing."""
    checks: list[Check] = []
    rootless = sandbox.wanted()
    ok, detail, fix = userns.verdict(userns.probe(), userns.launcher_path())
    # A normal user's labs live in their own sandbox: required for them; for root it tells whether the
    # students of a class server can each have one.
    checks.append(Check("sandbox", ok, detail, fix, required=rootless))
    if rootless:
        checks.append(Check("namespaces", ok, _("your labs are built in your own sandbox") if ok else
                            _("without a sandbox a normal user cannot create network namespaces"),
                            _("see 'sandbox' above; until then the notebooks use the simulated backend")))
    else:
        try:
            require_netns_privileges()
            checks.append(Check("namespaces", True, _("this process can create network namespaces")))
        except NslabError as exc:
            checks.append(Check("namespaces", False, str(exc),
                                _("restart this notebook with the kernel 'Python 3 (nslab)' or start JupyterLab with sudo; "
                                  "without privileges the notebooks use the simulated backend")))
    ip = shutil.which("ip")
    checks.append(Check("iproute2", bool(ip), _("'ip' is {path}").format(path=ip) if ip else
                        _("the 'ip' command is missing"), "sudo apt-get install iproute2"))
    dot = shutil.which("dot")
    checks.append(Check("graphviz", bool(dot), _("'dot' is {path}").format(path=dot) if dot else
                        _("Graphviz's 'dot' is missing (the topology graph needs it)"), "sudo apt-get install graphviz",
                        required=False))
    if lxd and rootless:
        checks.append(Check("lxd", True, _("not used by a normal user (access to LXD is root-equivalent): your labs "
                            "are plain network namespaces in your own sandbox"), required=False))
    elif lxd:
        try:
            client = connect()
            checks.append(Check("lxd", True, _("LXD {version} answers").format(
                version=client.host_info["environment"].get("server_version", "")), required=False))
            has = image_exists(client, DEFAULT_IMAGE)
            checks.append(Check("lxd image", has, (_("image '{image}' is in LXD") if has else
                                                   _("image '{image}' is missing")).format(image=DEFAULT_IMAGE),
                                _("sudo nslab image (builds it offline from busybox-static)"), required=False))
        except NslabError as exc:
            checks.append(Check("lxd", False, str(exc), _("sudo ./scripts/lxd-start.sh (the notebooks then use LXD; "
                                                          "without it they use plain namespaces)"), required=False))
    return Doctor(checks)


__all__ = ["Check", "Doctor", "examine"]
