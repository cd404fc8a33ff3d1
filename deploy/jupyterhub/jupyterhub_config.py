"""JupyterHub for a class: every student's server runs as their own Unix user, with nslab's sandboxed kernel.

Started by ``start.sh`` (next to this file), which installs JupyterHub, JupyterLab, nslab and
configurable-http-proxy under $NSLAB_HUB_PREFIX and passes these settings through the environment:

  NSLAB_HUB_PREFIX   where start.sh installed everything (default /opt/nslab-hub)
  NSLAB_HUB_STATE    the hub's database, cookie secret and logs (default /var/lib/nslab-hub, root only)
  NSLAB_HUB_IP / NSLAB_HUB_PORT        the public address students open (default 0.0.0.0:8000)
  NSLAB_HUB_API_PORT                   configurable-http-proxy's REST API, on 127.0.0.1 (default 8001)
  NSLAB_HUB_HUB_PORT                   the hub's own internal port, on 127.0.0.1 (default 8081)
  NSLAB_HUB_USER_PORTS                 ports for the students' servers, "FIRST-LAST" (default: any free port)
  NSLAB_HUB_GROUP    the Unix group whose members may log in (default nslab-students)
  NSLAB_HUB_ADMINS   comma-separated admin users (default none)

Students log in with their Unix password (PAM). No student ever gets root or sudo: the kernel
"Python 3 (nslab)" runs inside the student's own user-namespace sandbox (``nslab`` rootless backend).
"""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Unicode

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

env = os.environ.get
PREFIX = Path(env("NSLAB_HUB_PREFIX", "/opt/nslab-hub"))
STATE = Path(env("NSLAB_HUB_STATE", "/var/lib/nslab-hub"))
VENV = PREFIX / "venv"


class NslabSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that keeps the students' servers inside a port range and gives each
    student a copy of the course notebooks (never overwriting a file the student already has)."""

    port_range = Unicode("", config=True, help="'FIRST-LAST': ports for the single-user servers ('' = any free port)")

    # ports handed out to servers of this hub: a port is only bound once the server is up,
    # so two students spawning at the same moment would otherwise get the same free port
    _handed_out: dict[str, int] = {}

    def _free_port_in_range(self) -> int:
        first, last = (int(p) for p in self.port_range.split("-"))
        taken = set(self._handed_out.values())
        for port in range(first, last + 1):
            if port in taken:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind((self.ip or "127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port in NSLAB_HUB_USER_PORTS={self.port_range}")

    async def start(self):
        if self.port_range:
            self.port = self._free_port_in_range()
            self._handed_out[f"{self.user.name}/{self.name}"] = self.port
        return await super().start()

    async def stop(self, now=False):
        try:
            return await super().stop(now=now)
        finally:
            self._handed_out.pop(f"{self.user.name}/{self.name}", None)


def copy_course_notebooks(spawner) -> None:
    """~/nslab/{es,en}/: the course notebooks, copied once; a student's own edits are kept.

    The copy runs as the student (never as root inside a folder the student controls, where a
    symlink could send root's writes anywhere)."""
    src = PREFIX / "notebooks"
    if not src.is_dir():
        return
    user = pwd.getpwnam(spawner.user.name)
    done = subprocess.run(["/bin/sh", "-c", 'mkdir -p "$HOME/nslab" && cp -R -n "$1/." "$HOME/nslab/"', "sh", str(src)],
                          user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd=user.pw_dir,
                          env={"HOME": user.pw_dir, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    if done.returncode != 0:
        spawner.log.warning("copying the course notebooks for %s failed: %s", user.pw_name, done.stderr.strip())


# --- addresses ---------------------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://{env('NSLAB_HUB_IP', '0.0.0.0')}:{env('NSLAB_HUB_PORT', '8000')}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{env('NSLAB_HUB_HUB_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('NSLAB_HUB_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [str(PREFIX / "chp" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

# --- state: nothing in the current directory ----------------------------------------------------
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# --- who may log in: Unix users of one group, with their Unix password ------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {env("NSLAB_HUB_GROUP", "nslab-students")}
c.Authenticator.admin_users = {u for u in env("NSLAB_HUB_ADMINS", "").split(",") if u}

# --- each student's server: their own Unix user, JupyterLab, the nslab kernel ----------------
c.JupyterHub.spawner_class = NslabSpawner
c.NslabSpawner.port_range = env("NSLAB_HUB_USER_PORTS", "")
c.Spawner.cmd = [str(VENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/nslab"
c.Spawner.notebook_dir = "~"
c.Spawner.args = ["--MultiKernelManager.default_kernel_name=nslab",
                  "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
c.Spawner.pre_spawn_hook = copy_course_notebooks
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
