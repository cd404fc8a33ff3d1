"""A shell on a pseudo-terminal, running inside a node (no UI here).

The shell is spawned by ``ptyprocess`` (what Jupyter's own terminals use): a new
session whose controlling terminal is the pty, so Ctrl-C reaches the foreground
job, Ctrl-D ends the shell and a window size set here (TIOCSWINSZ) reaches it as
SIGWINCH.  It enters the node the way a student would:

- a plain netns: ``ip netns exec NAME bash`` (iproute2 execs, no fork: the PID
  nslab records is the shell's; and ``/sys`` is the namespace's, as in class);
- an LXD container: ``nsenter -t PID -a`` into all the container's namespaces,
  then the container's own ``/bin/sh`` (``lxc exec NAME -- sh`` does the same
  through the daemon, about 40x slower to start).

Output is read on a thread nslab starts (never the kernel's asyncio loop: a
running cell must not stall a terminal, nor a terminal a cell) and handed to
callbacks in chunks; the last 256 KiB are kept so a new view can replay them.

Processes are identified by PID *and* start time (``/proc/PID/stat`` field 22)
and the inode of their network namespace, so a recorded PID is never mistaken
for an unrelated process that got the same number later.
"""

from __future__ import annotations

import errno
import os
import queue
import re
import select
import shlex
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping, Sequence

from ptyprocess import PtyProcess  # the maintained pty spawner Jupyter's own terminals (terminado) use

from ..core import commands
from ..core.i18n import N_, _
from . import nsfs

SCROLLBACK_BYTES = 256 * 1024
CHUNK = 64 * 1024
COALESCE_SECONDS = 0.004  # gather output arriving within 4 ms into one message
MAX_RATE = 60  # full chunks per second, at most (about 4 MB/s: what xterm.js draws comfortably)
SHELL_ENV = {
    "TERM": "xterm-256color",
    "COLORTERM": "truecolor",
    "LANG": "C.UTF-8",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
}
BASHRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nslab.bashrc")


@dataclass(frozen=True)
class ShellCommand:
    """What to exec for a shell in a node (``enter`` the node, then run ``shell``), and what a
    student would type for the same (``shown``)."""

    node: str
    enter: tuple[str, ...]
    shell: tuple[str, ...]
    shown: str
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def argv(self) -> tuple[str, ...]:
        return (*self.enter, *self.shell)

    def running(self, line: str) -> "ShellCommand":
        """The same node, running one command line (``sh -c LINE``) instead of an interactive shell."""
        return replace(self, shell=(self.shell[0], "-c", line), shown=f"{self.shown} -c {shlex.quote(line)}")


def netns_shell(node: str, netns: str, path: str, shell: str | None = None) -> ShellCommand:
    """A shell in a named network namespace: ``ip netns exec NAME bash``.

    ``ip netns exec`` only knows names under /var/run/netns (or /run/netns); a
    namespace file elsewhere is entered with ``nsenter --net=PATH`` instead.
    """
    env = {**SHELL_ENV, "NSLAB_NODE": node, "NSLAB_NETNS": netns}
    if shell is None and os.path.exists("/bin/bash"):
        argv: tuple[str, ...] = ("/bin/bash", "--rcfile", BASHRC, "-i")
        word = "bash"
    else:
        argv = (shell or "/bin/sh", "-i")
        word = os.path.basename(argv[0])
        env["PS1"] = f"({node}) # "
    if os.path.dirname(path) in ("/var/run/netns", "/run/netns") and os.path.basename(path) == netns:
        return ShellCommand(node, ("ip", "netns", "exec", netns), argv, commands.netns_exec(netns, word), env)
    return ShellCommand(node, ("nsenter", f"--net={path}", "--"), argv, commands.nsenter_net(path, word), env)


def container_shell(node: str, container: str, init_pid: int, shell: str = "/bin/sh") -> ShellCommand:
    """A shell inside a running container, entered through its init process's namespaces.

    ``-a``: every namespace of the container (user, mount, uts, ipc, pid, net,
    cgroup), so the shell sees the container's files, its hostname, its
    processes, its network, and runs as the container's root; ``-r -w``: its
    root and working directory are the container's.
    """
    env = {**SHELL_ENV, "NSLAB_NODE": node, "HOME": "/root", "PS1": f"({node}) \\w # "}
    enter = ("nsenter", "-t", str(init_pid), "-a", "-r", "-w", "--")
    return ShellCommand(node, enter, (shell, "-i"), commands.lxc_exec(container, os.path.basename(shell)), env)


