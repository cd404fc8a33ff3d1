"""The batch codec's decoders agree with pyroute2's on the same kernel state (root)."""

from __future__ import annotations

import errno

import pytest

from nslab_kernel import Lab
from nslab_kernel.kernel import netconf, nlbatch

pytestmark = pytest.mark.root


def test_dumps_match_pyroute2(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up()
    try:
        def compare(ns: netconf.Netns, node: str) -> int:
            ours = {l.name: l for l in ns.nl.links()}
            theirs = {l.get("IFLA_IFNAME"): l for l in ns.ipr.get_links()}
            assert set(ours) == set(theirs)
            for name, l in theirs.items():
                o = ours[name]
                assert o.index == l["index"] and o.up == bool(l["flags"] & 1)
                assert o.kind == l.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
                assert o.link_netnsid == l.get("IFLA_LINK_NETNSID")
            addrs = {(a["index"], a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ns.ipr.get_addr(family=2)}
            assert ns.nl.addresses() == addrs
            routes = {(r.get("RTA_DST") or "0.0.0.0", r["dst_len"], r.get("RTA_GATEWAY"), r.get("RTA_OIF"), r["proto"])
                      for r in ns.ipr.route("dump", table=254, family=2) if r["type"] == 1}
            assert {(r.dst, r.dst_len, r.gateway, r.oif, r.proto) for r in ns.nl.routes()} == routes
            return len(routes)

        counts = netconf.for_each_netns(lab._handles(lab.topology.node_names), compare)
        assert counts["r2"] == 7  # 3 connected + 4 static
    finally:
        lab.down()


def test_batch_reports_each_error_by_request(root, state, unique):
    lab = Lab.load("figure1", lab=unique())
    lab.up()
    try:
        def work(ns: netconf.Netns, node: str):
            batch = nlbatch.Batch()
            idx = {l.name: l.index for l in ns.nl.links()}["lo"]
            batch.link_up(idx, tag="up")
            batch.replace_route("10.9.0.0", 16, "10.77.0.1", tag="off-link")  # gateway not connected
            batch.add_address(999, "10.1.1.1", 24, tag="no-device")
            return batch.send(ns.nl)

        name = "h1"
        result = netconf.for_each_netns(lab._handles([name]), work)[name]
        assert result == [("up", 0), ("off-link", errno.ENETUNREACH), ("no-device", errno.ENODEV)]
    finally:
        lab.down()
