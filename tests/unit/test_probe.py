"""The ping matrix's packet and message handling, without the kernel (no root)."""

from __future__ import annotations

import socket
import struct

from nslab_kernel.kernel import probe


def test_probe_packets_carry_a_valid_checksum():
    """The echo requests' checksum is computed incrementally; the RFC 1071 sum must check out."""
    for ident, seq in [(1, 0), (0xFFFE, 0xFFFF), (0x1234, 77), (0x8000, 0x8000)]:
        packet = probe._echo(ident, seq)
        assert len(packet) == probe.PACKET and probe._checksum(packet) == 0
        assert packet[0] == probe.ICMP_ECHO and int.from_bytes(packet[4:6], "big") == ident
    assert probe._MMSGHDR.size == 64  # struct mmsghdr on a 64-bit Linux


def _cmsg(level: int, kind: int, data: bytes) -> bytes:
    raw = struct.pack("=Qii", 16 + len(data), level, kind) + data
    return raw + b"\0" * (-len(raw) % 8)


def _put(buffers: probe._Buffers, i: int, control: bytes, data: bytes = b"") -> None:
    """Lay out message ``i`` as recvmmsg would: its data, its ancillary data and their lengths."""
    view = buffers.view
    at = buffers.control + i * probe.CONTROL
    view[at:at + len(control)] = control
    at = buffers.data + i * probe.DATA
    view[at:at + len(data)] = data
    header = buffers.recv_headers_at + i * probe._MMSGHDR.size
    struct.pack_into("=Q", view, header + probe._CONTROLLEN_AT, len(control))
    struct.pack_into("=I", view, header + probe._MSGLEN_AT, len(data))


def test_stamps_are_read_whatever_the_order_of_the_ancillary_data():
    buffers = probe._Buffers(slots=4)
    stamp = struct.pack("=qq", 1_700_000_000, 123_456_789) + b"\0" * 32
    error = struct.pack("=IBBBBII", 42, probe.SO_EE_ORIGIN_TIMESTAMPING, 0, 0, 0, 0, 7) + b"\0" * 16
    _put(buffers, 0, _cmsg(socket.SOL_SOCKET, probe.SCM_TIMESTAMPING, stamp) + _cmsg(socket.SOL_IP, probe.IP_RECVERR, error))
    _put(buffers, 1, _cmsg(socket.SOL_IP, probe.IP_RECVERR, error) + _cmsg(socket.SOL_SOCKET, probe.SCM_TIMESTAMPING, stamp))
    _put(buffers, 2, _cmsg(socket.SOL_SOCKET, probe.SCM_TIMESTAMPING, stamp))
    _put(buffers, 3, b"")
    expected = 1_700_000_000 * 1_000_000_000 + 123_456_789
    assert buffers.stamps(0) == buffers.stamps(1) == (expected, 7)
    assert buffers.stamps(2) == (expected, None)
    assert buffers.stamps(3) == (None, None)


def test_a_reply_and_an_error_are_matched_to_their_probe():
    """An echo reply (IPv4 header with options: the general path) and a 'time exceeded' quoting
    a request each settle the probe they name, and nothing else."""
    src = probe._Source.__new__(probe._Source)
    src.source, src.targets, src.ident = "h1", [("h2", "10.0.2.2"), ("h3", "10.0.3.2"), ("h4", "10.0.4.2")], 0x4242
    src.sent, src.left, src.numbered, src.outcome, src.answers = [1, 1, 0], [0, 0, 0], [], {}, {}
    options = bytes([0x46]) + b"\0" * 23  # IHL 6: a 24-byte header
    src._answer(options + struct.pack("!BBHHH", probe.ICMP_ECHO_REPLY, 0, 0, 0x4242, 0), 5_000)
    quoted = bytes([0x45]) + b"\0" * 19 + struct.pack("!BBHHH", probe.ICMP_ECHO, 0, 0, 0x4242, 1)
    router = bytes([0x45]) + b"\0" * 11 + socket.inet_aton("10.0.1.1") + b"\0" * 4
    src._answer(router + struct.pack("!BBHHH", probe.ICMP_TIME_EXCEEDED, 0, 0, 0, 0) + quoted, None)
    src._answer(options + struct.pack("!BBHHH", probe.ICMP_ECHO_REPLY, 0, 0, 0x4242, 2), 6_000)  # never sent
    src._answer(options + struct.pack("!BBHHH", probe.ICMP_ECHO_REPLY, 0, 0, 0x9999, 1), 6_000)  # not ours
    assert src.answers == {0: 5_000}
    assert src.outcome[1][0] is False and "time exceeded" in src.outcome[1][2] and "10.0.1.1" in src.outcome[1][2]
    assert 2 not in src.outcome and not src.done
