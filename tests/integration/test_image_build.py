"""The single-user image for Kubernetes builds here, with no container registry, and runs.

deploy/image/build.sh: debootstrap (Debian's packages) -> pip inside the root filesystem -> buildah
FROM scratch, into a private storage under a work folder that is removed afterwards.  Then the image
is checked from outside (its config, owners, the kernelspec) and run under podman as uid 1000 with no
network, where nslab builds Figure 1 in its own sandbox: the same path as a user-namespaced pod.
About 4 minutes the first time.  NSLAB_TEST_IMAGE_WORK=DIR keeps (and reuses) the work folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support import IS_ROOT, ROOT, need

pytestmark = [pytest.mark.slow, pytest.mark.root]
BUILD = ROOT / "deploy" / "image" / "build.sh"


@pytest.fixture(scope="module")
def image():
    need(IS_ROOT, "needs root: debootstrap and chroot")
    for tool in ("debootstrap", "buildah", "podman", "runc"):
        need(shutil.which(tool) is not None, f"{tool} is needed (apt-get install debootstrap buildah podman runc)")
    keep = "NSLAB_TEST_IMAGE_WORK" in os.environ
    work = Path(os.environ.get("NSLAB_TEST_IMAGE_WORK", f"/var/tmp/nslab-image-test-{uuid.uuid4().hex[:6]}"))
    tag = f"localhost/nslab-singleuser-test:{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "NSLAB_IMAGE_WORK": str(work), "NSLAB_IMAGE_TAG": tag}
    storage = ["--root", str(work / "storage"), "--runroot", str(work / "run"), "--storage-driver", "vfs"]
    try:
        built = subprocess.run([str(BUILD)], env=env, capture_output=True, text=True, timeout=1800)
        assert built.returncode == 0, built.stdout + built.stderr
        yield {"tag": tag, "work": work, "storage": storage, "env": env, "first": built.stdout}
    finally:
        if keep:
            subprocess.run(["buildah", *storage, "rmi", tag], capture_output=True)
        else:
            subprocess.run([str(BUILD), "--clean"], env=env, capture_output=True, timeout=600)
            assert not work.exists()


def buildah(image, *args: str) -> str:
    return subprocess.run(["buildah", *image["storage"], *args], capture_output=True, text=True, check=True).stdout


def test_image_config_runs_the_single_user_server_as_a_student(image):
    config = json.loads(buildah(image, "inspect", "--type", "image", image["tag"]))["OCIv1"]["config"]
    assert config["User"] == "1000:100"
    assert config["Cmd"] == ["jupyterhub-singleuser"]
    assert "/opt/nslab/venv/bin" in next(e for e in config["Env"] if e.startswith("PATH="))
    assert (image["work"] / "nslab-singleuser.oci.tar").stat().st_size > 50_000_000


def test_image_files_keep_their_owners_and_the_kernel_enters_the_sandbox(image):
    container = buildah(image, "from", image["tag"]).strip()
    try:
        mnt = Path(buildah(image, "mount", container).strip())
        home = (mnt / "home" / "jovyan").stat()
        assert (home.st_uid, home.st_gid) == (1000, 100)
        assert (mnt / "usr" / "bin" / "ping").stat().st_uid == 0
        assert os.access(mnt / "opt" / "nslab" / "venv" / "bin" / "jupyterhub-singleuser", os.X_OK)
        spec = json.loads((mnt / "opt/nslab/venv/share/jupyter/kernels/nslab/kernel.json").read_text())
        assert spec["display_name"] == "Python 3 (nslab)"
        assert spec["argv"][:3] == ["/opt/nslab/venv/bin/nslab-sandbox", "kernel", "--"], spec["argv"]
        server = json.loads((mnt / "opt/nslab/venv/etc/jupyter/jupyter_server_config.json").read_text())
        assert server["ServerApp"]["terminado_settings"]["shell_command"][:3] == [
            "/opt/nslab/venv/bin/nslab-sandbox", "run", "--"]  # JupyterLab's terminals in the sandbox too
        assert sorted(p.name for p in (mnt / "opt/nslab/notebooks").iterdir()) == ["en", "es"]
        assert not (mnt / "tmp" / "build-ca.crt").exists()  # the build's CA bundle is not shipped
    finally:
        subprocess.run(["buildah", *image["storage"], "umount", container], capture_output=True)
        subprocess.run(["buildah", *image["storage"], "rm", container], capture_output=True)


def test_image_runs_and_a_student_builds_figure1_in_a_sandbox(image):
    script = ("set -e; id -u; nslab up figure1 --lab t1 >/dev/null; nslab ping --lab t1 --json; "
              "nslab down --lab t1 >/dev/null; nslab sandbox stop >/dev/null 2>&1 || true")
    # --network none: podman adds nothing to the host's interfaces; explicit ulimits: podman's defaults
    # exceed what this VM allows crun/runc to set; unmask=ALL is Kubernetes' procMount: Unmasked (a
    # writable /proc/sys for the lab's own sysctls, an unmasked /sys for `ip netns exec`)
    run = subprocess.run(["podman", *image["storage"], "--runtime", "runc", "run", "--rm", "--network", "none",
                          "--security-opt", "unmask=ALL",
                          "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
                          "-e", "NSLAB_ROOTLESS=1", image["tag"], "sh", "-c", script],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    uid, matrix = run.stdout.split("\n", 1)
    assert uid == "1000"
    result = json.loads(matrix)
    assert result["failed"] == [] and result["reachable"] is True, result
