"""The LXD backend: every node a real container, as in the activity.

Containers are created through pylxd over the local unix socket, with no network
device of LXD's own (every link is one of the lab's veth pairs), and carry
``user.nslab.*`` keys naming their lab, so ownership is visible in LXD itself.
Each container's netns is then named exactly as the activity teaches: a symlink
``/var/run/netns/<name>`` -> ``/proc/<init pid>/ns/net``.  From there the same
netns code configures links, addresses, routes and forwarding.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from typing import Any, Sequence

from ..core import commands, records
from ..core.errors import BackendError, InputError, NameClash, PrivilegeError
from ..core.i18n import N_, _
from ..core.records import Record
from ..core.state import NodeHandle, NodeStatus
from ..core.steps import Step
from ..kernel import fanout, nsfs
from ..kernel.pty import ShellCommand, container_shell
from ..model.topology import Topology
from .base import Backend, ExecResult
from .images import DEFAULT_IMAGE, ensure_image
from .netns import require_netns_privileges

SOCKETS = ("/var/lib/lxd/unix.socket", "/var/snap/lxd/common/lxd/unix.socket")
TAG_LAB, TAG_NODE, TAG_INSTANCE = "user.nslab.lab", "user.nslab.node", "user.nslab.instance"
TAG_LEDGER = "user.nslab.ledger"  # the state dir whose records list the container (records.ledger_id())
REMOTES = {
    "images": ("https://images.linuxcontainers.org", "simplestreams"),
    "ubuntu": ("https://cloud-images.ubuntu.com/releases", "simplestreams"),
    "ubuntu-daily": ("https://cloud-images.ubuntu.com/daily", "simplestreams"),
}
START_HINT = N_("start it with: sudo ./scripts/lxd-start.sh (or systemctl start lxd / snap start lxd)")
PROC_LINK = re.compile(r"^/proc/(\d+)/ns/net$")
PAYLOAD = re.compile(r"/lxc\.payload\.([^/\s]+)$", re.M)


def init_pids() -> dict[str, int]:
    """Container name -> init PID, from one scan of /proc (LXD's state API takes ~120 ms a call).

    A container's init is the process in cgroup ``lxc.payload.<name>`` that is
    PID 1 in its own PID namespace.
    """
    out: dict[str, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cgroup") as fh:
                match = PAYLOAD.search(fh.read())
            if not match:
                continue
            with open(f"/proc/{entry.name}/status") as fh:
                nspid = next((line.split()[1:] for line in fh if line.startswith("NSpid:")), [])
        except OSError:
            continue
        if len(nspid) >= 2 and nspid[-1] == "1":
            out[match.group(1)] = int(entry.name)
    return out


def socket_path() -> str | None:
    if os.environ.get("LXD_SOCKET"):
        return os.environ["LXD_SOCKET"]
    if os.environ.get("LXD_DIR"):
        return os.path.join(os.environ["LXD_DIR"], "unix.socket")
    return next((p for p in SOCKETS if os.path.exists(p)), None)


class _PoolFullFilter(logging.Filter):
    """pylxd's unix-socket pool keeps one connection; threads sharing a client make urllib3
    warn that it discards the extra ones.  Harmless, and not for students' eyes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Connection pool is full" not in record.getMessage()


logging.getLogger("urllib3.connectionpool").addFilter(_PoolFullFilter())


def connect() -> Any:
    """A pylxd client for the local daemon, or one clear error saying what to do."""
    try:  # pylxd is optional (the 'lxd' extra): imported where the daemon is first needed
        import pylxd
        from pylxd.exceptions import ClientConnectionFailed
    except ImportError:
        raise BackendError("the lxd backend needs pylxd: pip install 'nslab[lxd]'") from None
    path = socket_path()
    if path is None or not os.path.exists(path):
        if not (shutil.which("lxd") or os.path.exists("/snap/bin/lxd")):
            raise BackendError("LXD is not installed: install it (sudo apt-get install lxd, or sudo snap install lxd), "
                               "then run sudo ./scripts/lxd-start.sh; or use --backend netns")
        raise BackendError(_("LXD is installed but not running (no socket at {path}); {hint}").format(
            path=path or SOCKETS[0], hint=_(START_HINT)))
    if not os.access(path, os.R_OK | os.W_OK):
        raise PrivilegeError(_("cannot talk to LXD: {path} is not accessible to this user (access to LXD is "
                               "root-equivalent); run as root (sudo), or use --backend netns: a normal user's labs "
                               "live in their own sandbox").format(path=path))
    try:
        client = pylxd.Client(endpoint=path, timeout=60)
        client.host_info  # noqa: B018 - forces a round trip
    except ClientConnectionFailed:
        raise BackendError(_("LXD is not answering on {path}; {hint}").format(path=path, hint=_(START_HINT))) from None
    except (ConnectionError, OSError) as exc:
        raise BackendError(_("LXD is not answering on {path} ({why}); {hint}").format(
            path=path, why=exc, hint=_(START_HINT))) from None
    except Exception as exc:  # pylxd wraps requests' errors in several ways
        raise BackendError(_("LXD is not answering on {path} ({why}); {hint}").format(
            path=path, why=type(exc).__name__, hint=_(START_HINT))) from None
    return client


def _image_source(image: str) -> dict[str, Any]:
    if ":" in image:
        remote, alias = image.split(":", 1)
        if remote not in REMOTES:
            raise InputError(f"unknown image server '{remote}:' in '{image}'; known: "
                             f"{', '.join(r + ':' for r in REMOTES)} (or a local alias like {DEFAULT_IMAGE})")
        server, protocol = REMOTES[remote]
        return {"type": "image", "mode": "pull", "server": server, "protocol": protocol, "alias": alias}
    return {"type": "image", "alias": image}


class LxdBackend(Backend):
    name = "lxd"

    def __init__(self, image: str | None = None):
        self.image = image or DEFAULT_IMAGE
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def options(self) -> dict[str, Any]:
        return {"image": self.image} if self.image != DEFAULT_IMAGE else {}

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = connect()
            return self._client

    def preflight(self) -> None:
        self.client  # noqa: B018 - connect or say why not (first: for a normal user that is the real obstacle)
        require_netns_privileges()

    def handle(self, topo: Topology, node: str) -> NodeHandle:
        name = topo.netns_name(node)
        return NodeHandle(node, name, nsfs.netns_path(name))

    # --- reading ---------------------------------------------------------------------------
    def _instance(self, name: str) -> Any | None:
        from pylxd.exceptions import NotFound  # optional dependency; present once self.client connected
        try:
            return self.client.instances.get(name)
        except NotFound:
            return None

    def _pid(self, inst: Any, pids: dict[str, int] | None = None) -> int:
        pid = (pids if pids is not None else init_pids()).get(inst.name)
        return pid if pid is not None else inst.state().pid

    @staticmethod
    def _ours(instance: Any, record: Record | None) -> bool:
        return record is not None and instance.config.get(TAG_INSTANCE) == record.instance

    def node_state(self, topo: Topology, record: Record | None, node: str) -> NodeStatus:
        cname, name = topo.container_name(node), topo.netns_name(node)
        # Fast path: the name is the symlink nslab recorded, and it leads to the init of
        # the container nslab created (the record says which containers are ours).
        path = nsfs.netns_path(name)
        if record is not None and _recorded_link(record, name) and any(
                e.get("name") == cname for e in record.of_type("container")) and os.path.islink(path):
            match = PROC_LINK.match(os.readlink(path))
            if match and init_pids().get(cname) == int(match.group(1)):
                return self._link_state(name, int(match.group(1)))
        inst = self._instance(cname)
        if inst is None:
            return NodeStatus.MISSING
        if not self._ours(inst, record):
            return NodeStatus.FOREIGN
        if inst.status != "Running":
            return NodeStatus.STOPPED
        return self._link_state(name, self._pid(inst))

    @staticmethod
    def _link_state(name: str, pid: int) -> NodeStatus:
        path = nsfs.netns_path(name)
        if not os.path.lexists(path):
            return NodeStatus.UNNAMED
        try:
            linked = os.stat(path).st_ino
            current = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            return NodeStatus.STALE  # dangling: the process it named is gone
        return NodeStatus.UP if linked == current else NodeStatus.STALE

    # --- creating ----------------------------------------------------------------------------
    def create_nodes(self, topo: Topology, record: Record, nodes: Sequence[str], progress=None) -> list[Step]:
        client = self.client
        plan: list[tuple[str, str, Any]] = []
        existing = {i.name: i for i in client.instances.all()} if nodes else {}
        for node in nodes:
            cname = topo.container_name(node)
            inst = existing.get(cname)
            if inst is not None and not self._ours(inst, record):
                raise NameClash(_("an LXD container named '{container}' already exists and is not part of lab "
                                  "'{lab}'; nslab will not touch it: choose another lab name (--lab) or remove it "
                                  "yourself if it is yours (lxc delete --force {container})").format(
                    container=cname, lab=topo.name))
            path = nsfs.netns_path(topo.netns_name(node))
            if os.path.lexists(path) and not _recorded_link(record, topo.netns_name(node)):
                raise NameClash(_("{path} already exists and nslab did not create it; choose another lab name "
                                  "(--lab) or remove it if it is yours (ip netns del {netns})").format(
                    path=path, netns=topo.netns_name(node)))
            plan.append((node, cname, inst))
        image = self.image
        if any(inst is None for _n, _c, inst in plan):
            if image == DEFAULT_IMAGE:
                ensure_image(client, image)
            elif ":" not in image and not client.images.exists(image, alias=True):
                raise InputError(f"LXD has no image '{image}' (see 'lxc image list'); leave --image out to use "
                                 f"nslab's offline image, or name a server image like images:alpine/3.20")
        source = _image_source(image)
        devices = {name: {"type": "none"} for name, dev in self._default_nics().items()}
        nsfs.ensure_run_dir()
        steps: dict[str, list[Step]] = {n: [] for n in nodes}

        def one(node: str, cname: str, inst: Any) -> None:
            mine = steps[node]
            if inst is None:
                record.append(t="container", name=cname, node=node, instance=record.instance, durable=True)
                config = {"name": cname, "type": "container", "source": source, "profiles": ["default"],
                          "devices": devices,
                          "config": {TAG_LAB: topo.name, TAG_NODE: node, TAG_INSTANCE: record.instance,
                                     TAG_LEDGER: records.ledger_id()}}
                try:
                    inst = client.instances.create(config, wait=True)
                except Exception as exc:
                    raise BackendError(f"LXD could not create container '{cname}' from image '{image}': "
                                       f"{_lxd_text(exc)}") from None
                mine.append(Step("container", node, commands.lxc_init(image, cname), True))
            else:
                mine.append(Step("container", node, commands.lxc_init(image, cname), False))
            if inst.status != "Running":
                try:
                    inst.start(wait=True)
                except Exception as exc:
                    raise BackendError(f"LXD could not start container '{cname}': {_lxd_text(exc)}") from None
                mine.append(Step("start", node, commands.lxc_start(cname), True))
            else:
                mine.append(Step("start", node, commands.lxc_start(cname), False))
            mine.append(self._ensure_link(record, topo.netns_name(node), self._pid(inst)))
            if progress:
                progress(node)

        fanout.each(lambda item: one(*item), plan, workers=8, name="nslab-lxd")
        return [s for n in nodes for s in steps[n]]

    def _default_nics(self) -> dict[str, Any]:
        """NIC devices the default profile would add: masked, since every lab link is a veth pair."""
        try:
            profile = self.client.profiles.get("default")
        except Exception:
            return {}
        return {name: dev for name, dev in (profile.devices or {}).items() if dev.get("type") == "nic"}

    def _ensure_link(self, record: Record, name: str, pid: int) -> Step:
        """Name the container's netns the activity's way: /var/run/netns/NAME -> /proc/PID/ns/net."""
        path = nsfs.netns_path(name)
        target = f"/proc/{pid}/ns/net"
        command = commands.netns_link(pid, path)
        state = self._link_state(name, pid)
        if state == NodeStatus.UP:
            return Step("netns", name, command, False, f"-> {target}")
        record.append(t="symlink", name=name, pid=pid)
        note = f"-> {target}"
        if os.path.lexists(path):  # stale or dangling, and recorded as ours (checked before)
            os.unlink(path)
            note += " (re-linked: the container restarted, so its netns is new and empty)"
        os.symlink(target, path)
        return Step("netns", name, command, True, note)

    # --- removing ----------------------------------------------------------------------------
    def remove(self, record: Record) -> list[Step]:
        steps: list[Step] = []
        names = []
        for entry in record.of_type("container"):
            if entry["name"] not in names:
                names.append(entry["name"])
        steps += fanout.each(lambda n: self._remove_container(n, record.instance), list(reversed(names)), workers=8,
                             name="nslab-lxd")
        seen = set()
        for entry in reversed(record.of_type("symlink")):
            if entry["name"] in seen:
                continue
            seen.add(entry["name"])
            steps.append(remove_symlink(entry["name"], {int(e["pid"]) for e in record.of_type("symlink")
                                                        if e["name"] == entry["name"]}))
        return steps

    def _wait_for_operations(self, name: str, timeout: float = 120.0) -> None:
        """Wait until LXD runs no operation on ``name``.

        After nslab is killed mid-``up``, LXD still carries out the creates and
        starts it was asked for: deciding "already gone" before they finish would
        let a container appear after cleanup.
        """
        deadline = time.monotonic() + timeout
        suffix = f"/instances/{name}"
        while time.monotonic() < deadline:
            try:
                ops = self.client.api.operations.get(params={"recursion": 1}).json().get("metadata") or {}
            except Exception:
                return
            busy = []
            for op in ops.get("running", []) + ops.get("pending", []):
                resources = op.get("resources") or {}
                urls = (resources.get("instances") or []) + (resources.get("containers") or [])
                if any(u.split("?")[0].endswith(suffix) or u.split("?")[0].endswith(f"/containers/{name}")
                       for u in urls):
                    busy.append(op["id"])
            if not busy:
                return
            for op_id in busy:
                try:
                    self.client.api.operations[op_id].wait.get(params={"timeout": 30})
                except Exception:
                    time.sleep(0.1)

    def _remove_container(self, name: str, instance: str) -> Step:
        command = commands.lxc_delete(name)
        self._wait_for_operations(name)
        inst = self._instance(name)
        if inst is None:
            return Step("delete", name, command, False, "already gone")
        if inst.config.get(TAG_INSTANCE) != instance:
            return Step("delete", name, command, False, "left alone: that container is not this lab's")
        try:
            if inst.status != "Stopped":
                inst.stop(force=True, wait=True)
            inst.delete(wait=True)
        except Exception as exc:
            raise BackendError(f"LXD could not delete container '{name}': {_lxd_text(exc)}") from None
        return Step("delete", name, command, True)

    def orphans(self, known_instances: set[str]) -> list[Any]:
        """Containers tagged as nslab's whose lab has no record any more (a crash lost it).

        Only those of this ledger (this state dir): a lab recorded in another state dir (another
        user's, another test's) is not an orphan, and one without the tag is left alone.
        """
        ledger = records.ledger_id()
        out = []
        for inst in self.client.instances.all():
            try:
                config = inst.config
            except Exception:  # noqa: BLE001 - deleted while listed (the daemon is shared): not ours to judge
                continue
            if config.get(TAG_LEDGER) == ledger and config.get(TAG_INSTANCE) not in (None, *known_instances):
                out.append(inst)
        return out

    def remove_orphan(self, inst: Any) -> list[Step]:
        pid = self._pid(inst) if inst.status == "Running" else None
        steps = [self._remove_container(inst.name, inst.config[TAG_INSTANCE])]
        if pid:
            for name in nsfs.names():
                path = nsfs.netns_path(name)
                if os.path.islink(path) and os.readlink(path) == f"/proc/{pid}/ns/net":
                    steps.append(remove_symlink(name, {pid}))
        return steps

    # --- running commands ------------------------------------------------------------------------
    def shell_command(self, topo: Topology, node: str) -> ShellCommand:
        """The container's own /bin/sh, in all its namespaces (as ``lxc exec NAME -- sh``)."""
        return container_shell(node, topo.container_name(node), self._init_pid(topo, node))

    def _init_pid(self, topo: Topology, node: str) -> int:
        """The container's init PID, from the netns symlink nslab made (never a stale one)."""
        path = nsfs.netns_path(topo.netns_name(node))
        try:
            pid = int(PROC_LINK.match(os.readlink(path)).group(1))  # type: ignore[union-attr]
            os.stat(f"/proc/{pid}/ns/net")
        except (OSError, AttributeError):
            raise BackendError(_("node '{node}' is not up or its netns name is stale; run up again").format(
                node=node)) from None
        return pid

    def exec(self, topo: Topology, node: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        """Run ``argv`` inside the container (its mount, uts, ipc, pid and network namespaces).

        ``nsenter`` costs about 3 ms, where LXD's exec API polls for ~120 ms.
        """
        pid = self._init_pid(topo, node)
        try:
            proc = subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "--", *argv],
                                  capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise BackendError("nsenter is missing; install util-linux") from None
        except subprocess.TimeoutExpired:
            raise BackendError(f"'{' '.join(argv)}' in {node} did not finish in {timeout:g} s") from None
        return ExecResult(node, tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def _recorded_link(record: Record | None, name: str) -> bool:
    return record is not None and any(e.get("name") == name for e in record.of_type("symlink"))


def remove_symlink(name: str, pids: set[int]) -> Step:
    """Remove a netns name only if it is still the symlink nslab made (to a recorded init PID)."""
    path = nsfs.netns_path(name)
    command = commands.remove(path)
    if not os.path.lexists(path):
        return Step("delete", name, command, False, "already gone")
    if not os.path.islink(path):
        return Step("delete", name, command, False, "left alone: not the symlink nslab made")
    match = PROC_LINK.match(os.readlink(path))
    if not match or int(match.group(1)) not in pids:
        return Step("delete", name, command, False, "left alone: it points somewhere nslab did not link")
    os.unlink(path)
    return Step("delete", name, command, True)


def _lxd_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
