"""Watch a lab's namespaces for changes, whoever makes them (nslab, or a student typing ``ip``).

One netlink socket per namespace, subscribed to the rtnetlink groups of links,
IPv4 addresses, IPv4 routes and IPv4 netconf.  ``net.ipv4.ip_forward`` has no
pyroute2 API, but the kernel announces every change of it (``sysctl -w`` as well)
as an ``RTM_NEWNETCONF`` message on the netconf group, so nothing is polled.

Each socket is opened by a short-lived thread that enters the namespace and exits
(a socket keeps the namespace it was made in; no fork per namespace, as
``IPRoute(netns=...)`` would do).  The sockets are then read on an asyncio loop:
the caller's own when it has one running (a Jupyter kernel: callbacks then run on
the kernel's main thread, where widgets are updated), else a private loop on a
daemon thread.  Messages are parsed by pyroute2; bursts are merged, so one
``ip addr add`` (an address, then its route) is one call of the callback.

Namespaces that appear later (a node added after the monitor started) are picked
up by a cheap check of their names every ``rescan`` seconds; a namespace whose name
is gone, or points at another namespace (a restarted container), is closed, so the
monitor never keeps a deleted namespace alive for long.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from typing import Callable, Mapping

from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from ..core.state import NodeHandle
from . import nsfs

SOL_NETLINK, NETLINK_ADD_MEMBERSHIP = 270, 1
# rtnetlink multicast groups (linux/rtnetlink.h)
RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_NETCONF = 1, 5, 7, 24
GROUPS = (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_NETCONF)
KINDS = {"RTM_NEWLINK": "link", "RTM_DELLINK": "link", "RTM_NEWADDR": "address", "RTM_DELADDR": "address",
         "RTM_NEWROUTE": "route", "RTM_DELROUTE": "route", "RTM_NEWNETCONF": "forwarding",
         "RTM_DELNETCONF": "forwarding"}

Handles = Mapping[str, NodeHandle]  # node -> where its namespace is
Callback = Callable[[dict[str, set[str]]], None]  # {node: {"link", "address", "route", "forwarding", "netns"}}


def open_watch_socket(path: str, host_inode: int | None = None) -> tuple[socket.socket, int]:
    """A non-blocking rtnetlink socket inside the namespace at ``path``, and that namespace's inode.

    Raises FileNotFoundError when the namespace is gone, PermissionError for the host's own.
    """
    box: dict[str, object] = {}

    def work() -> None:
        try:
            nsfs.enter(path, nsfs.host_netns_inode() if host_inode is None else host_inode)
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                                 socket.NETLINK_ROUTE)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                sock.bind((0, 0))
                for group in GROUPS:
                    sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
            except BaseException:
                sock.close()
                raise
            box["result"] = (sock, nsfs.thread_netns_inode())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, name="nslab-monitor-open", daemon=True)
    thread.start()
    thread.join()  # the thread exits: it never acts in the host namespace again
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def _path(handle: NodeHandle | tuple[str, str]) -> str:
    return handle.path if isinstance(handle, NodeHandle) else handle[1]


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


class NetlinkMonitor:
    """Calls ``callback({node: kinds})`` soon after the kernel state of a node changes.

    ``handles`` (node -> NodeHandle) may be a callable, asked again at each
    rescan (a lab whose nodes come and go).  ``delay`` merges bursts of messages.
    ``stop()`` (or leaving a ``with`` block) closes every socket.
    """

    def __init__(self, handles: Handles | Callable[[], Handles], callback: Callback, delay: float = 0.15,
                 rescan: float = 1.0):
        self._handles = handles
        self.callback = callback
        self.delay = delay
        self.rescan_every = rescan
        self.loop: asyncio.AbstractEventLoop | None = None
        self._own_thread: threading.Thread | None = None
        self._socks: dict[str, tuple[socket.socket, int]] = {}
        self._pending: dict[str, set[str]] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._rescan_handle: asyncio.Handle | None = None
        self._running = False
        self._parser = None
        self.errors: list[str] = []

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def watching(self) -> set[str]:
        """The nodes whose namespaces are being watched now."""
        return set(self._socks)

    def handles(self) -> Handles:
        return self._handles() if callable(self._handles) else self._handles

    def start(self) -> "NetlinkMonitor":
        if self._running:
            return self
        self._parser = MarshalRtnl()
        self._running = True
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(self.loop)
                self.loop.call_soon(ready.set)
                self.loop.run_forever()
                self.loop.close()

            self._own_thread = threading.Thread(target=run, name="nslab-monitor", daemon=True)
            self._own_thread.start()
            ready.wait()
        self._call(self._rescan)
        return self

    def stop(self) -> None:
        """Close every socket; the callback is not called again.  Never waits on a loop that is
        not running (so it is safe in atexit hooks, after the kernel's loop has stopped)."""
        if not self._running:
            return
        self._running = False
        done = threading.Event()

        def close() -> None:
            try:
                for node in list(self._socks):
                    self._close(node)
                for handle in (self._flush_handle, self._rescan_handle):
                    if handle is not None:
                        handle.cancel()
            finally:
                done.set()
                if self._own_thread is not None:
                    self.loop.stop()  # type: ignore[union-attr]

        loop = self.loop
        if self._on_loop_thread() or loop is None or loop.is_closed() or not loop.is_running():
            # Nothing runs the loop (a kernel exiting: its loop has stopped before atexit runs
            # lab.down()), so closing here is safe; queueing the close and waiting for it would
            # wait for ever, and a kernel killed before its atexit hooks end leaves its lab behind.
            close()
        else:
            loop.call_soon_threadsafe(close)
            done.wait(5)
            if self._own_thread is not None and self._own_thread is not threading.current_thread():
                self._own_thread.join(5)

    def __enter__(self) -> "NetlinkMonitor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return self._own_thread is not None and threading.current_thread() is self._own_thread

    def _call(self, fn: Callable[[], None]) -> None:
        if self._on_loop_thread():
            fn()
        else:
            self.loop.call_soon_threadsafe(fn)  # type: ignore[union-attr]

    # --- on the loop --------------------------------------------------------------------------
    def _rescan(self) -> None:
        """Open namespaces that appeared, close those that went away or were replaced."""
        if not self._running:
            return
        try:
            handles = dict(self.handles())
        except Exception as exc:  # noqa: BLE001 - a lab gone meanwhile: keep what is watched
            self.errors.append(str(exc))
            handles = {}
        for node in list(self._socks):
            _sock, inode = self._socks[node]
            if node not in handles or _inode(_path(handles[node])) != inode:
                self._close(node)
                self._note(node, "netns")
        for node, handle in handles.items():
            path = _path(handle)
            if node in self._socks or _inode(path) is None:
                continue
            try:
                sock, inode = open_watch_socket(path)
            except (FileNotFoundError, PermissionError):
                continue
            except OSError as exc:
                self.errors.append(f"{node}: {exc}")
                continue
            self._socks[node] = (sock, inode)
            self.loop.add_reader(sock.fileno(), self._readable, node)  # type: ignore[union-attr]
            self._note(node, "netns")
        self._rescan_handle = self.loop.call_later(self.rescan_every, self._rescan)  # type: ignore[union-attr]

    def _close(self, node: str) -> None:
        sock, _inode_ = self._socks.pop(node)
        try:
            self.loop.remove_reader(sock.fileno())  # type: ignore[union-attr]
        finally:
            sock.close()

    def _readable(self, node: str) -> None:
        sock, _inode_ = self._socks[node]
        kinds: set[str] = set()
        while True:
            try:
                data = sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError as exc:  # ENOBUFS: messages were lost; the state is read again anyway
                kinds.add("overrun")
                if exc.errno != 105:
                    self.errors.append(f"{node}: {exc}")
                    break
                continue
            if not data:
                break
            try:
                for msg in self._parser.parse(data):  # type: ignore[union-attr]
                    kind = KINDS.get(msg.get("event"))
                    if kind:
                        kinds.add(kind)
            except Exception:  # noqa: BLE001 - an unparsable message still means "changed"
                kinds.add("other")
        if kinds:
            for kind in kinds:
                self._note(node, kind)

    def _note(self, node: str, kind: str) -> None:
        self._pending.setdefault(node, set()).add(kind)
        if self._flush_handle is None:
            self._flush_handle = self.loop.call_later(self.delay, self._flush)  # type: ignore[union-attr]

    def _flush(self) -> None:
        self._flush_handle = None
        pending, self._pending = self._pending, {}
        if not pending or not self._running:
            return
        try:
            self.callback(pending)
        except Exception as exc:  # noqa: BLE001 - a display must never stop the monitor
            self.errors.append(f"callback: {type(exc).__name__}: {exc}")


__all__ = ["GROUPS", "NetlinkMonitor", "open_watch_socket"]
