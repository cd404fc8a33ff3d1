"""What several command groups share: the --lab option, JSON output, a progress bar on a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def lab_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lab", help="the lab's name (may be left out when only one lab is up)")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def progress_bar(stream=sys.stderr):
    if not stream.isatty():
        return None

    def show(node: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {node:<20}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show
