"""The rootless sandbox: one user + mount namespace per user, where that user is root *inside*.

A normal user cannot create network namespaces on the host, but inside a user
namespace of their own they can: every network namespace created there belongs
to that user namespace, so root-inside may configure it, and nobody else (not
another student) may even open it (EACCES).  The sandbox is

- a user namespace mapping the user to root (uid and gid 0 inside, nothing else),
- a mount namespace whose ``/run`` is a private tmpfs: ``/run/netns`` is the
  user's own (``ip netns list`` shows only their labs) and ``/run/xtables.lock``
  a file of theirs; every other entry of the host's ``/run`` is bound back in,
- kept alive between commands and notebook cells by a *holder*: a process that
  only sleeps (``nslab-sandbox`` in ``ps``).  A pidfile in the state dir finds it
  again; it is trusted only when its PID, start time and user namespace inode
  all match and the process belongs to this user.

The sandbox has a *network* namespace of its own too: the student's own "host",
with only ``lo`` at first.  Commands, shells and notebook kernels that enter the
sandbox live there, so the activity's ``ip link add v-1a type veth peer name v-1b``
then ``ip link set dev v-1a netns net-contenedor1`` work as with root, and the
real host's interfaces are never touched (its ``/sys`` is that namespace's too).
Lab namespaces are created from there by binding a thread's fresh netns (nslab's
nsfs), or by ``ip netns add``.

Entering is ``setns(user)``, ``setns(mnt)`` then ``setns(net)`` in a process that
is still single-threaded (the kernel refuses a user-namespace ``setns`` otherwise):
the ``nslab`` command does it first thing; anything else is started through
``nslab-sandbox run -- CMD``.  A Jupyter kernel in the student's host could no
longer reach the Jupyter server over 127.0.0.1, so it is started through
``nslab-sandbox kernel -- python -m ipykernel_launcher -f FILE``: the kernel
listens on Unix sockets (ZMQ's ipc transport) and the launcher, left in the
host's network namespace, relays the connection file's TCP ports to them.
Creating the sandbox (the only step that needs
unprivileged user namespaces, which AppArmor may restrict) always happens in the
``nslab-sandbox`` launcher, so a distribution's AppArmor profile needs to allow
``userns`` for that one program only.

No UI here: errors are :class:`SandboxError` with one line naming the fix.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from ..core.i18n import _
from ..core.userdirs import (ENV_SANDBOX, ENV_SANDBOX_ERROR, ENV_STATE, host_uid, in_sandbox, rootless_wanted,
                             user_state_dir)

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_SLAVE = 2, 4, 8, 0x1000, 0x4000, 1 << 19
PIDFILE = "sandbox.json"
LOCKFILE = "sandbox.lock"
HOLDER_NAME = "nslab-sandbox"  # argv[0] of the holder, what ps shows
SLEEP = "/bin/sleep"

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxError(OSError):
    """The sandbox cannot be created or entered; the message names the fix.

    An ``OSError`` (with ``errno``) so callers that know only builtins catch it;
    the backends turn it into nslab's PrivilegeError.
    """


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(), fstype.encode() if fstype else None,
                       flags, data.encode() if data else None), f"mount {target}")


# --- is it wanted, are we in it ------------------------------------------------------------------------
wanted = rootless_wanted
inside = in_sandbox


# --- the holder ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Holder:
    """A running sandbox: its holder process and the namespaces it holds."""

    pid: int
    start: int  # the process's start time (clock ticks since boot): a recycled PID has another
    userns: int
    mntns: int
    uid: int
    state_dir: str
    netns: int = 0  # the student's own "host" network namespace (0: a holder from before it had one)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def marker(self) -> str:
        return f"{self.pid}:{self.mntns}"


def _start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    return int(data[data.rindex(b")") + 2:].split()[19])


def _is_ours(info: dict) -> Holder | None:
    try:
        holder = Holder(**{k: info[k] for k in Holder.__dataclass_fields__ if k != "netns"},
                        netns=int(info.get("netns") or 0))
        if os.stat(f"/proc/{holder.pid}").st_uid != os.geteuid() or holder.uid != host_uid():
            return None
        if _start_time(holder.pid) != holder.start:
            return None
        if os.stat(f"/proc/{holder.pid}/ns/user").st_ino != holder.userns:
            return None
        if os.stat(f"/proc/{holder.pid}/ns/mnt").st_ino != holder.mntns:
            return None
        if holder.netns and os.stat(f"/proc/{holder.pid}/ns/net").st_ino != holder.netns:
            return None
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return holder


def find(state_dir: Path) -> Holder | None:
    """The running sandbox of this state dir, or None (no pidfile, or its process is gone or not ours)."""
    try:
        info = json.loads((Path(state_dir) / PIDFILE).read_text())
    except (OSError, ValueError):
        return None
    return _is_ours(info) if isinstance(info, dict) else None


class _Lock:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / LOCKFILE

    def __enter__(self) -> "_Lock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def launcher() -> list[str]:
    """The program that creates sandboxes: the ``nslab-sandbox`` script of this environment (the one an
    AppArmor profile names; next to this Python, or on $PATH next to ``nslab``), else this module run by
    this Python (a source tree without an install)."""
    script = Path(sys.executable).parent / "nslab-sandbox"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("nslab-sandbox")
    if found:
        return [found]
    spec = globals().get("__spec__")
    if spec is not None and spec.name:
        return [sys.executable, "-m", spec.name]
    return [sys.executable, os.path.abspath(__file__)]


def ensure(state_dir: Path | None = None) -> Holder:
    """The running sandbox of this user (and state dir), started when there is none.

    Starting it runs the launcher (``nslab-sandbox start``), which takes the sandbox lock, so two
    commands started at once by one user end up in one sandbox.
    """
    state = Path(state_dir) if state_dir else Path(os.environ.get(ENV_STATE) or user_state_dir())
    holder = find(state)
    if holder:
        return holder
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.access(state, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        raise SandboxError(exc.errno or errno.EACCES, _("cannot write nslab's state folder {folder} ({error}); set "
                                                        "NSLAB_STATE_DIR to a folder of yours").format(
            folder=state, error=exc.strerror)) from None
    try:
        proc = subprocess.run([*launcher(), "--state-dir", str(state), "start"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(errno.EIO, f"cannot start nslab's sandbox launcher ({exc})") from None
    holder = find(state)
    if holder is None:
        lines = proc.stderr.strip().splitlines() or [f"the launcher exited with status {proc.returncode}"]
        raise SandboxError(errno.EPERM, lines[-1].removeprefix("nslab-sandbox: error: "))
    return holder


def start_locked(state_dir: Path) -> Holder:
    """Find or start the sandbox of ``state_dir`` under its lock (what ``nslab-sandbox start`` does)."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _Lock(state):
        return find(state) or start(state)