# --- who a process is ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessId:
    """A process that cannot be confused with a later one reusing its PID."""

    pid: int
    start: int  # clock ticks after boot (/proc/PID/stat field 22)
    netns: int | None = None  # inode of /proc/PID/ns/net when recorded

    def to_dict(self) -> dict[str, int | None]:
        return {"pid": self.pid, "start": self.start, "netns_inode": self.netns}


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ..." where comm may hold spaces and parentheses
    return [raw[: raw.index(" ")], "comm"] + raw[raw.rindex(")") + 2:].split()


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[21]) if fields else None


netns_inode = nsfs.process_netns_inode  # the namespace a process lives in


def identify(pid: int) -> ProcessId:
    start = start_time(pid)
    if start is None:
        raise ProcessLookupError(errno.ESRCH, f"no process {pid}")
    return ProcessId(pid, start, netns_inode(pid))


def is_same(proc: ProcessId) -> bool:
    """Is ``proc.pid`` still the process that was recorded (same start time)?"""
    return start_time(proc.pid) == proc.start


def running(pid: int, start: int | None = None) -> bool:
    """Is ``pid`` a live process (not a zombie waiting to be reaped), started at ``start`` if given?"""
    fields = _stat_fields(pid)
    return bool(fields) and fields[2] != "Z" and (start is None or int(fields[21]) == start)


