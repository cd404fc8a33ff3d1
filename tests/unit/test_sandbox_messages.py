"""The rootless sandbox's pure parts: doctor's verdicts on given values, paths, the pidfile's trust, the kernelspec.

The real thing (users, namespaces, seccomp, a notebook) is tests/integration/test_rootless.py.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nslab_kernel.analysis.userns import APPARMOR_FILE, apparmor_profile, verdict
from nslab_kernel.core import userdirs
from nslab_kernel.kernel import sandbox
from nslab_kernel.lifecycle import kernelspec

ROOT = Path(__file__).resolve().parents[2]
OK_SETTINGS = {"kernel.apparmor_restrict_unprivileged_userns": None, "kernel.unprivileged_userns_clone": None,
               "user.max_user_namespaces": "96551"}


def probe(ok=False, step="unshare", code=errno.EPERM, seccomp=0, container="", uid=1000, **settings) -> dict:
    return {"ok": ok, "step": "" if ok else step, "errno": 0 if ok else code, "seccomp": seccomp,
            "container": container, "uid": uid, "settings": {**OK_SETTINGS, **settings}}


def test_user_namespaces_that_work():
    ok, detail, fix = verdict(probe(ok=True))
    assert ok and "sandbox of their own" in detail and fix == ""


def test_ubuntu_apparmor_restriction_names_the_launcher_profile():
    found = probe(step="uid_map", **{"kernel.apparmor_restrict_unprivileged_userns": "1"})
    ok, detail, fix = verdict(found, launcher="/srv/nslab/.venv/bin/nslab-sandbox", profile_installed=False)
    assert not ok and "kernel.apparmor_restrict_unprivileged_userns=1" in detail and "Ubuntu" in detail
    assert "nslab doctor --apparmor-profile" in fix and APPARMOR_FILE in fix and "apparmor_parser -r" in fix
    assert "/srv/nslab/.venv/bin/nslab-sandbox" in fix and "never give unshare" in fix


def test_root_sees_what_blocks_students_even_though_root_itself_may():
    restricted = probe(ok=True, uid=0, **{"kernel.apparmor_restrict_unprivileged_userns": "1"})
    assert not verdict(restricted, profile_installed=False)[0]
    assert verdict(restricted, profile_installed=True)[0]  # the launcher's profile is in place
    assert not verdict(probe(ok=True, uid=0, **{"kernel.unprivileged_userns_clone": "0"}))[0]
    assert verdict(probe(ok=True, uid=1000, **{"kernel.apparmor_restrict_unprivileged_userns": "1"}),
                   profile_installed=False)[0]  # a student for whom it worked: the profile works


def test_old_debian_sysctl():
    ok, detail, fix = verdict(probe(**{"kernel.unprivileged_userns_clone": "0"}))
    assert not ok and "kernel.unprivileged_userns_clone=0" in detail
    assert "sysctl -w kernel.unprivileged_userns_clone=1" in fix and "/etc/sysctl.d/" in fix


def test_max_user_namespaces_zero():
    ok, detail, fix = verdict(probe(code=errno.ENOSPC, **{"user.max_user_namespaces": "0"}))
    assert not ok and "user.max_user_namespaces=0" in detail and "sysctl -w user.max_user_namespaces=" in fix


def test_container_seccomp():
    ok, detail, fix = verdict(probe(seccomp=2, container="docker"))
    assert not ok and "docker" in detail and "seccomp" in detail and "unshare(CLONE_NEWUSER)" in detail
    assert "--security-opt seccomp=" in fix and "hostUsers: false" in fix


def test_anything_else_names_the_step_and_the_error():
    ok, detail, fix = verdict(probe(step="mount", code=errno.EACCES))
    assert not ok and "mount" in detail and os.strerror(errno.EACCES) in detail and fix


def test_the_shipped_apparmor_profile_allows_userns_for_the_launcher_only():
    shipped = (ROOT / "deploy" / "apparmor" / "nslab-sandbox").read_text()
    assert shipped == apparmor_profile("/opt/nslab/.venv/bin/nslab-sandbox")
    rules = [line.strip() for line in shipped.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "profile nslab-sandbox /opt/nslab/.venv/bin/nslab-sandbox flags=(unconfined) {" in rules
    assert "userns," in rules and "abi <abi/4.0>," in rules
    assert not any("unshare" in r for r in rules)


def test_wanted_follows_root_the_flag_and_the_environment(monkeypatch):
    monkeypatch.delenv("NSLAB_ROOTLESS", raising=False)
    monkeypatch.delenv("NSLAB_SANDBOX", raising=False)
    assert userdirs.rootless_wanted() == (os.geteuid() != 0)
    assert userdirs.rootless_wanted(force=True)
    monkeypatch.setenv("NSLAB_ROOTLESS", "1")
    assert userdirs.rootless_wanted()
    monkeypatch.setenv("NSLAB_ROOTLESS", "0")
    assert not userdirs.rootless_wanted() and userdirs.rootless_wanted(force=True)
    monkeypatch.setenv("NSLAB_SANDBOX", "1:1")  # a marker that is not this process's mount namespace
    assert not userdirs.in_sandbox()


def test_user_state_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert userdirs.user_state_dir() == tmp_path / ".local" / "state" / "nslab"
    assert (tmp_path / ".local" / "state" / "nslab").stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert userdirs.user_state_dir() == tmp_path / "xdg" / "nslab"
    assert userdirs.host_uid() == os.geteuid()


def test_an_account_without_a_home_gets_a_private_tmp_folder(tmp_path, monkeypatch):
    fallback = Path(f"/tmp/nslab-{os.geteuid()}")
    existed = fallback.exists()
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", "/dev/null/nonexistent")
    try:
        assert userdirs.user_state_dir() == fallback
        assert fallback.stat().st_mode & 0o777 == 0o700 and fallback.stat().st_uid == os.geteuid()
        if not existed:
            fallback.chmod(0o755)  # open to others: refused, never used
            with pytest.raises(PermissionError, match="open to other users"):
                userdirs.user_state_dir()
    finally:
        if not existed:
            shutil.rmtree(fallback, ignore_errors=True)


def test_a_pidfile_is_trusted_only_when_everything_matches(tmp_path):
    assert sandbox.find(tmp_path) is None
    (tmp_path / sandbox.PIDFILE).write_text("not json")
    assert sandbox.find(tmp_path) is None
    me = os.getpid()
    real = {"pid": me, "start": sandbox._start_time(me), "userns": os.stat("/proc/self/ns/user").st_ino,
            "mntns": os.stat("/proc/self/ns/mnt").st_ino, "uid": userdirs.host_uid(), "state_dir": str(tmp_path)}
    (tmp_path / sandbox.PIDFILE).write_text(json.dumps(real))
    assert sandbox.find(tmp_path) == sandbox.Holder(**real)
    for key, wrong in (("start", real["start"] + 1), ("userns", 1), ("mntns", 1), ("netns", 1),
                       ("uid", real["uid"] + 1), ("pid", 2 ** 22 + 7)):
        (tmp_path / sandbox.PIDFILE).write_text(json.dumps({**real, key: wrong}))
        assert sandbox.find(tmp_path) is None, key


def test_the_ip_wrapper_is_valid_sh_and_passes_everything_else_through():
    check = subprocess.run(["sh", "-n"], input=sandbox.IP_WRAPPER, text=True, capture_output=True)
    assert check.returncode == 0, check.stderr
    assert 'exec "$real" "$@"' in sandbox.IP_WRAPPER


def test_the_default_kernelspec_starts_the_kernel_through_the_launcher():
    argv = kernelspec.spec()["argv"]
    assert argv == [*sandbox.launcher(), "kernel", "--", sys.executable, "-m", "ipykernel_launcher", "-f",
                    "{connection_file}"]
    assert sandbox.launcher() == [str(Path(sys.executable).parent / "nslab-sandbox")]  # what AppArmor names
    sudo = kernelspec.spec(use_sudo=True)["argv"]
    assert sudo[:3] == ["sudo", "-n", "-E"] and "kernel" not in sudo and "nslab-sandbox" not in " ".join(sudo)
    assert sandbox.command(["bash"]) == [*sandbox.launcher(), "run", "--", "bash"]