def _write_map(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _map_to_root(uid: int, gid: int) -> None:
    """In a new user namespace: this user (and group) is root inside, and only that (no other groups)."""
    try:
        _write_map("/proc/self/setgroups", "deny")
    except FileNotFoundError:
        pass
    _write_map("/proc/self/uid_map", f"0 {uid} 1")
    _write_map("/proc/self/gid_map", f"0 {gid} 1")


def _private_run() -> None:
    """Inside the new mount namespace: a tmpfs on /run with the host's entries bound back in,
    except ``netns`` (an empty folder of our own) and ``xtables.lock`` (a file of our own)."""
    _mount(None, "/", None, MS_REC | MS_SLAVE)  # nothing mounted here ever shows on the host
    old = os.open("/run", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    names = sorted(os.listdir(old))
    _mount("nslab", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    for name in names:
        if name in ("netns", "xtables.lock"):
            continue
        source, target = f"/proc/self/fd/{old}/{name}", f"/run/{name}"
        try:
            st = os.lstat(source)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(source), target)
                continue
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(target, 0o755)
            else:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
            _mount(source, target, None, MS_BIND | MS_REC)
        except OSError:
            continue  # one host entry the user could not use anyway; the sandbox works without it
    os.close(old)
    os.mkdir("/run/netns", 0o755)
    os.close(os.open("/run/xtables.lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    _wrap_ip()


IP_WRAPPER = """#!/bin/sh
# nslab sandbox: the real ip, except that 'ip netns add NAME' does not fail at its very last step,
# switching back to the host's network namespace (which a user namespace may not enter): by then
# the namespace is created and named, exactly as with root.  Everything else is the real ip.
real=/run/nslab/ip
if [ $# -eq 3 ]; then
  case "$1" in net|netn|netns)
    case "$2" in a|ad|add)
      err=$("$real" "$@" 2>&1 >/dev/null); rc=$?
      if [ $rc -ne 0 ] && [ "$err" = "setns: Operation not permitted" ] && [ -e "/run/netns/$3" ]; then exit 0; fi
      [ -n "$err" ] && printf '%s\\n' "$err" >&2
      exit $rc;;
    esac;;
  esac
fi
exec "$real" "$@"
"""


def _wrap_ip() -> None:
    """Make a student's ``ip netns add NAME`` work in the sandbox (see IP_WRAPPER): the real ``ip`` is
    bound to /run/nslab/ip and the wrapper over every path of ``ip``, in this mount namespace only."""
    paths = []
    for path in ("/usr/sbin/ip", "/usr/bin/ip", "/sbin/ip", "/bin/ip"):
        real = os.path.realpath(path)
        if os.path.isfile(real) and real not in paths:
            paths.append(real)
    if not paths:
        return
    os.mkdir("/run/nslab", 0o755)
    os.close(os.open("/run/nslab/ip", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755))
    _mount(paths[0], "/run/nslab/ip", None, MS_BIND)
    with open("/run/nslab/ip-sandbox", "w") as fh:
        fh.write(IP_WRAPPER)
    os.chmod("/run/nslab/ip-sandbox", 0o755)
    for path in paths:
        _mount("/run/nslab/ip-sandbox", path, None, MS_BIND)


def _loopback_up() -> None:
    """``ip link set lo up`` in this (new) network namespace: 127.0.0.1 answers in the student's host."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _own_sysfs() -> None:
    """/sys of the student's host network namespace (``/sys/class/net`` lists its interfaces, as
    ``ip netns exec`` does for a lab).  Best effort: where a container forbids it, /sys stays the host's."""
    try:
        _mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass


def _become_holder(report_fd: int) -> None:
    """In a forked child: new user + mount + network namespaces (the student's own "host": only ``lo``,
    where ``ip link add`` and ``ip link set ... netns`` work as with root), the private /run, then sleep
    forever.  Writes "ok" or one line of error to ``report_fd``; never returns."""
    try:
        os.setsid()
        uid, gid = os.geteuid(), os.getegid()
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET),
               "unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET)")
        _map_to_root(uid, gid)
        _loopback_up()
        _private_run()
        _own_sysfs()
        os.chdir("/")
        os.write(report_fd, b"ok\n")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        code = exc.errno if isinstance(exc, OSError) and exc.errno else 0
        os.write(report_fd, f"{code} {message}\n".encode(errors="replace"))
        os._exit(1)
    os.close(report_fd)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, 65536)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal that started it does not end it
    try:
        os.execv(SLEEP, [HOLDER_NAME, "infinity"])
    except OSError:
        while True:  # no /bin/sleep: this Python holds the namespaces itself
            signal.pause()


