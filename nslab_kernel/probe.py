"""The ping matrix: every node to every address of every other node.

ICMP echo is sent from inside each source namespace through one raw socket per
source (no ``ping`` process per pair); all sources probe at once and every
probe shares one deadline, so a matrix where everything fails still returns in
about one timeout.  The result is typed data that the widgets and the command
line render.
"""

from __future__ import annotations

import errno
import os
import random
import select
import socket
import struct
import threading
import time
from typing import Callable, Mapping, Sequence

from . import nsfs
from .errors import BackendError
from .results import FAILED, OK, PARTIAL, Pair, PingMatrix, Probe

__all__ = ["FAILED", "OK", "PARTIAL", "Pair", "PingMatrix", "Probe", "ping_matrix"]
ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_ECHO, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
SOL_RAW, ICMP_FILTER = 255, 1
UNREACH_REASONS = {0: "network unreachable", 1: "host unreachable", 3: "port unreachable",
                   9: "network prohibited", 10: "host prohibited", 13: "administratively prohibited"}


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(ident: int, seq: int) -> bytes:
    payload = b"nslab-probe-" + struct.pack("!d", time.time())
    header = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO, 0, _checksum(header + payload), ident, seq) + payload


class _Source:
    """One source node's raw ICMP socket (opened inside its namespace) and its probes."""

    def __init__(self, source: str, targets: Sequence[tuple[str, str]]):
        self.source = source
        self.targets = list(targets)
        self.ident = random.randrange(1, 0xFFFF)
        self.sent: dict[int, float] = {}
        self.result: dict[int, Probe] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.sock.setblocking(False)
        # Only replies and errors reach this socket: the echo requests other nodes send to this
        # one (thousands, in a big matrix) are not copied to it at all (a bit set = filtered out).
        wanted = (1 << ICMP_ECHO_REPLY) | (1 << ICMP_UNREACH) | (1 << ICMP_TIME_EXCEEDED)
        self.sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~wanted & 0xFFFFFFFF))

    @property
    def done(self) -> bool:
        return len(self.result) >= len(self.targets)

    def send_all(self) -> None:
        for seq, (node, address) in enumerate(self.targets):
            try:
                self.sock.sendto(_echo(self.ident, seq), (address, 0))
                self.sent[seq] = time.perf_counter()
            except BlockingIOError:
                self.result[seq] = Probe(self.source, node, address, False, None, "send buffer full")
            except OSError as exc:
                reason = "no route" if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) else exc.strerror
                self.result[seq] = Probe(self.source, node, address, False, None, reason)

    def receive(self) -> None:
        while True:
            try:
                packet = self.sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            now = time.perf_counter()
            ihl = (packet[0] & 0x0F) * 4
            icmp = packet[ihl:]
            if len(icmp) < 8:
                continue
            kind, code = icmp[0], icmp[1]
            if kind == ICMP_ECHO_REPLY:
                rid, seq = struct.unpack_from("!HH", icmp, 4)
                if rid == self.ident and seq in self.sent and seq not in self.result:
                    node, address = self.targets[seq]
                    self.result[seq] = Probe(self.source, node, address, True, round((now - self.sent[seq]) * 1000, 3))
            elif kind in (ICMP_UNREACH, ICMP_TIME_EXCEEDED) and len(icmp) >= 36:
                inner = icmp[8:]
                inner_ihl = (inner[0] & 0x0F) * 4
                orig = inner[inner_ihl:inner_ihl + 8]
                if len(orig) == 8 and orig[0] == ICMP_ECHO:
                    rid, seq = struct.unpack_from("!HH", orig, 4)
                    if rid == self.ident and seq in self.sent and seq not in self.result:
                        node, address = self.targets[seq]
                        by = socket.inet_ntoa(packet[12:16])
                        why = (UNREACH_REASONS.get(code, f"unreachable (code {code})") if kind == ICMP_UNREACH
                               else "time exceeded (a routing loop?)")
                        self.result[seq] = Probe(self.source, node, address, False, None, f"{why}, reported by {by}")

    def probes(self) -> list[Probe]:
        self.sock.close()
        return [self.result.get(seq) or Probe(self.source, node, address, False, None, "no reply")
                for seq, (node, address) in enumerate(self.targets)]


PROBE_WORKERS = max(1, min(4, os.cpu_count() or 1))  # one per core: more only adds contention


def ping_matrix(lab: str, handles: Mapping[str, tuple[str, str]], targets: Mapping[str, Sequence[tuple[str, str]]],
                timeout: float = 1.0,
                expected: Mapping[tuple[str, str], bool] | Callable[[], Mapping[tuple[str, str], bool]] | None = None,
                ) -> PingMatrix:
    """Probe from every source in ``handles`` (node -> (netns name, path)) to its ``targets``.

    ``expected`` (what the topology says each probe should do) may be a callable:
    it is then computed here while the probes are in flight.
    """
    if not 0 < timeout <= 60:
        raise ValueError("timeout must be between 0 and 60 seconds")
    start = time.perf_counter()
    deadline = time.monotonic() + timeout
    results: dict[str, list[Probe]] = {}
    errors: list[BaseException] = []
    host = nsfs.host_netns_inode()
    sources = list(handles.items())
    # A few threads, each opening one raw socket per source inside that source's
    # namespace (a socket keeps the namespace it was made in), then polling all of
    # them: no fork per probe and no thread per node fighting for the GIL.
    shares = [sources[i::PROBE_WORKERS] for i in range(min(PROBE_WORKERS, len(sources)))]

    def work(share: list[tuple[str, tuple[str, str]]]) -> None:
        opened: list[_Source] = []
        try:
            for source, (_name, path) in share:
                try:
                    nsfs.enter(path, host)
                except PermissionError:
                    raise BackendError(f"refusing to probe from '{source}': it is the host's own namespace") from None
                except FileNotFoundError:
                    results[source] = [Probe(source, n, a, False, None, f"{source} is not up")
                                       for n, a in targets.get(source, ())]
                    continue
                opened.append(_Source(source, targets.get(source, ())))
            for src in opened:
                src.send_all()
            poller = select.poll()
            by_fd = {src.sock.fileno(): src for src in opened}
            for fd in by_fd:
                poller.register(fd, select.POLLIN)
            pending = sum(not s.done for s in opened)
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for fd, _event in poller.poll(left * 1000):
                    src = by_fd[fd]
                    was_done = src.done
                    src.receive()
                    if src.done and not was_done:
                        pending -= 1
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            for src in opened:
                results[src.source] = src.probes()

    threads = [threading.Thread(target=work, args=(share,), name="nslab-ping", daemon=True) for share in shares]
    for t in threads:
        t.start()
    if callable(expected):
        expected = expected()  # the probe threads wait in the kernel meanwhile
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    if errors:
        raise errors[0]
    probes = []
    for source in handles:
        for p in results.get(source, []):
            exp = None if expected is None else expected.get((source, p.address))
            probes.append(Probe(p.source, p.node, p.address, p.ok, p.rtt_ms, p.error, exp))
    return PingMatrix(lab, list(handles), probes, timeout, time.perf_counter() - start)
