"""nslab's offline LXD image: busybox-static and nothing else.

Lab machines and CI often reach no image server.  This builds a minimal image
from the distribution's ``busybox-static`` package (one static binary with
``ip``, ``ifconfig``, ``ping``, ``sysctl``, ``sh``... as applets), imports it
into LXD through pylxd, and gives it a fixed alias.  A container of it starts
in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import shutil
import subprocess
import tarfile
import time
from typing import Any, Callable

from ..core.errors import BackendError

DEFAULT_IMAGE = "nslab-busybox"
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
INITTAB = """\
# nslab-busybox: init keeps PID 1 alive; the lab configures the network from outside.
::sysinit:/bin/hostname -F /etc/hostname
::ctrlaltdel:/bin/true
::shutdown:/bin/true
"""
LXD_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "armv7l": "armv7l", "ppc64le": "ppc64le", "s390x": "s390x"}


def find_busybox() -> str:
    """The static busybox binary, or an error naming the package to install."""
    for path in BUSYBOX_PATHS:
        if os.path.exists(path):
            out = subprocess.run(["file", "-L", path], capture_output=True, text=True).stdout if shutil.which("file") else ""
            if "dynamically linked" in out:
                continue
            return path
    raise BackendError("the LXD image cannot be built: busybox-static is not installed; install it with "
                       "'sudo apt-get install busybox-static' (or name an image that LXD has with --image)")


def build_tarball(busybox: str | None = None) -> bytes:
    """A unified LXD image (``metadata.yaml`` + ``rootfs/``) as gzipped tar bytes."""
    busybox = busybox or find_busybox()
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    arch = LXD_ARCH.get(platform.machine(), platform.machine())
    metadata = (f"architecture: {arch}\ncreation_date: {int(time.time())}\nproperties:\n"
                f"  description: nslab busybox (offline, for network namespace labs)\n"
                f"  os: busybox\n  release: static\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name: str, data: bytes | None = None, mode: int = 0o644, kind: bytes = tarfile.REGTYPE,
                target: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = int(time.time())
            info.mode = mode
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = target
                tar.addfile(info)
            elif kind == tarfile.DIRTYPE:
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))

        add("metadata.yaml", metadata)
        dirs = ["rootfs", "rootfs/bin", "rootfs/sbin", "rootfs/usr", "rootfs/usr/bin", "rootfs/usr/sbin",
                "rootfs/etc", "rootfs/etc/init.d", "rootfs/dev", "rootfs/proc", "rootfs/sys", "rootfs/tmp",
                "rootfs/root", "rootfs/run", "rootfs/var", "rootfs/var/run"]
        for d in dirs:
            add(d, kind=tarfile.DIRTYPE, mode=0o1777 if d.endswith("tmp") else 0o755)
        with open(busybox, "rb") as fh:
            add("rootfs/bin/busybox", fh.read(), mode=0o755)
        made = {"bin/busybox"}
        for applet in applets:
            applet = applet.lstrip("/")
            if applet in made or "/" not in applet:
                continue
            made.add(applet)
            add(f"rootfs/{applet}", kind=tarfile.SYMTYPE, target="/bin/busybox")
        add("rootfs/etc/inittab", INITTAB.encode())
        add("rootfs/etc/hostname", b"nslab\n")
        add("rootfs/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        add("rootfs/etc/group", b"root:x:0:\n")
        add("rootfs/etc/init.d/rcS", b"#!/bin/sh\n", mode=0o755)
    return buf.getvalue()


def image_exists(client: Any, alias: str) -> bool:
    return bool(client.images.exists(alias, alias=True))


def ensure_image(client: Any, alias: str = DEFAULT_IMAGE, progress: Callable[[str], None] | None = None) -> bool:
    """Build and import the busybox image under ``alias`` unless LXD has it; True if built now."""
    if image_exists(client, alias):
        return False
    if progress:
        progress(f"building the offline image '{alias}' from busybox-static")
    data = build_tarball()
    try:
        image = client.images.create(data, public=False, wait=True)
    except Exception as exc:  # pylxd raises LXDAPIException with the daemon's text
        text = str(exc)
        if "already exists" not in text:
            raise BackendError(f"LXD refused the image: {text}") from None
        image = client.images.get(hashlib.sha256(data).hexdigest())
    try:
        image.add_alias(alias, "nslab offline busybox image")
    except Exception as exc:  # a concurrent build added it first
        if "already exists" not in str(exc):
            raise BackendError(f"LXD refused the image alias '{alias}': {exc}") from None
    return True


__all__ = ["DEFAULT_IMAGE", "build_tarball", "ensure_image", "find_busybox", "image_exists"]
