"""``nslab image``: build and import nslab's offline LXD image if LXD lacks it."""

from __future__ import annotations

import argparse

from ..backends.images import DEFAULT_IMAGE, ensure_image
from ..backends.lxd import connect


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="build and import nslab's offline LXD image (busybox) if missing")
    p.add_argument("--alias", default=DEFAULT_IMAGE)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_image)


def cmd_image(args: argparse.Namespace) -> int:
    client = connect()
    built = ensure_image(client, args.alias)
    if not args.quiet or built:
        print(f"image '{args.alias}': {'built and imported' if built else 'already in LXD (already so)'}")
    return 0
