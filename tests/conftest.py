"""Shared fixtures (helpers to import are in tests/support.py).

- Every test gets its own state dir and unique lab names; whatever it created is
  removed afterwards through nslab's own records, even when the test failed.
- The whole session checks that the host's interfaces, addresses, routes and
  sysctls are exactly as before, and that no netns name was left behind.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

import nslab_kernel

from .support import IS_ROOT, need, netns_names

SESSION = uuid.uuid4().hex[:4]
HOST_SYSCTLS = ["net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv4/conf/default/forwarding",
                "net/ipv4/conf/all/rp_filter", "net/ipv4/ping_group_range", "net/ipv6/conf/all/forwarding"]


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


@pytest.fixture(autouse=True)
def language_of_the_environment(monkeypatch):
    """Each test starts in the environment's language with no NSLAB_LANG: a test that chose Spanish
    (set_language("es"), a notebook helper) must not make the next test's messages Spanish."""
    monkeypatch.delenv("NSLAB_LANG", raising=False)
    nslab_kernel.set_language(None)
    yield
    nslab_kernel.set_language(None)


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


@pytest.fixture
def private_state(tmp_path, monkeypatch):
    """A private nslab state dir; afterwards its labs are taken down through their own records.

    Unlike conftest's ``state``, never the LXD orphan sweep of ``cleanup()``: on a shared daemon
    that would remove other people's containers (their records live in other state dirs)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("NSLAB_STATE_DIR", str(folder))
    yield folder
    if IS_ROOT and (folder / "labs").exists():
        nslab_kernel.cleanup(lxd=False)
        left = list((folder / "labs").glob("*.jsonl"))
        assert not left, f"records left after cleanup: {left}"