def start(state_dir: Path) -> Holder:
    """Create the sandbox (run by the launcher, under the sandbox lock); write its pidfile."""
    state = Path(state_dir)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _become_holder(write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        line = fh.readline().strip()
    if line != "ok":
        os.waitpid(pid, 0)
        code, _sep, message = line.partition(" ")
        raise SandboxError(int(code) if code.isdigit() else errno.EPERM, explain_failure(int(code or 0), message))
    holder = Holder(pid, _start_time(pid), os.stat(f"/proc/{pid}/ns/user").st_ino,
                    os.stat(f"/proc/{pid}/ns/mnt").st_ino, host_uid(), str(state),
                    os.stat(f"/proc/{pid}/ns/net").st_ino)
    tmp = state / f".{PIDFILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(holder.to_dict()) + "\n")
    os.replace(tmp, state / PIDFILE)
    return holder


def explain_failure(code: int, message: str) -> str:
    """One line for a failed sandbox creation: what blocked it and where ``nslab doctor`` says more."""
    return _("cannot create your nslab sandbox (a user namespace): {error}; run 'nslab doctor' to see what blocks "
             "user namespaces on this machine and how to allow them").format(error=message)


# --- can this machine do it? (for nslab doctor) -----------------------------------------------------
SYSCTLS = {
    "kernel.apparmor_restrict_unprivileged_userns": "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
    "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
}


def settings() -> dict[str, str | None]:
    """The sysctls that can block unprivileged user namespaces (None: this kernel has no such setting)."""
    values: dict[str, str | None] = {}
    for name, path in SYSCTLS.items():
        try:
            with open(path) as fh:
                values[name] = fh.read().strip()
        except OSError:
            values[name] = None
    return values


def seccomp_mode() -> int | None:
    """0 none, 1 strict, 2 a filter (what container runtimes install); None when unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Seccomp:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def container() -> str:
    """The kind of container this runs in, if it can tell: docker, podman, kubernetes, lxc; or ""."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if os.path.exists("/.dockerenv"):
        return "docker"
    if os.path.exists("/run/.containerenv"):
        return "podman"
    try:
        with open("/proc/1/environ", "rb") as fh:
            if b"container=lxc" in fh.read():
                return "lxc"
    except OSError:
        pass
    return ""


def try_userns() -> tuple[str, int]:
    """Try, in a throw-away child, what the sandbox needs: a user namespace mapping this user to root,
    a network namespace of its own, and a mount in a new mount namespace.  Returns ("", 0) when it works, else (the step that failed:
    "unshare", "uid_map" or "mount", its errno).  Changes nothing."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        step = "unshare"
        try:
            os.close(read_fd)
            uid, gid = os.geteuid(), os.getegid()
            _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), "unshare")
            step = "uid_map"
            _map_to_root(uid, gid)
            step = "mount"
            _mount(None, "/", None, MS_REC | MS_SLAVE)
            _mount("nslab", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
            os.write(write_fd, b"ok 0")
        except OSError as exc:
            os.write(write_fd, f"{step} {exc.errno or 0}".encode())
        except BaseException:  # noqa: BLE001
            os.write(write_fd, f"{step} 0".encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        answer = fh.read().split()
    os.waitpid(pid, 0)
    step, code = (answer + ["unshare", "0"])[:2]
    return ("", 0) if step == "ok" else (step, int(code))


def probe() -> dict:
    """Everything ``nslab doctor`` needs to say whether the sandbox can work here, and why not."""
    step, code = try_userns()
    return {"ok": not step, "step": step, "errno": code, "settings": settings(), "seccomp": seccomp_mode(),
            "container": container(), "uid": host_uid()}


# --- going in --------------------------------------------------------------------------------------
def _setns(fd: int, kind: int, what: str) -> None:
    if _libc.setns(fd, kind) != 0:
        code = ctypes.get_errno()
        raise SandboxError(code, f"cannot enter your nslab sandbox ({what}: {os.strerror(code)})")


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def enter(holder: Holder) -> None:
    """Move this process into the sandbox (it must still be single-threaded).

    Afterwards it is root inside: it can create and configure network
    namespaces, sees the sandbox's /run/netns, and keeps its own working folder.
    """
    if inside():
        return
    if threads() != 1:
        raise SandboxError(errno.EINVAL, _("this process already runs threads, so it cannot enter your nslab sandbox; "
                                           "start it through the sandbox instead (nslab shell, or the kernel "
                                           "'Python 3 (nslab)' in Jupyter)"))
    cwd = None
    try:
        cwd = os.getcwd()
    except OSError:
        pass
    user_fd = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    mnt_fd = os.open(f"/proc/{holder.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    net_fd = os.open(f"/proc/{holder.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        # The files opened are those of the holder checked (not of a process that took its PID since).
        if (os.fstat(user_fd).st_ino != holder.userns or os.fstat(mnt_fd).st_ino != holder.mntns
                or (holder.netns and os.fstat(net_fd).st_ino != holder.netns)):
            raise SandboxError(errno.ESRCH, _("your nslab sandbox stopped while entering it; run the command again"))
        _setns(user_fd, CLONE_NEWUSER, "user namespace")
        _setns(mnt_fd, CLONE_NEWNS, "mount namespace")
        if holder.netns and holder.netns != os.stat("/proc/self/ns/net").st_ino:
            _setns(net_fd, CLONE_NEWNET, "network namespace")
    finally:
        os.close(user_fd)
        os.close(mnt_fd)
        os.close(net_fd)
    try:
        os.chdir(cwd or os.environ.get("HOME") or "/")
    except OSError:
        os.chdir("/")
    os.environ[ENV_SANDBOX] = holder.marker
    os.environ[ENV_STATE] = holder.state_dir
    # root inside, with root's tools: the activity's ifconfig, sysctl... live in /usr/sbin, which a normal
    # user's PATH lacks on Debian
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join(path + [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path])


def ensure_entered(state_dir: Path | None = None) -> Holder | None:
    """Enter this user's sandbox (starting it if needed); None when already inside."""
    if inside():
        return None
    state = Path(state_dir) if state_dir else Path(os.environ.get(ENV_STATE) or user_state_dir())
    holder = ensure(state)
    enter(holder)
    return holder


def members(holder: Holder) -> list[int]:
    """PIDs of this user's processes inside the sandbox, besides the holder (a shell, a kernel...)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (holder.pid, os.getpid()):
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/mnt").st_ino == holder.mntns:
                found.append(int(entry))
        except OSError:
            continue
    return sorted(found)


def stop(state_dir: Path, force: bool = False) -> tuple[bool, str]:
    """Stop the sandbox of this state dir: every lab namespace in it goes with it.

    Refused (unless ``force``) while other processes still use it (a notebook
    kernel, a shell): they would keep the old sandbox alive, apart from a new one.
    Returns (stopped, what happened).
    """
    holder = find(Path(state_dir))
    if holder is None:
        (Path(state_dir) / PIDFILE).unlink(missing_ok=True)
        return False, _("no sandbox is running (already so)")
    users = members(holder)
    if users and not force:
        return False, _("sandbox kept: {count} other process(es) still use it (PID {pids}: a notebook kernel or a "
                        "shell); stop them first").format(count=len(users), pids=", ".join(map(str, users[:5])))
    os.kill(holder.pid, signal.SIGTERM)
    for _attempt in range(100):
        if find(Path(state_dir)) is None:
            break
        time.sleep(0.01)
    (Path(state_dir) / PIDFILE).unlink(missing_ok=True)
    return True, _("sandbox stopped (holder PID {pid})").format(pid=holder.pid)


def command(argv: Sequence[str], state_dir: Path | None = None) -> list[str]:
    """``argv`` as a command that runs inside the user's sandbox (started if needed), for a process that
    cannot enter it itself (it runs threads: a Jupyter server starting a terminal, say)."""
    extra = ["--state-dir", str(state_dir)] if state_dir else []
    return [*launcher(), *extra, "run", "--", *argv]


def run(argv: Sequence[str], state_dir: Path | None = None) -> None:
    """Replace this process with ``argv``, inside the sandbox when it is wanted (not root, or
    NSLAB_ROOTLESS=1); as root otherwise, it simply runs ``argv``.  Never returns.

    When the sandbox cannot be made (user namespaces blocked), ``argv`` still starts, outside it, with
    $NSLAB_SANDBOX_ERROR saying why: a notebook kernel then starts and the notebook tells the student
    (simulated network, and 'nslab doctor'), instead of a kernel that dies at once.
    """
    if wanted():
        try:
            ensure_entered(state_dir)
        except OSError as exc:
            why = exc.strerror or str(exc)
            os.environ[ENV_SANDBOX_ERROR] = why
            print(f"nslab-sandbox: {why}", file=sys.stderr)
    os.execvp(argv[0], list(argv))


# --- a Jupyter kernel in the student's host ------------------------------------------------------------
KERNEL_PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def kernel_command(argv: Sequence[str], state_dir: Path | None = None) -> list[str]:
    """The kernelspec's argv for a kernel started by :func:`run_kernel` (``{connection_file}`` in ``argv``)."""
    extra = ["--state-dir", str(state_dir)] if state_dir else []
    return [*launcher(), *extra, "kernel", "--", *argv]


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    for sock in (dst, src):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _relay_one(client: socket.socket, path: str, child: int) -> None:
    """One connection of the Jupyter server, byte for byte to the kernel's socket (ZMTP is the same
    over TCP and over a Unix socket); waits for the kernel to bind it while the kernel starts."""
    deadline = time.monotonic() + 120
    while True:
        inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            inner.connect(path)
            break
        except OSError:
            inner.close()
            try:
                done = os.waitpid(child, os.WNOHANG)[0] != 0
            except ChildProcessError:
                done = True
            if done or time.monotonic() > deadline:
                client.close()
                return
            time.sleep(0.05)
    back = threading.Thread(target=_pump, args=(inner, client), daemon=True)
    back.start()
    _pump(client, inner)
    back.join()
    client.close()
    inner.close()


def _serve(listener: socket.socket, path: str, child: int) -> None:
    while True:
        try:
            client, _peer = listener.accept()
        except OSError:
            return
        threading.Thread(target=_relay_one, args=(client, path, child), daemon=True).start()


def _remove_stale_kernel_folders() -> None:
    """The socket folders of this user's kernels whose relay is gone (killed with SIGKILL: it could not
    clean up); a folder is named nslab-kernel-UID-RELAYPID-*, and only this user's own are touched."""
    uid, tmp = host_uid(), tempfile.gettempdir()
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) < 5 or parts[:2] != ["nslab", "kernel"] or parts[2] != str(uid) or not parts[3].isdigit():
            continue
        path = os.path.join(tmp, name)
        try:
            if os.lstat(path).st_uid != os.geteuid() or os.path.exists(f"/proc/{parts[3]}"):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


