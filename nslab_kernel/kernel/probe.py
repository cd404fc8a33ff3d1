"""The ping matrix: every node to every address of every other node.

ICMP echo is sent from inside each source namespace through one raw socket per
source (no ``ping`` process per pair), a window of requests per ``sendmmsg``
call and replies read back with ``recvmmsg``; all sources probe at once, on a
few threads, and every probe shares one deadline, so a matrix where everything
fails still returns in about one timeout.  Round-trip times are the kernel's own
stamps (SO_TIMESTAMPING), as exact as ``ping``'s.  The result is typed data that
the widgets and the command line render.
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import select
import socket
import struct
import time
from typing import Callable, Mapping, Sequence

from ..core.errors import BackendError
from ..core.results import FAILED, OK, PARTIAL, Pair, PingMatrix, Probe
from ..core.state import NodeHandle
from . import fanout, nsfs

__all__ = ["FAILED", "OK", "PARTIAL", "Pair", "PingMatrix", "Probe", "ping_matrix"]
ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_ECHO, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
SOL_RAW, ICMP_FILTER = 255, 1
UNREACH_REASONS = {0: "network unreachable", 1: "host unreachable", 3: "port unreachable",
                   9: "network prohibited", 10: "host prohibited", 13: "administratively prohibited"}


PAYLOAD = b"nslab-probe\0\0\0\0\0"  # 16 bytes, an even length: the checksum sums 16-bit words
_PAYLOAD_SUM = sum(struct.unpack(f"!{len(PAYLOAD) // 2}H", PAYLOAD))
PACKET = 8 + len(PAYLOAD)
WINDOW = 64  # probes handed to the kernel in one sendmmsg; their replies are read before the next window

# Kernel stamps (Documentation/networking/timestamping.rst): the software stamp of a request as it
# enters its first device's queue, and of a reply as it arrives; OPT_ID numbers the requests.
SO_TIMESTAMPING = SCM_TIMESTAMPING = 37  # asm-generic and x86 alike; Python's socket module lacks them
SOF_TX_SCHED, SOF_RX_SOFTWARE, SOF_SOFTWARE, SOF_OPT_ID, SOF_OPT_TSONLY = 1 << 8, 1 << 3, 1 << 4, 1 << 7, 1 << 11
SO_RCVBUFFORCE, IP_RECVERR, SO_EE_ORIGIN_TIMESTAMPING = 33, 11, 4
MSG_DONTWAIT, MSG_ERRQUEUE = 0x40, 0x2000
DATA, CONTROL = 128, 128  # bytes read of each packet (headers are enough) and of its ancillary data

_ECHO = struct.Struct("!BBHHH")
_IDSEQ = struct.Struct("!HH")
_MMSGHDR = struct.Struct("=QI4xQQQQi4xI4x")  # struct mmsghdr on LP64: msghdr, then msg_len
_IOVEC = struct.Struct("=QQ")
_SOCKADDR_IN = struct.Struct("=H2s4s8x")
_CMSGHDR = struct.Struct("=Qii")
_TIMESPEC = struct.Struct("=qq")
_U32, _U64 = struct.Struct("=I"), struct.Struct("=Q")
# The usual ancillary data, read in one go: a send stamp (SCM_TIMESTAMPING, then IP_RECVERR with the
# request's number in ee_data), and a reply's arrival stamp; anything else takes the general walk.
_SENT_STAMP = struct.Struct("=Qiiqq32xQiiIBBBBII")
_ARRIVAL_STAMP = struct.Struct("=Qiiqq")
_REPLY = struct.Struct("!B19xB3xHH")  # an IPv4 header without options (its first byte), ICMP type, id, seq
_CONTROLLEN_AT, _MSGLEN_AT = 40, 56  # offsets in struct mmsghdr

_libc = ctypes.CDLL(None, use_errno=True)
_libc.sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
_libc.recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(ident: int, seq: int) -> bytes:
    """An ICMP echo request; its checksum is the RFC 1071 sum of the header and ``PAYLOAD``."""
    total = (ICMP_ECHO << 8) + ident + seq + _PAYLOAD_SUM
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return _ECHO.pack(ICMP_ECHO, 0, ~total & 0xFFFF, ident, seq) + PAYLOAD


class _Buffers:
    """One probe thread's message arrays for sendmmsg/recvmmsg, built once and reused:
    a window of requests (packet, address, iovec, header per slot) and of received
    messages (data, ancillary data, iovec, header per slot)."""

    def __init__(self, slots: int = WINDOW):
        self.slots = slots
        n = slots
        self.send = ctypes.create_string_buffer(n * (PACKET + _SOCKADDR_IN.size + _IOVEC.size + _MMSGHDR.size))
        base = ctypes.addressof(self.send)
        self.packets, self.names = 0, n * PACKET
        iov, hdr = self.names + n * _SOCKADDR_IN.size, self.names + n * (_SOCKADDR_IN.size + _IOVEC.size)
        self.send_headers = base + hdr
        layout = b"".join(_IOVEC.pack(base + self.packets + i * PACKET, PACKET) for i in range(n))
        layout += b"".join(_MMSGHDR.pack(base + self.names + i * _SOCKADDR_IN.size, _SOCKADDR_IN.size,
                                         base + iov + i * _IOVEC.size, 1, 0, 0, 0, 0) for i in range(n))
        ctypes.memmove(base + iov, layout, len(layout))

        self.recv = ctypes.create_string_buffer(n * (DATA + CONTROL + _IOVEC.size + _MMSGHDR.size))
        base = ctypes.addressof(self.recv)
        self.data, self.control = 0, n * DATA
        iov, hdr = n * (DATA + CONTROL), n * (DATA + CONTROL + _IOVEC.size)
        self.recv_headers_at, self.recv_headers = hdr, base + hdr
        # recvmmsg writes each header's control length back: the pristine ones are copied in before each call
        self.recv_layout = b"".join(_MMSGHDR.pack(0, 0, base + iov + i * _IOVEC.size, 1,
                                                  base + self.control + i * CONTROL, CONTROL, 0, 0) for i in range(n))
        iovs = b"".join(_IOVEC.pack(base + self.data + i * DATA, DATA) for i in range(n))
        ctypes.memmove(base + iov, iovs, len(iovs))
        self.view = memoryview(self.recv).cast("B")

    def stage(self, packets: bytes, names: bytes) -> None:
        ctypes.memmove(ctypes.addressof(self.send) + self.packets, packets, len(packets))
        ctypes.memmove(ctypes.addressof(self.send) + self.names, names, len(names))

    def receive(self, fd: int, flags: int) -> int:
        """recvmmsg into the slots; the number of messages read (0: none waiting)."""
        ctypes.memmove(self.recv_headers, self.recv_layout, len(self.recv_layout))
        got = _libc.recvmmsg(fd, self.recv_headers, self.slots, flags | MSG_DONTWAIT, None)
        return max(got, 0)

    def control_length(self, i: int) -> int:
        """How many bytes of ancillary data message ``i`` carries (recvmmsg writes it back)."""
        return _U64.unpack_from(self.view, self.recv_headers_at + i * _MMSGHDR.size + _CONTROLLEN_AT)[0]

    def stamps(self, i: int) -> tuple[int | None, int | None]:
        """Message ``i``'s kernel software stamp (ns) and its OPT_ID number, from its ancillary data."""
        view = self.view
        at = self.control + i * CONTROL
        end = at + min(_U64.unpack_from(view, self.recv_headers_at + i * _MMSGHDR.size + _CONTROLLEN_AT)[0], CONTROL)
        stamp = number = None
        while at + _CMSGHDR.size <= end:
            length, level, kind = _CMSGHDR.unpack_from(view, at)
            if length < _CMSGHDR.size:
                break
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPING:
                sec, nsec = _TIMESPEC.unpack_from(view, at + _CMSGHDR.size)
                stamp = sec * 1_000_000_000 + nsec
            elif level == socket.SOL_IP and kind == IP_RECVERR and view[at + _CMSGHDR.size + 4] == SO_EE_ORIGIN_TIMESTAMPING:
                number = _U32.unpack_from(view, at + _CMSGHDR.size + 12)[0]  # ee_data
            at += (length + 7) & ~7
        return stamp, number

    def packet(self, i: int) -> bytes:
        length = _U32.unpack_from(self.view, self.recv_headers_at + i * _MMSGHDR.size + _MSGLEN_AT)[0]
        at = self.data + i * DATA
        return bytes(self.view[at:at + min(length, DATA)])


