"""Shared fixtures.

- ``need(cond, why)``: skip where a component is missing, but FAIL under
  ``CI=true`` (CI must never pass by skipping).
- Every test gets its own state dir and unique lab names; whatever it created is
  removed afterwards through nslab's own records, even when the test failed.
- The whole session checks that the host's interfaces, addresses, routes and
  sysctls are exactly as before, and that no netns name was left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI") == "true"
IS_ROOT = os.geteuid() == 0
SESSION = uuid.uuid4().hex[:4]
HOST_SYSCTLS = ["net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv4/conf/default/forwarding",
                "net/ipv4/conf/all/rp_filter", "net/ipv4/ping_group_range", "net/ipv6/conf/all/forwarding"]


def need(condition: bool, why: str) -> None:
    if not condition:
        if CI:
            pytest.fail(f"{why} (CI=true: a missing component is a failure, not a skip)")
        pytest.skip(why)


def nslab_cmd() -> list[str]:
    exe = shutil.which("nslab", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "nslab_kernel.cli"]


def run_nslab(*args: str, check: bool = False, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([*nslab_cmd(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"nslab {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def netns_names() -> set[str]:
    try:
        return set(os.listdir("/var/run/netns"))
    except FileNotFoundError:
        return set()


def host_snapshot() -> dict:
    def ipj(*args: str):
        out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True).stdout
        data = json.loads(out or "[]")
        for item in data:  # counters and timers change by themselves
            for key in ("stats64", "stats", "addr_info_valid", "linkinfo"):
                item.pop(key, None)
            for addr in item.get("addr_info", []):
                addr.pop("valid_life_time", None)
                addr.pop("preferred_life_time", None)
        return data

    sysctls = {}
    for name in HOST_SYSCTLS:
        try:
            sysctls[name] = Path("/proc/sys", name).read_text().strip()
        except OSError:
            pass
    return {"addr": ipj("addr"), "route": ipj("route", "show", "table", "all"), "sysctl": sysctls}


@pytest.fixture(scope="session", autouse=True)
def host_unchanged():
    """After the whole suite the host is exactly as before."""
    if not IS_ROOT:
        yield
        return
    before, names_before = host_snapshot(), netns_names()
    yield
    after, names_after = host_snapshot(), netns_names()
    left = sorted(names_after - names_before)
    assert not left, f"netns names left behind by the suite: {left}"
    for key in ("sysctl", "addr", "route"):
        assert before[key] == after[key], f"the host's {key} changed during the tests"


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A private nslab state dir; everything recorded in it is removed afterwards."""
    folder = tmp_path / "state"
    monkeypatch.setenv("NSLAB_STATE_DIR", str(folder))
    yield folder
    if IS_ROOT and (folder / "labs").exists():
        import nslab_kernel
        nslab_kernel.cleanup()
        left = list((folder / "labs").glob("*"))
        assert not left, f"records left after cleanup: {left}"


@pytest.fixture
def root():
    need(IS_ROOT, "needs root to create network namespaces")


@pytest.fixture
def unique():
    """A function giving lab names unique to this test run (the node names stay the topology's)."""
    def make(tag: str = "") -> str:
        return f"t{SESSION}{tag}{uuid.uuid4().hex[:4]}"
    return make
