"""``nslab validate``: check a topology file and list every problem; ``nslab schema``: the file's JSON Schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import InputError, TopologyError
from ..core.i18n import _
from ..model import schema


def add_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a topology file and list every problem")
    p.add_argument("topology")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the topology file's JSON Schema (draft 2020-12), for editors to complete "
                                      "and check lab files")
    p.add_argument("--output", "-o", metavar="FILE", help="write it to FILE instead")
    p.set_defaults(func=cmd_schema)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        topo = schema.load(args.topology)
    except TopologyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    routes = sum(len(n.routes) for n in topo.nodes)
    print(f"{topo.source}: valid: lab '{topo.name}', {len(topo.nodes)} nodes, {len(topo.links)} links, "
          f"{routes} routes{' (computed)' if topo.routing == 'auto' else ''}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    text = schema.json_schema_text()
    if not args.output:
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            print(_("{path}: already the topology schema of this nslab").format(path=path))
            return 0
        path.write_text(text, encoding="utf-8")
    except IsADirectoryError:
        raise InputError(_("{path} is a folder; give a file name, like {path}/topology.schema.json").format(
            path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(_("cannot write {path} ({reason}); choose another place with --output").format(
            path=path, reason=getattr(exc, "strerror", None) or type(exc).__name__)) from None
    print(_("wrote {path}: put '# yaml-language-server: $schema={path}' on the first line of a lab file (see the "
            "README) for completion and checking in an editor").format(path=path))
    return 0
