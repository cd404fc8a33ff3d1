"""The chain benchmark done with Mininet's Python API (run by chain.py with the
system Python, where Debian's ``mininet`` package lives).  Prints one JSON object.

Every node is a Mininet Host (its own netns, a shell process per node); links are
veth pairs; routers forward through the sysctl; routes are added with
``node.cmd('ip route add ...')``; reachability is ``net.pingAll()``.
"""

import argparse
import json
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True, help="JSON file: nodes, links, routes (from chain.py)")
    args = parser.parse_args()
    with open(args.spec) as fh:
        spec = json.load(fh)
    setLogLevel("error")
    net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False, autoStaticArp=False)
    result = {}
    try:
        t0 = time.perf_counter()
        for name, node in spec["nodes"].items():
            net.addHost(name, cls=Host, ip=node["first_ip"])
        for link in spec["links"]:
            (a, ai, aip), (b, bi, bip) = link
            net.addLink(a, b, intfName1=f"{a}-{ai}", intfName2=f"{b}-{bi}", params1={"ip": aip}, params2={"ip": bip})
        for name, node in spec["nodes"].items():
            net.get(name).cmd(f"sysctl -qw net.ipv4.ip_forward={1 if node['forwarding'] else 0}")
        result["build_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for name, node in spec["nodes"].items():
            host = net.get(name)
            for dst, via in node["routes"]:
                host.cmd(f"ip route add {dst} via {via}")
        result["routes_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        loss = net.pingAll(timeout=1)
        result["ping_s"] = time.perf_counter() - t0
        result["ping_loss_percent"] = loss
        result["pings"] = len(net.hosts) * (len(net.hosts) - 1)
    finally:
        t0 = time.perf_counter()
        net.stop()
        result["teardown_s"] = time.perf_counter() - t0
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
