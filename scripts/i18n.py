#!/usr/bin/env python3
"""Maintain nslab's message catalogue (needs Babel, a dev dependency).

    python scripts/i18n.py extract   # add the code's new msgids to locale/es/LC_MESSAGES/nslab.po (keeps translations)
    python scripts/i18n.py compile   # write each .po's .mo (commit both; a test checks they are in step)
    python scripts/i18n.py check     # list msgids with no Spanish yet (exit 1 if any)

``extract`` scans nslab_kernel/ for ``_("...")`` and ``N_("...")``.  Other owners keep their own
catalogue files next to nslab.po (nslab_widgets.po, nslab_notebooks.po): every .po there is loaded.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nslab_kernel.core import i18n  # noqa: E402

PO = i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / "nslab.po"
STAMP = datetime(2026, 11, 29, tzinfo=timezone.utc)  # fixed: a re-run changes nothing but the messages


def extract() -> int:
    old = {}
    if PO.exists():
        with open(PO, "rb") as fh:
            old = {m.id: m.string for m in read_po(fh) if m.id}
    catalog = Catalog(locale="es", domain="nslab", project="nslab", version="0.1.0", charset="utf-8",
                      creation_date=STAMP, revision_date=STAMP, fuzzy=False, language_team="es",
                      last_translator="nslab", msgid_bugs_address="")
    others = set()  # msgids another owner's catalogue (nslab_terminal.po, ...) already holds
    for po in i18n.po_files():
        if po != PO:
            with open(po, "rb") as fh:
                others.update(m.id for m in read_po(fh) if m.id)
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT / "nslab_kernel"), method_map=[("**.py", "python")], keywords={"_": None, "N_": None}):
        if isinstance(message, tuple):
            message = message[0]
        if message and message not in others:
            catalog.add(message, old.get(message, ""), locations=[(f"nslab_kernel/{filename}", lineno)])
    PO.parent.mkdir(parents=True, exist_ok=True)
    with open(PO, "wb") as fh:
        write_po(fh, catalog, sort_output=True, include_lineno=False, width=100)
    todo = [m.id for m in catalog if m.id and not m.string]
    print(f"{PO}: {len(catalog)} messages, {len(todo)} without Spanish")
    return 0


def compile_() -> int:
    for path in i18n.compile_catalogues():
        print(f"wrote {path}")
    return 0


def check() -> int:
    missing = []
    for po in i18n.po_files():
        with open(po, "rb") as fh:
            missing += [f"{po.name}: {m.id!r}" for m in read_po(fh) if m.id and not m.string]
    print("\n".join(missing) or "every message has its Spanish")
    return 1 if missing else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    actions = {"extract": extract, "compile": compile_, "check": check}
    if command not in actions:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(actions[command]())