_NAMES: dict[str, bytes] = {}


def _sockaddr(address: str) -> bytes:
    name = _NAMES.get(address)
    if name is None:
        name = _NAMES[address] = _SOCKADDR_IN.pack(socket.AF_INET, b"\0\0", socket.inet_aton(address))
    return name


class _Source:
    """One source node's raw ICMP socket (opened inside its namespace) and its probes.

    Requests go out a window at a time through sendmmsg; on a veth path the kernel
    carries each request and its reply inside that call.  The round-trip time is
    the kernel's own: the reply's arrival stamp minus the stamp the request got as
    it entered the source's interface queue (SO_TIMESTAMPING), so the time this
    process takes to read replies is never counted.  A request that first waits
    for ARP gets its stamp after it (``ping`` would count that wait; on a veth it
    is a few microseconds).
    """

    def __init__(self, source: str, targets: Sequence[tuple[str, str]]):
        self.source = source
        self.targets = list(targets)
        self.ident = random.randrange(1, 0xFFFF)
        self.sent: list[int] = [0] * len(self.targets)  # CLOCK_REALTIME ns before its window; 0: not sent
        self.left: list[int] = [0] * len(self.targets)  # the kernel's stamp as the request left
        self.numbered: list[int] = []  # the requests in the kernel's OPT_ID order
        self.outcome: dict[int, tuple[bool, float | None, str]] = {}
        self.answers: dict[int, int] = {}  # seq -> the reply's arrival stamp
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)
        # Only replies and errors reach this socket: the echo requests other nodes send to this
        # one (thousands, in a big matrix) are not copied to it at all (a bit set = filtered out).
        wanted = (1 << ICMP_ECHO_REPLY) | (1 << ICMP_UNREACH) | (1 << ICMP_TIME_EXCEEDED)
        self.sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~wanted & 0xFFFFFFFF))
        try:  # a kernel without these stamps (before 4.2): the clock before the send, at the read
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING,
                                 SOF_TX_SCHED | SOF_RX_SOFTWARE | SOF_SOFTWARE | SOF_OPT_ID | SOF_OPT_TSONLY)
        except OSError:
            pass
        try:  # room for a window's replies and stamps whatever the host's default
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 18)
        except OSError:
            pass

    @property
    def done(self) -> bool:
        return len(self.outcome) + len(self.answers) >= len(self.targets)

    def send_all(self, buffers: _Buffers) -> None:
        """Send every probe, a window at a time, reading replies back after each window."""
        ident, fd, count = self.ident, self.sock.fileno(), len(self.targets)
        for first in range(0, count, buffers.slots):
            last = min(first + buffers.slots, count)
            buffers.stage(b"".join([_echo(ident, seq) for seq in range(first, last)]),
                          b"".join([_sockaddr(address) for _node, address in self.targets[first:last]]))
            seq = first
            while seq < last:
                now = time.time_ns()
                done = _libc.sendmmsg(fd, buffers.send_headers + (seq - first) * _MMSGHDR.size, last - seq,
                                      MSG_DONTWAIT)
                if done < 0:  # this request failed; the ones before it went out
                    code = ctypes.get_errno()
                    self.outcome[seq] = (False, None, "send buffer full" if code == errno.EAGAIN else
                                         "no route" if code in (errno.ENETUNREACH, errno.EHOSTUNREACH) else
                                         os.strerror(code))
                    seq += 1
                    continue
                for n in range(seq, seq + done):
                    self.sent[n] = now
                self.numbered.extend(range(seq, seq + done))
                seq += done
            self.receive(buffers)

    def receive(self, buffers: _Buffers) -> None:
        """Read the kernel's send stamps, then every reply and error waiting on the socket."""
        fd, view, numbered, left = self.sock.fileno(), buffers.view, self.numbered, self.left
        control, headers = buffers.control, buffers.recv_headers_at
        sol_socket, sol_ip = socket.SOL_SOCKET, socket.SOL_IP
        while True:
            got = buffers.receive(fd, MSG_ERRQUEUE)
            for i in range(got):
                if buffers.control_length(i) < _SENT_STAMP.size:  # not the usual send stamp: the general walk
                    stamp, number = buffers.stamps(i)
                    if stamp is not None and number is not None and number < len(numbered):
                        left[numbered[number]] = stamp
                    continue
                (_l1, level1, kind1, sec, nsec, _l2, level2, kind2, _errno, origin, _type, _code, _pad, _info,
                 number) = _SENT_STAMP.unpack_from(view, control + i * CONTROL)
                if not (level1 == sol_socket and kind1 == SCM_TIMESTAMPING and level2 == sol_ip
                        and kind2 == IP_RECVERR and origin == SO_EE_ORIGIN_TIMESTAMPING):
                    stamp, number = buffers.stamps(i)
                    if stamp is None or number is None:
                        continue
                else:
                    stamp = sec * 1_000_000_000 + nsec
                if number < len(numbered):
                    left[numbered[number]] = stamp
            if got < buffers.slots:
                break
        ident, sent, outcome, answers, count = self.ident, self.sent, self.outcome, self.answers, len(self.sent)
        data = buffers.data
        while True:
            got = buffers.receive(fd, 0)
            for i in range(got):
                # A reply the kernel did not stamp carries no ancillary data, and this slot's control
                # buffer still holds what an earlier call wrote there (often this very request's send
                # stamp: a round trip of exactly 0 ms).  Read a stamp only where one was written.
                if buffers.control_length(i) >= _ARRIVAL_STAMP.size:
                    _len, level, kind, sec, nsec = _ARRIVAL_STAMP.unpack_from(view, control + i * CONTROL)
                    arrived = (sec * 1_000_000_000 + nsec if level == sol_socket and kind == SCM_TIMESTAMPING
                               else buffers.stamps(i)[0])
                else:
                    arrived = None
                at = data + i * DATA
                length = _U32.unpack_from(view, headers + i * _MMSGHDR.size + _MSGLEN_AT)[0]
                if view[at] == 0x45 and length >= _REPLY.size:  # the usual: an echo reply, no IP options
                    _version, icmp, rid, seq = _REPLY.unpack_from(view, at)
                    if icmp == ICMP_ECHO_REPLY:
                        if rid == ident and seq < count and sent[seq] and seq not in outcome and seq not in answers:
                            answers[seq] = arrived or time.time_ns()
                        continue
                self._answer(buffers.packet(i), arrived)
            if got < buffers.slots:
                break

    def _answer(self, packet: bytes, arrived: int | None) -> None:
        ihl = (packet[0] & 0x0F) * 4
        if len(packet) < ihl + 8:
            return
        kind, code = packet[ihl], packet[ihl + 1]
        if kind == ICMP_ECHO_REPLY:
            rid, seq = _IDSEQ.unpack_from(packet, ihl + 4)
            if rid == self.ident and seq < len(self.sent) and self.sent[seq] and seq not in self.outcome:
                self.answers.setdefault(seq, arrived or time.time_ns())
        elif kind in (ICMP_UNREACH, ICMP_TIME_EXCEEDED) and len(packet) >= ihl + 36:
            inner = ihl + 8
            orig = inner + (packet[inner] & 0x0F) * 4
            if len(packet) >= orig + 8 and packet[orig] == ICMP_ECHO:
                rid, seq = _IDSEQ.unpack_from(packet, orig + 4)
                if rid == self.ident and seq < len(self.sent) and self.sent[seq] and seq not in self.answers:
                    by = socket.inet_ntoa(packet[12:16])
                    why = (UNREACH_REASONS.get(code, f"unreachable (code {code})") if kind == ICMP_UNREACH
                           else "time exceeded (a routing loop, or more routers than the TTL)")
                    self.outcome.setdefault(seq, (False, None, f"{why}, reported by {by}"))

    def probes(self, expected: Mapping[tuple[str, str], bool] | None) -> list[Probe]:
        """Close the socket; a Probe per target, in order, with what ``expected`` says of it."""
        self.sock.close()
        out = []
        for seq, (node, address) in enumerate(self.targets):
            want = None if expected is None else expected.get((self.source, address))
            arrived = self.answers.get(seq)
            if arrived is not None:
                left = self.left[seq] or self.sent[seq]  # no kernel stamp: the clock before the send
                out.append(Probe(self.source, node, address, True, round(max(arrived - left, 0) / 1e6, 4), "", want))
            else:
                ok, rtt, error = self.outcome.get(seq, (False, None, "no reply"))
                out.append(Probe(self.source, node, address, ok, rtt, error, want))
        return out


