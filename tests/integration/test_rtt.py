"""Round-trip times are measured, on LXD as on netns (root; the real daemon, no mocks).

The bug this guards: a reply the kernel had not stamped (receive stamps are switched on
for the whole kernel by a deferred work item when the first socket asks) carries no
ancillary data, and the probe read the stale send stamp left in that slot's buffer:
arrival == departure, whole rows of exactly 0 ms, most often in a fresh process
(``nslab ping --json``).  Each ping runs in a fresh process here, several times.
"""

from __future__ import annotations

import json
import statistics
import uuid

import pytest

from nslab_kernel import Lab
from tests.support import IS_ROOT, need, run_nslab

pytestmark = [pytest.mark.root]
RUNS = 6


def rtts_of(lab_name: str) -> list[float | None]:
    out = []
    for _ in range(RUNS):
        proc = run_nslab("ping", "--lab", lab_name, "--json", check=True)
        data = json.loads(proc.stdout)
        assert data["reachable"], data["failed"]
        out += [p["rtt_ms"] for pair in data["pairs"] for p in pair["probes"]]
    return out


def check_measured(rtts: list[float | None]) -> None:
    assert rtts and all(r is not None for r in rtts)
    zero = [r for r in rtts if r <= 0]
    assert not zero, f"{len(zero)} of {len(rtts)} round trips read 0 ms"
    assert max(rtts) < 100  # veth paths on one host: microseconds, not a timeout


@pytest.mark.parametrize("backend", ["netns", pytest.param("lxd", marks=pytest.mark.lxd)])
def test_round_trip_times_are_measured(private_state, backend):
    need(IS_ROOT, "needs root")
    if backend == "lxd":
        from nslab_kernel.backends.lxd import socket_path
        need(socket_path() is not None, "needs a running LXD daemon (scripts/lxd-start.sh starts one)")
    lab = Lab.load("figure1", backend=backend, lab=f"h5rtt{uuid.uuid4().hex[:4]}")
    try:
        lab.up()
        rtts = rtts_of(lab.name)
        check_measured(rtts)
        # and the same from a long-lived process (a notebook's kernel)
        for _ in range(3):
            matrix = lab.ping_matrix()
            check_measured([p.rtt_ms for p in matrix.probes])
        assert statistics.median(rtts) > 0
    finally:
        lab.down()


def test_lxd_and_netns_measure_alike(private_state):
    """Both backends carry probes over the same kind of veth path: their medians are of one order."""
    need(IS_ROOT, "needs root")
    from nslab_kernel.backends.lxd import socket_path
    need(socket_path() is not None, "needs a running LXD daemon (scripts/lxd-start.sh starts one)")
    medians = {}
    for backend in ("netns", "lxd"):
        lab = Lab.load("figure1", backend=backend, lab=f"h5cmp{backend[0]}{uuid.uuid4().hex[:4]}")
        try:
            lab.up()
            rtts = [p.rtt_ms for _ in range(5) for p in lab.ping_matrix().probes]
            check_measured(rtts)
            medians[backend] = statistics.median(rtts)
        finally:
            lab.down()
    assert 1 / 20 < medians["lxd"] / medians["netns"] < 20, medians
