"""Benchmark: Figure 1 on LXD from nothing, nslab vs the activity's way by hand, in one run.

By hand (as the activity does it): ``lxc launch`` one container after another,
``lxc info`` to read each init PID, ``ln -sf /proc/PID/ns/net /var/run/netns/NAME``,
then one ``ip`` command per step (the same commands nslab shows).  nslab: one
``Lab.up()`` with the lxd backend.  Also compares running a command in a node:
nslab's ``exec`` (nsenter) against pylxd's ``execute`` (LXD's exec API).

    python bench/lxd_figure1.py --json

Target: nslab's up at most half of the by-hand time.  Needs root and LXD.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nslab_kernel import Lab, load  # noqa: E402
from nslab_kernel.backends.images import DEFAULT_IMAGE  # noqa: E402

_thread_hook = threading.excepthook


def _quiet_ws4py(args: threading.ExceptHookArgs) -> None:
    """pylxd's execute() stops ws4py's WebSocketManager, whose thread may then still
    unregister a socket from the closed epoll ("I/O operation on closed epoll object"):
    a race inside those libraries, after the command's result is in. Not worth a traceback."""
    if (args.thread is not None and args.thread.name == "WebSocketManager" and args.exc_type is ValueError
            and "closed epoll" in str(args.exc_value)):
        return
    _thread_hook(args)


threading.excepthook = _quiet_ws4py


def by_hand(topo, commands: list[str], image: str) -> dict:
    """The activity's way, one command at a time."""
    out = {}
    t0 = time.perf_counter()
    for node in topo.node_names:
        subprocess.run(["lxc", "launch", image, topo.container_name(node)], check=True, capture_output=True)
    out["launch_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    os.makedirs("/var/run/netns", exist_ok=True)
    for node in topo.node_names:
        info = subprocess.run(["lxc", "info", topo.container_name(node)], check=True, capture_output=True, text=True).stdout
        pid = re.search(r"^(?:PID|Pid): (\d+)", info, re.M).group(1)
        subprocess.run(["ln", "-sf", f"/proc/{pid}/ns/net", f"/var/run/netns/{topo.netns_name(node)}"], check=True)
    for cmd in commands:
        subprocess.run(cmd.split(), check=True, capture_output=True)
    out["configure_s"] = time.perf_counter() - t1
    out["up_s"] = time.perf_counter() - t0
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--execs", type=int, default=20, help="commands run per exec method")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/lxd_figure1.py needs root: run it with sudo", file=sys.stderr)
        return 2
    os.environ.setdefault("NSLAB_STATE_DIR", tempfile.mkdtemp(prefix="nslab-bench-"))
    tag = uuid.uuid4().hex[:4]
    result: dict = {"topology": "figure1", "containers": 7}
    lab = Lab.load("figure1", backend="lxd", lab=f"bl{tag}", image=args.image)
    lab.backend.preflight()
    from nslab_kernel.backends.images import ensure_image
    if args.image == DEFAULT_IMAGE:
        ensure_image(lab.backend.client)  # not part of either timing
    try:
        t0 = time.perf_counter()
        report = lab.up()
        up_s = time.perf_counter() - t0
        matrix = lab.ping_matrix()
        result["nslab"] = {"up_s": round(up_s, 3), "reachable": matrix.reachable}
        # exec: nsenter (nslab) vs LXD's exec API (pylxd)
        t0 = time.perf_counter()
        for _ in range(args.execs):
            assert lab.exec("h1", ["true"]).ok
        nsenter_s = (time.perf_counter() - t0) / args.execs
        inst = lab.backend.client.instances.get(lab.topology.container_name("h1"))
        t0 = time.perf_counter()
        for _ in range(args.execs):
            assert inst.execute(["true"]).exit_code == 0
        api_s = (time.perf_counter() - t0) / args.execs
        result["exec"] = {"nslab_ms": round(nsenter_s * 1000, 2), "pylxd_execute_ms": round(api_s * 1000, 2),
                          "ratio": round(nsenter_s / api_s, 4)}
        commands = [c for c in report.commands() if c.startswith("ip ")]
    finally:
        lab.down()
    hand = load("figure1").renamed(f"bh{tag}")
    try:
        result["by_hand"] = {k: round(v, 3) for k, v in by_hand(hand, [c.replace(f"bl{tag}-", f"bh{tag}-") for c in commands],
                                                               args.image).items()}
    finally:
        for node in hand.node_names:
            subprocess.run(["lxc", "delete", "--force", hand.container_name(node)], capture_output=True)
            path = f"/var/run/netns/{hand.netns_name(node)}"
            if os.path.islink(path):
                os.unlink(path)
    ratio = result["nslab"]["up_s"] / result["by_hand"]["up_s"]
    result["ratio_up"] = round(ratio, 4)
    result["target_met"] = ratio <= 0.5
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"nslab up (lxd, 7 containers): {result['nslab']['up_s']:.2f} s; by hand: {result['by_hand']['up_s']:.2f} s "
              f"(launch {result['by_hand']['launch_s']:.2f} s); ratio {ratio:.3f} (target <= 0.5: "
              f"{'met' if ratio <= 0.5 else 'NOT met'})")
        print(f"exec: nsenter {result['exec']['nslab_ms']} ms vs LXD exec API {result['exec']['pylxd_execute_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
