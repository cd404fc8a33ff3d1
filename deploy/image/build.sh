#!/usr/bin/env bash
# Build the single-user image localhost/nslab-singleuser:<version> with no container registry:
# debootstrap makes a Debian root filesystem from Debian's packages, pip installs JupyterHub's
# single-user server, JupyterLab, nbgrader and nslab into it, and buildah turns it into an image
# with the Containerfile next to this script (FROM scratch). Run as root; steps already done are skipped.
#
#   sudo deploy/image/build.sh                 # build; prints the image id and the OCI archive
#   sudo deploy/image/build.sh --clean         # remove the work folder (and its image storage)
#
# Environment: NSLAB_IMAGE_WORK (/var/tmp/nslab-image: rootfs, wheels, buildah's own storage),
# NSLAB_IMAGE_TAG (localhost/nslab-singleuser:<nslab version>), DEBIAN_MIRROR (http://deb.debian.org/debian),
# DEBIAN_SUITE (bookworm), NSLAB_IMAGE_JUPYTERHUB ('jupyterhub>=5,<6': match the hub's major version;
# Zero to JupyterHub 4.x runs JupyterHub 5), NSLAB_IMAGE_STORAGE=system (use the host's
# containers storage instead of a private one under the work folder).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "nslab-image: run as root: debootstrap and chroot need it (sudo $0)" >&2; exit 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${NSLAB_IMAGE_WORK:-/var/tmp/nslab-image}
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/pyproject.toml" | head -n1)
TAG=${NSLAB_IMAGE_TAG:-localhost/nslab-singleuser:$VERSION}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
JUPYTERHUB_SPEC=${NSLAB_IMAGE_JUPYTERHUB:-jupyterhub>=5,<6}
ROOTFS=$WORK/rootfs
CTX=$WORK/context
PACKAGES=python3,python3-venv,iproute2,iputils-ping,procps,ca-certificates,graphviz,less,tini

say() { echo "nslab-image: $*"; }
die() { echo "nslab-image: $*" >&2; exit 1; }

BUILDAH=(buildah)
if [ "${NSLAB_IMAGE_STORAGE:-private}" != system ]; then
  BUILDAH=(buildah --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
fi
if [ "${1:-}" = --clean ]; then
  [ -d "$WORK" ] || { say "nothing to clean ($WORK does not exist)"; exit 0; }
  "${BUILDAH[@]}" rmi --all >/dev/null 2>&1 || true
  umount "$ROOTFS/proc" 2>/dev/null || true
  rm -rf "$WORK"; say "removed $WORK"; exit 0
fi
for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install debootstrap buildah)"
done
mkdir -p "$WORK" "$CTX"

# 1. Debian's base system (about 1-2 minutes from the mirror; kept for the next build)
if [ ! -e "$ROOTFS/.nslab-base" ]; then
  say "debootstrap $SUITE from $MIRROR into $ROOTFS"
  rm -rf "$ROOTFS"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log: $WORK/debootstrap.log)"; }
  touch "$ROOTFS/.nslab-base"
fi

