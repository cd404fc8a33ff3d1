"""Can normal users have a sandbox here?  What blocks user namespaces, and how to allow them.

:func:`verdict` is a pure function of what :func:`..kernel.sandbox.probe` found
(the sysctls, the seccomp mode, the container, and a real attempt to create a
user namespace in a throw-away child), so each message can be tested on given
values; :func:`probe` runs that attempt through nslab's own launcher, the one
program an AppArmor profile allows to create user namespaces.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

from ..core.i18n import _
from ..kernel import sandbox

PERSIST = "/etc/sysctl.d/90-nslab.conf"
APPARMOR_FILE = "/etc/apparmor.d/nslab-sandbox"
APPARMOR_TEMPLATE = """# nslab: allow unprivileged user namespaces for nslab's sandbox launcher ONLY
# (Ubuntu 23.10+ / 24.04 set kernel.apparmor_restrict_unprivileged_userns=1).
# Never give 'unshare' itself such a profile: that would allow it for every program.
# The path after 'profile nslab-sandbox' must be YOUR install's launcher (the nslab-sandbox script next to
# 'nslab'); 'nslab doctor --apparmor-profile' prints this profile with it filled in.
# Install:  nslab doctor --apparmor-profile | sudo tee {file}
#           sudo apparmor_parser -r {file}
abi <abi/4.0>,
include <tunables/global>

profile nslab-sandbox {launcher} flags=(unconfined) {{
  userns,

  # Site-specific additions and overrides (see local/README).
  include if exists <local/nslab-sandbox>
}}
"""


def launcher_path() -> str:
    """The launcher's path as an AppArmor profile must name it (the ``nslab-sandbox`` script)."""
    found = sandbox.launcher()
    return found[0] if len(found) == 1 else str(Path(sys.executable).parent / "nslab-sandbox")


def apparmor_profile(launcher: str | None = None) -> str:
    """The AppArmor profile that lets ``launcher`` (and nothing else) create user namespaces."""
    return APPARMOR_TEMPLATE.format(launcher=launcher or launcher_path(), file=APPARMOR_FILE)


def probe(timeout: float = 20.0) -> dict:
    """What :func:`..kernel.sandbox.probe` finds, run through the launcher (as a sandbox would be made)."""
    try:
        proc = subprocess.run([*sandbox.launcher(), "probe"], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        found = json.loads(proc.stdout)
        if isinstance(found, dict) and "ok" in found:
            found["via"] = "launcher"
            return found
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    found = sandbox.probe()
    found["via"] = "in-process"
    return found


def verdict(found: dict, launcher: str = "nslab-sandbox", as_root: bool | None = None,
            lang: str | None = None, profile_installed: bool | None = None) -> tuple[bool, str, str]:
    """(ok, what was found, how to fix it) for a normal user's sandbox, from :func:`probe`'s values.

    Run as root, a successful attempt proves little for students (root is exempt from AppArmor's and
    Debian's restrictions), so the sysctls decide then.
    """
    settings = found.get("settings") or {}
    step, code = str(found.get("step") or ""), int(found.get("errno") or 0)
    root = (found.get("uid") == 0) if as_root is None else as_root
    if profile_installed is None:
        profile_installed = os.path.exists(APPARMOR_FILE)
    why = os.strerror(code) if code else _("refused", lang)
    apparmor = settings.get("kernel.apparmor_restrict_unprivileged_userns") == "1"
    debian = settings.get("kernel.unprivileged_userns_clone") == "0"
    maximum = settings.get("user.max_user_namespaces") == "0"
    blocked = not found.get("ok") or (root and ((apparmor and not profile_installed) or debian or maximum))
    if not blocked:
        return True, _("normal users can each have a sandbox of their own (unprivileged user namespaces work)",
                       lang), ""
    if apparmor and (not found.get("ok") or not profile_installed):
        return False, _("AppArmor restricts unprivileged user namespaces here "
                        "(kernel.apparmor_restrict_unprivileged_userns=1, the default of Ubuntu 23.10 and later)",
                        lang), \
            _("allow them for nslab's launcher only: nslab doctor --apparmor-profile | sudo tee {file} && "
              "sudo apparmor_parser -r {file} (the profile names {launcher}; never give unshare itself "
              "such a profile)", lang).format(file=APPARMOR_FILE, launcher=launcher)
    if debian:
        return False, _("this kernel forbids unprivileged user namespaces (kernel.unprivileged_userns_clone=0, as "
                        "older Debian kernels do)", lang), \
            _("sudo sysctl -w kernel.unprivileged_userns_clone=1; to keep it after a reboot: "
              "echo kernel.unprivileged_userns_clone=1 | sudo tee {persist}", lang).format(persist=PERSIST)
    if maximum or code == errno.ENOSPC:
        return False, _("user namespaces are switched off (user.max_user_namespaces={value})", lang).format(
            value=settings.get("user.max_user_namespaces")), \
            _("sudo sysctl -w user.max_user_namespaces=15000; to keep it after a reboot: "
              "echo user.max_user_namespaces=15000 | sudo tee {persist}", lang).format(persist=PERSIST)
    if step == "unshare" and code == errno.EPERM and found.get("seccomp") == 2:
        where = found.get("container") or _("a container", lang)
        return False, _("this runs in a container ({where}) whose seccomp profile blocks unshare(CLONE_NEWUSER)",
                        lang).format(where=where), \
            _("start the container with a seccomp profile that allows unshare(CLONE_NEWUSER) (Docker: "
              "--security-opt seccomp=PROFILE.json), or give each student a Kubernetes pod with user namespaces "
              "(hostUsers: false, Kubernetes 1.33+), where nslab runs as the pod's root", lang)
    return False, _("this machine refused to create a user namespace (step {step}: {why})", lang).format(
        step=step or "unshare", why=why), \
        _("ask the machine's administrator to allow unprivileged user namespaces, or run nslab as root", lang)


__all__ = ["apparmor_profile", "launcher_path", "probe", "verdict"]