def run_kernel(argv: Sequence[str], state_dir: Path | None = None) -> int:
    """Start a Jupyter kernel (``argv`` has ``-f CONNECTION_FILE``) inside the user's sandbox, *including*
    its network namespace, the student's own host: ``!ip link add v-1a type veth peer name v-1b`` then
    works as in the activity.  A kernel there cannot reach the Jupyter server over 127.0.0.1, so it
    listens on Unix sockets (ZMQ's ``ipc`` transport) and this process, left in the host's network
    namespace, relays each TCP port of the connection file to them.  Signals (an interrupt, a restart)
    go on to the kernel; the kernel dies with this process.  As root, where the sandbox is not wanted,
    or with a connection file that is not TCP, this is :func:`run`.  Returns the kernel's exit status."""
    argv = list(argv)
    try:
        index = argv.index("-f") + 1
        with open(argv[index]) as fh:
            info = json.load(fh)
    except (ValueError, IndexError, OSError):
        info = {}
    if not wanted() or inside() or info.get("transport", "tcp") != "tcp" or not info.get("ip"):
        run(argv, state_dir)
    state = Path(state_dir) if state_dir else Path(os.environ.get(ENV_STATE) or user_state_dir())
    try:
        holder = ensure(state)
    except OSError:
        run(argv, state_dir)  # run() tries again, then starts the kernel outside and says why
    if not holder.netns or holder.netns == os.stat("/proc/self/ns/net").st_ino:
        run(argv, state_dir)  # a sandbox from before the student's host existed: nothing to relay
    _remove_stale_kernel_folders()
    folder = tempfile.mkdtemp(prefix=f"nslab-kernel-{host_uid()}-{os.getpid()}-")
    listeners = []
    for key in KERNEL_PORTS:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((info["ip"], int(info[key])))
        sock.listen(16)
        listeners.append((sock, f"{folder}/k-{int(info[key])}"))
    inner = os.path.join(folder, "connection.json")
    with open(inner, "w") as fh:
        json.dump({**info, "transport": "ipc", "ip": f"{folder}/k"}, fh)
    argv[index] = inner
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        try:
            for sock, _path in listeners:
                sock.close()
            os.setpgid(0, 0)  # signals reach it once: through this relay
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)
            enter(holder)
            os.execvp(argv[0], argv)
        except BaseException as exc:  # noqa: BLE001
            print(f"nslab-sandbox: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        os._exit(127)

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(child, signum)
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    for sock, path in listeners:
        threading.Thread(target=_serve, args=(sock, path, child), daemon=True).start()
    _pid, status = os.waitpid(child, 0)
    for sock, _path in listeners:
        sock.close()
    shutil.rmtree(folder, ignore_errors=True)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(argv: Sequence[str] | None = None) -> int:
    """``nslab-sandbox [--state-dir D] start|stop|status|probe|run -- CMD...``: the launcher."""
    parser = argparse.ArgumentParser(prog="nslab-sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", help="the nslab state folder whose sandbox this is (default: yours)")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("start", help="start the sandbox if it is not running; print it as JSON")
    p = sub.add_parser("stop", help="stop the sandbox (its lab namespaces go with it)")
    p.add_argument("--force", action="store_true", help="even while a kernel or shell still uses it")
    sub.add_parser("status", help="print the running sandbox as JSON (exit 1 when none)")
    sub.add_parser("probe", help="can this launcher create a sandbox here? (JSON, for nslab doctor)")
    p = sub.add_parser("run", help="run a command inside the sandbox: nslab-sandbox run -- CMD ARGS")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("kernel", help="a Jupyter kernel in the sandbox and its own network namespace, reached "
                                      "through this launcher: nslab-sandbox kernel -- python -m ipykernel_launcher "
                                      "-f CONNECTION_FILE")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.action in ("run", "kernel"):
            command = args.command[1:] if args.command[:1] == ["--"] else args.command
            if not command:
                parser.error(f"say what to run: nslab-sandbox {args.action} -- CMD ARGS")
            if args.action == "kernel":
                return run_kernel(command, Path(args.state_dir) if args.state_dir else None)
            run(command, Path(args.state_dir) if args.state_dir else None)
        if args.action == "probe":
            print(json.dumps(probe()))
            return 0
        state = Path(args.state_dir) if args.state_dir else Path(os.environ.get(ENV_STATE) or user_state_dir())
        if args.action == "start":
            holder = start_locked(state)
            print(json.dumps(holder.to_dict()))
            return 0
        if args.action == "stop":
            stopped, message = stop(state, args.force)
            print(message)
            return 0 if stopped or find(state) is None else 1
        holder = find(state)
        print(json.dumps(holder.to_dict() if holder else None))
        return 0 if holder else 1
    except OSError as exc:
        print(f"nslab-sandbox: error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
