"""Widget labels in the notebook's language.

Every label goes through ``_()``.  The catalogue is gettext's, owned by
``nslab_kernel.core.i18n`` (domain ``nslab_widgets``: the widgets' msgids live in
``nslab_kernel/locale/es/LC_MESSAGES/nslab_widgets.po``).  Where that module is not
there (an older nslab_kernel), the same .po file is read here, so a Spanish
notebook still reads Spanish and an English one English, never both at once.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Callable

try:  # the shared catalogue
    from nslab_kernel.core.i18n import _ as _shared  # type: ignore[attr-defined]
    from nslab_kernel.core.i18n import get_language  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised only before core/i18n exists
    _shared = None

    def get_language() -> str:
        value = os.environ.get("NSLAB_LANG") or os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") \
            or os.environ.get("LANG") or ""
        return "es" if value.startswith("es") else "en"

import nslab_kernel

PO = Path(nslab_kernel.__file__).resolve().parent / "locale" / "es" / "LC_MESSAGES" / "nslab_widgets.po"
_local: dict[str, str] | None = None


def _read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file (single and multi-line strings; no plurals needed here)."""
    out: dict[str, str] = {}
    key = value = None
    field = None

    def unquote(s: str) -> str:
        return s[1:-1].encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")

    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = line.strip()
        if line.startswith("msgid "):
            if key and value:
                out[key] = value
            key, value, field = unquote(line[6:]), None, "id"
        elif line.startswith("msgstr "):
            value, field = unquote(line[7:]), "str"
        elif line.startswith('"') and field == "id":
            key = (key or "") + unquote(line)
        elif line.startswith('"') and field == "str":
            value = (value or "") + unquote(line)
        elif not line or line.startswith("#"):
            if key and value:
                out[key] = value
            key = value = field = None
    return out


def _fallback(message: str, lang: str | None = None) -> str:
    global _local
    if (lang or get_language()) != "es":
        return message
    if _local is None:
        try:
            _local = _read_po(PO)
        except OSError:
            _local = {}
    return _local.get(message) or message


def _(message: str, lang: str | None = None) -> str:
    """``message`` (English msgid) in the notebook's language, or in ``lang``."""
    if _shared is not None:
        text = _shared(message, lang=lang) if lang else _shared(message)
        if text != message or (lang or get_language()) != "es":
            return text
    return _fallback(message, lang)


def plural(n: int, one: str, many: str) -> str:
    """``one`` (for 1) or ``many`` (with ``{n}``), translated and filled in: ``plural(n, N_("1 link"), N_("{n} links"))``."""
    return _(one) if n == 1 else _(many).format(n=n)


def N_(message: str) -> str:
    """Mark for extraction only."""
    return message


def msgids(source: str) -> list[str]:
    """The msgids marked with ``_(...)`` or ``N_(...)`` in Python source (a test keeps the .po in step)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append(node.args[0].value)
    return out


Translate = Callable[[str], str]
__all__ = ["N_", "_", "get_language", "msgids", "plural"]