def _processes() -> Iterable[tuple[int, int, int, int]]:
    """(pid, ppid, session, start time) of every live process (zombies are already dead)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[2] != "Z":
                yield int(entry.name), int(fields[3]), int(fields[5]), int(fields[21])


def members(proc: ProcessId, session: bool) -> list[int]:
    """The processes that belong to a recorded shell.

    While the shell is still the recorded process (same PID, same start time),
    its descendants and (``session``) every process of the session it leads are
    its own, wherever they went since (a student's ``ip netns exec other bash``
    or ``unshare -n`` inside it).  Once the shell is gone, what is left of its
    session is recognised by the session number only together with the node's
    netns and a start after the shell's: a session number can be reused once all
    its members are gone, and then it is someone else's.
    """
    table = list(_processes())
    if any(pid == proc.pid and start == proc.start for pid, _pp, _s, start in table):
        chosen = {proc.pid}
        if session:
            chosen |= {pid for pid, _pp, sid, start in table if sid == proc.pid and start >= proc.start}
        children: dict[int, list[tuple[int, int]]] = {}
        for pid, ppid, _sid, start in table:
            children.setdefault(ppid, []).append((pid, start))
        todo = list(chosen)
        while todo:
            for child, start in children.get(todo.pop(), []):
                if child not in chosen and start >= proc.start:
                    chosen.add(child)
                    todo.append(child)
        return sorted(chosen)
    if not session:
        return []  # a plain process's orphans were adopted by init: nothing ties them to it any more
    left = {pid for pid, _pp, sid, start in table if sid == proc.pid and start >= proc.start}
    if proc.netns is not None:
        left = {pid for pid in left if netns_inode(pid) == proc.netns}
    return sorted(left)


def kill_recorded(proc: ProcessId, session: bool, grace: float = 1.0) -> list[int]:
    """SIGHUP (what closing a terminal sends), then SIGKILL after ``grace`` seconds, to
    every member of a recorded shell; returns the PIDs signalled (empty: already gone)."""
    targets = members(proc, session)
    for pid in targets:
        _signal(pid, signal.SIGHUP)
        _signal(pid, signal.SIGCONT)  # a stopped job (Ctrl-Z) must wake up to die
    deadline = time.monotonic() + grace
    left = targets
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in members(proc, session) if p in targets]
    for pid in left:
        _signal(pid, signal.SIGKILL)
    return targets


def _default_signals() -> None:
    """In the shell's child, before exec: the signals a terminal's user expects.  Python ignores SIGPIPE
    (``yes | head`` would then complain of a broken pipe), and a kernel or a command started in the
    background may ignore SIGINT/SIGQUIT (Ctrl-C would not stop a job); an ignored signal stays ignored
    across exec, so each is set back to its default here, as subprocess's restore_signals does."""
    for name in ("SIGINT", "SIGQUIT", "SIGPIPE", "SIGXFSZ", "SIGTSTP", "SIGTTIN", "SIGTTOU"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# --- the shell itself ---------------------------------------------------------------------------

class PtyShell:
    """One interactive shell on a pty, read by a thread of its own.

    ``on_output(bytes)`` gets the terminal's output in chunks and
    ``on_exit(status)`` is called once, when the shell has ended (``status``: its
    exit code, or ``-signal`` when killed).  Callbacks run on the reader thread.
    """

    def __init__(self, command: ShellCommand, rows: int = 24, cols: int = 80,
                 on_output: Callable[[bytes], None] | None = None,
                 on_exit: Callable[[int | None], None] | None = None):
        self.command = command
        self.rows, self.cols = rows, cols
        self._on_output = [on_output] if on_output else []
        self._on_exit = [on_exit] if on_exit else []
        self._scrollback = bytearray()
        self._dropped = 0  # bytes trimmed from the front of the scrollback so far
        self._input: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._last_emit = 0.0
        self._lock = threading.RLock()
        self._proc = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self._pidfd = -1
        self._exited = threading.Event()
        self.status: int | None = None
        self.identity: ProcessId | None = None

    # lifecycle
    def start(self) -> "PtyShell":
        try:
            self._proc = PtyProcess.spawn(list(self.command.argv), env=dict(self.command.env), cwd="/",
                                          dimensions=(self.rows, self.cols), preexec_fn=_default_signals)
        except FileNotFoundError as exc:
            raise FileNotFoundError(errno.ENOENT, f"cannot start a shell: {exc}", self.command.argv[0]) from None
        self.identity = ProcessId(self._proc.pid, start_time(self._proc.pid) or 0,
                                  None)  # netns filled in by the caller, which knows the node's
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        # Readable when the shell exits, even while a background job it left still holds the pty open.
        self._pidfd = os.pidfd_open(self._proc.pid)
        self._thread = threading.Thread(target=self._pump, name=f"nslab-terminal:{self.command.node}", daemon=True)
        self._thread.start()
        feed_fd = os.dup(self._proc.fd)
        os.set_blocking(feed_fd, False)  # the reader copes (it only reads after select says so)
        threading.Thread(target=self._feed, args=(feed_fd,), name=f"nslab-terminal-in:{self.command.node}",
                         daemon=True).start()
        return self

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else -1

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self._exited.is_set()

    def subscribe(self, on_output: Callable[[bytes], None] | None = None,
                  on_exit: Callable[[int | None], None] | None = None,
                  replay: Callable[[bytes], None] | None = None) -> bytes:
        """Add callbacks; returns the scrollback so far.  ``replay(scrollback)`` is called first,
        under the same lock: no byte is lost or shown twice between it and ``on_output``."""
        with self._lock:
            if replay:
                replay(bytes(self._scrollback))
            if on_output:
                self._on_output.append(on_output)
            if on_exit:
                if self._exited.is_set():
                    on_exit(self.status)
                else:
                    self._on_exit.append(on_exit)
            return bytes(self._scrollback)

    def replay(self, send: Callable[[bytes], None]) -> None:
        """``send(scrollback)`` while no new output can be delivered (a view that joins late)."""
        with self._lock:
            send(bytes(self._scrollback))

    def unsubscribe(self, on_output: Callable[[bytes], None]) -> None:
        with self._lock:
            if on_output in self._on_output:
                self._on_output.remove(on_output)

    def scrollback(self) -> bytes:
        with self._lock:
            return bytes(self._scrollback)

    @property
    def position(self) -> int:
        """How many bytes the shell has written so far (an offset for :meth:`output_since`)."""
        with self._lock:
            return self._dropped + len(self._scrollback)

    def output_since(self, position: int) -> bytes:
        """What the shell wrote after ``position`` (as much of it as the scrollback still holds)."""
        with self._lock:
            return bytes(self._scrollback[max(0, position - self._dropped):])

    def write(self, data: bytes | str) -> None:
        """Keystrokes, as the terminal sends them (``\\x03`` is Ctrl-C, ``\\x04`` Ctrl-D).

        Queued and written by a thread of the shell's own: a big paste into a shell
        that is not reading never blocks the caller (the kernel's main thread).
        """
        if isinstance(data, str):
            data = data.encode()
        if data and self.alive:
            self._input.put(data)

    def _feed(self, fd: int) -> None:
        """Write queued keystrokes to the pty (``fd``: this thread's own duplicate, non-blocking)."""
        try:
            while not self._exited.is_set():
                try:
                    data = self._input.get(timeout=0.2)
                except queue.Empty:
                    continue
                if data is None:
                    return
                view = memoryview(data)
                while view and not self._exited.is_set():
                    if not select.select([], [fd], [], 0.2)[1]:
                        continue
                    try:
                        view = view[os.write(fd, view):]
                    except BlockingIOError:
                        continue
                    except OSError:
                        return  # EIO: the shell is gone
        finally:
            os.close(fd)

    def resize(self, rows: int, cols: int) -> None:
        """Set the window size (TIOCSWINSZ); the kernel sends the shell SIGWINCH."""
        rows, cols = max(2, min(int(rows), 1000)), max(2, min(int(cols), 1000))
        self.rows, self.cols = rows, cols
        if self.alive:
            try:
                self._proc.setwinsize(rows, cols)
            except OSError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        self._exited.wait(timeout)
        return self.status

    def close(self, grace: float = 1.0) -> None:
        """End the shell and everything it started (its session), then stop reading."""
        if self._proc is None:
            return
        if not self._exited.is_set() and self.identity is not None:
            kill_recorded(self.identity, session=True, grace=grace)
        if not self._exited.wait(grace + 2.0):
            self._wake()  # something still holds the pty open: stop reading anyway
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _wake(self) -> None:
        with self._lock:
            if self._wake_w >= 0:
                os.write(self._wake_w, b"x")

    # reading
    def _pump(self) -> None:
        fd = self._proc.fd
        drain_until = None
        try:
            while True:
                ready, _w, _x = select.select([fd, self._wake_r, self._pidfd], [], [])
                if self._wake_r in ready:
                    break
                if self._pidfd in ready:
                    # The shell has exited: show what it wrote last, but a job it left
                    # running (``yes &``) must not keep the terminal open.
                    drain_until = drain_until or time.monotonic() + 0.2
                    if fd not in ready or time.monotonic() > drain_until:
                        break
                data = self._read(fd)
                if data is None:
                    break
                parts, size = [data], len(data)
                while size < CHUNK and select.select([fd], [], [], COALESCE_SECONDS)[0]:
                    more = self._read(fd)
                    if more is None:
                        break
                    parts.append(more)
                    size += len(more)
                self._emit(b"".join(parts))
        finally:
            self._finish()

    @staticmethod
    def _read(fd: int) -> bytes | None:
        try:
            data = os.read(fd, CHUNK)
        except OSError as exc:
            if exc.errno == errno.EIO:  # every slave end closed: the shell has exited
                return None
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                return b""
            raise
        return data or None

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        if len(data) >= CHUNK // 2:
            # A flood (``yes``, ``cat`` of a big file): at most MAX_RATE chunks a second, so
            # the browser keeps up, Ctrl-C gets through, and the kernel's queue stays small.
            time.sleep(max(0.0, self._last_emit + 1 / MAX_RATE - time.monotonic()))
        self._last_emit = time.monotonic()
        with self._lock:
            self._scrollback += data
            if len(self._scrollback) > SCROLLBACK_BYTES:
                cut = self._scrollback.find(b"\n", len(self._scrollback) - SCROLLBACK_BYTES)
                cut = cut + 1 if cut >= 0 else len(self._scrollback) - SCROLLBACK_BYTES
                del self._scrollback[:cut]
                self._dropped += cut
            for callback in list(self._on_output):
                try:
                    callback(data)
                except Exception:  # noqa: BLE001 - a broken view must not stop the shell's output
                    pass

    def _finish(self) -> None:
        proc = self._proc
        deadline = time.monotonic() + 2.0
        while proc.isalive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.isalive():
            status = None
        else:
            status = proc.exitstatus if proc.exitstatus is not None else -(proc.signalstatus or 0)
        if self.identity is not None:
            # What the shell left behind in its session (``sleep 1000 &``) is hung up, as
            # closing a terminal window does: it must not keep the node's namespace alive.
            kill_recorded(self.identity, session=True, grace=0.5)
        try:
            proc.close(force=True)
        except Exception:  # noqa: BLE001 - closing a pty that is already gone
            pass
        with self._lock:
            for fd in (self._wake_r, self._wake_w, self._pidfd):
                os.close(fd)
            self._wake_r = self._wake_w = self._pidfd = -1
            self.status = status
            self._exited.set()
            self._input.put(None)
            callbacks, self._on_exit = list(self._on_exit), []
        for callback in callbacks:
            try:
                callback(status)
            except Exception:  # noqa: BLE001
                pass


ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>c78]|\r")