def _stamps_switch() -> socket.socket | None:
    """A socket that only asks for software receive stamps (it sends and binds nothing): while one
    is open the kernel stamps the packets it receives, in every namespace."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return None
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, SOF_RX_SOFTWARE | SOF_SOFTWARE)
    except OSError:
        sock.close()
        return None
    return sock


PROBE_WORKERS = max(1, min(4, os.cpu_count() or 1))  # one per core: more only adds contention


def ping_matrix(lab: str, handles: Mapping[str, NodeHandle], targets: Mapping[str, Sequence[tuple[str, str]]],
                timeout: float = 1.0,
                expected: Mapping[tuple[str, str], bool] | Callable[[], Mapping[tuple[str, str], bool]] | None = None,
                ) -> PingMatrix:
    """Probe from every source in ``handles`` (node -> where its namespace is) to its ``targets``.

    ``expected`` (what the topology says each probe should do) may be a callable,
    computed here first: computing it while the probe threads run only makes them
    wait for the interpreter, and knowing it lets each thread write up its sources
    while the other threads' requests are in the kernel.
    """
    if not 0 < timeout <= 60:
        raise ValueError("timeout must be between 0 and 60 seconds")
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        raise BackendError("the ping matrix lays out sendmmsg's messages for a 64-bit Linux; this Python is 32-bit")
    start = time.perf_counter()
    # Receive stamps are switched on for the whole kernel by the first socket that asks, through a
    # deferred work item; a reply that arrives before that has no stamp.  Asked here, before the
    # threads open their sockets, they are on by the first reply (a reply without one is timed by
    # the clock when it is read: later, never 0).
    stamps_on = _stamps_switch()
    results: dict[str, list[Probe]] = {}
    host = nsfs.host_netns_inode()
    sources = list(handles.items())
    want = expected() if callable(expected) else expected
    deadline = time.monotonic() + timeout

    # A few threads, each opening one raw socket per source inside that source's
    # namespace (a socket keeps the namespace it was made in), then polling all of
    # them: no fork per probe and no thread per node fighting for the GIL.  On a
    # veth path the kernel carries a request and its reply inside the send call, so
    # the threads' sends are where the work runs, one core each; a source whose
    # replies are all in is written up by its thread while the other one sends.
    shares = [sources[i::PROBE_WORKERS] for i in range(min(PROBE_WORKERS, len(sources)))]

    def work(share: list[tuple[str, NodeHandle]]) -> None:
        opened: list[_Source] = []
        try:
            buffers = _Buffers()
            for source, handle in share:
                try:
                    nsfs.enter(handle.path, host)
                except PermissionError:
                    raise BackendError(f"refusing to probe from '{source}': it is the host's own namespace") from None
                except FileNotFoundError:
                    results[source] = [Probe(source, n, a, False, None, f"{source} is not up",
                                             None if want is None else want.get((source, a)))
                                       for n, a in targets.get(source, ())]
                    continue
                src = _Source(source, targets.get(source, ()))
                opened.append(src)
                src.send_all(buffers)
                if src.done:
                    opened.pop()
                    results[source] = src.probes(want)
            poller = select.poll()
            by_fd = {src.sock.fileno(): src for src in opened}
            for src in opened:
                src.receive(buffers)
                if not src.done:
                    poller.register(src.sock.fileno(), select.POLLIN)
            pending = sum(not s.done for s in opened)
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for fd, _event in poller.poll(left * 1000):
                    src = by_fd[fd]
                    src.receive(buffers)
                    if src.done:
                        poller.unregister(fd)
                        pending -= 1
        finally:
            for src in opened:
                results[src.source] = src.probes(want)

    try:
        fanout.each(work, shares, workers=len(shares), name="nslab-ping")
    finally:
        if stamps_on is not None:
            stamps_on.close()
    probes = [p for source in handles for p in results.get(source, ())]
    return PingMatrix(lab, list(handles), probes, timeout, time.perf_counter() - start)