# 2. The Python side, installed inside the root filesystem by its own Python (the wheel of nslab from this tree)
SRC_HASH=$(cd "$REPO" && git ls-files -s pyproject.toml nslab_kernel widgets notebooks 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$ROOTFS/.nslab-src" 2>/dev/null)" != "$SRC_HASH:$JUPYTERHUB_SPEC" ]; then
  say "installing JupyterHub's single-user server, JupyterLab, nbgrader and nslab into the root filesystem"
  rm -rf "$WORK/wheels"; mkdir -p "$WORK/wheels"
  python3 -m pip wheel -q --no-deps -w "$WORK/wheels" "$REPO" > "$WORK/wheel.log" 2>&1 \
    || { tail -n 20 "$WORK/wheel.log" >&2; die "could not build nslab's wheel"; }
  rm -rf "$ROOTFS/tmp/wheels"; cp -r "$WORK/wheels" "$ROOTFS/tmp/wheels"
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  # pip inside trusts what the host trusts (a site's own CA included), for the build only
  cp "${NSLAB_IMAGE_PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$ROOTFS/tmp/build-ca.crt"
  mount -t proc proc "$ROOTFS/proc"
  trap 'umount "$ROOTFS/proc" 2>/dev/null || true' EXIT
  wheel=$(cd "$ROOTFS/tmp/wheels" && ls nslab-*.whl)
  chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PIP_CONFIG_FILE=/dev/null \
    PIP_CERT=/tmp/build-ca.crt ${PIP_INDEX_URL:+PIP_INDEX_URL=$PIP_INDEX_URL} PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 /bin/sh -ec "
      [ -x /opt/nslab/venv/bin/python ] || python3 -m venv /opt/nslab/venv
      /opt/nslab/venv/bin/pip install -q '$JUPYTERHUB_SPEC' 'jupyterlab>=4.2,<5' 'nbgrader>=0.9,<0.10' \
          '/tmp/wheels/$wheel[notebooks]'
      /opt/nslab/venv/bin/pip install -q --no-deps --force-reinstall '/tmp/wheels/$wheel'
      /opt/nslab/venv/bin/nslab kernelspec install --prefix /opt/nslab/venv --quiet
      getent passwd jovyan >/dev/null || useradd --uid 1000 --gid 100 --create-home --shell /bin/bash jovyan
    " > "$WORK/pip.log" 2>&1 || { tail -n 30 "$WORK/pip.log" >&2; umount "$ROOTFS/proc"; die "installing into the root filesystem failed (log: $WORK/pip.log)"; }
  umount "$ROOTFS/proc"; trap - EXIT
  rm -rf "$ROOTFS/tmp/wheels" "$ROOTFS/tmp/build-ca.crt" "$ROOTFS/opt/nslab/notebooks"
  mkdir -p "$ROOTFS/opt/nslab/notebooks"
  cp -r "$REPO/notebooks/es" "$REPO/notebooks/en" "$ROOTFS/opt/nslab/notebooks/"
  mkdir -p "$ROOTFS/opt/nslab/venv/share/jupyter/lab/settings"
  cp "$REPO/deploy/jupyterhub/overrides.json" "$ROOTFS/opt/nslab/venv/share/jupyter/lab/settings/overrides.json"
  : > "$ROOTFS/etc/resolv.conf"  # the cluster mounts its own
  rm -rf "$ROOTFS/var/lib/apt/lists/"* "$ROOTFS/var/cache/apt/"*.bin "$ROOTFS/var/cache/apt/archives/"*.deb
  echo "$SRC_HASH:$JUPYTERHUB_SPEC" > "$ROOTFS/.nslab-src"
fi

# 3. The image: FROM scratch + the root filesystem as one tar layer (ownership and modes kept)
say "packing the root filesystem"
tar --numeric-owner --xattrs --exclude=./proc/* --exclude=./.nslab-base --exclude=./.nslab-src \
    -C "$ROOTFS" -cf "$CTX/rootfs.tar" .
cp "$HERE/Containerfile" "$CTX/Containerfile"
say "buildah bud -t $TAG"
"${BUILDAH[@]}" bud --quiet --layers=false -f "$CTX/Containerfile" -t "$TAG" "$CTX" > "$WORK/bud.log" 2>&1 \
  || { tail -n 20 "$WORK/bud.log" >&2; die "buildah bud failed (log: $WORK/bud.log)"; }
rm -f "$CTX/rootfs.tar"
rm -f "$WORK/nslab-singleuser.oci.tar"
"${BUILDAH[@]}" push --quiet "$TAG" "oci-archive:$WORK/nslab-singleuser.oci.tar:$TAG" >/dev/null
say "built $TAG ($("${BUILDAH[@]}" images --noheading --format '{{.ID}} {{.Size}}' "$TAG"))"
say "OCI archive: $WORK/nslab-singleuser.oci.tar (push it to the cluster's registry, e.g. skopeo copy oci-archive:... docker://REGISTRY/nslab-singleuser:$VERSION)"