def plain(data: bytes) -> bytes:
    """Terminal output without its escape sequences (colours, cursor moves) and carriage returns."""
    return ANSI.sub(b"", data)


def read_until(shell: PtyShell, needle: bytes | Sequence[bytes], timeout: float = 5.0, since: int = 0) -> bytes:
    """Wait until the output after ``since`` (a :attr:`PtyShell.position`) shows ``needle`` once
    escape sequences are taken out; return that output as plain text.

    For tests and scripted demos; raises TimeoutError with what was seen.
    """
    needles = [needle] if isinstance(needle, bytes) else list(needle)
    deadline = time.monotonic() + timeout
    while True:
        seen = plain(shell.output_since(since))
        if any(n in seen for n in needles):
            return seen
        if time.monotonic() > deadline or not shell.alive:
            seen = plain(shell.output_since(since))
            if any(n in seen for n in needles):
                return seen
            raise TimeoutError(f"{needles!r} not seen in {timeout:g} s; the terminal shows: {seen[-500:]!r}")
        time.sleep(0.02)


class OpenShell:
    """What a terminal view uses of an open shell (a lab's ``Terminal``, a student track's shell): the
    shell's output, input and size, how it ended and why, in the notebook's language.

    A mixin: the class sets ``shell`` (a :class:`PtyShell`), ``reason`` (None), ``_done`` (False),
    ``_exit_callbacks`` ([]) and ``lab`` (with a ``name``), gives the lock that guards ``_done`` and the
    callbacks (``_exit_lock``), calls :meth:`_finished` when the shell has ended, and may override
    :meth:`_translate` (the language of its messages)."""

    shell: PtyShell
    reason: str | None  # why it closed: "exit", "closed", "down", "exit-kernel"
    _done: bool
    _exit_callbacks: list
    _exit_lock: threading.RLock

    @property
    def command(self) -> ShellCommand:
        return self.shell.command

    @property
    def pid(self) -> int:
        return self.shell.pid

    @property
    def alive(self) -> bool:
        return self.shell.alive

    @property
    def status(self) -> int | None:
        """The shell's exit status once it has ended (negative: the signal that killed it)."""
        return self.shell.status

    def write(self, data: bytes | str) -> None:
        self.shell.write(data)

    def resize(self, rows: int, cols: int) -> None:
        self.shell.resize(rows, cols)

    def subscribe(self, on_output: Callable[[bytes], None],
                  replay: Callable[[bytes], None] | None = None) -> bytes:
        """Receive output from now on; ``replay`` first gets what was shown before (atomically)."""
        return self.shell.subscribe(on_output=on_output, replay=replay)

    def unsubscribe(self, on_output: Callable[[bytes], None]) -> None:
        self.shell.unsubscribe(on_output)

    def on_exit(self, callback: Callable) -> None:
        """Call ``callback(self)`` once, when the shell has ended (at once if it has)."""
        with self._exit_lock:
            done = self._done
            if not done:
                self._exit_callbacks.append(callback)
        if done:
            callback(self)

    def close(self, reason: str = "closed") -> None:
        """End the shell and everything it started; the view says why."""
        if self.reason is None:
            self.reason = reason
        self.shell.close()

    def _translate(self, message: str) -> str:
        return _(message)

    def closed_text(self) -> str:
        """Why the shell is closed, in the notebook's language ("" while it runs)."""
        if self.alive:
            return ""
        t = self._translate
        if self.reason == "down":
            return t(N_("terminal closed: lab {lab} was taken down")).format(lab=self.lab.name)
        if self.reason == "exit-kernel":
            return t(N_("terminal closed: the Python kernel is exiting"))
        status = self.status
        if self.reason == "closed" or status is None:
            return t(N_("terminal closed"))
        if status < 0:
            return t(N_("terminal closed: the shell was killed by signal {signal}")).format(signal=-status)
        return t(N_("terminal closed: the shell exited (status {status})")).format(status=status)

    def _finished(self) -> None:
        """The shell has ended (call with ``_exit_lock`` NOT held): mark it, then tell who asked."""
        with self._exit_lock:
            self._done = True
            callbacks, self._exit_callbacks = list(self._exit_callbacks), []
        if self.reason is None:
            self.reason = "exit"
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # noqa: BLE001 - a view must not break the shell's end
                pass
