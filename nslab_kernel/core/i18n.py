"""The student's language: one gettext catalogue per owner, Spanish and English.

Every message a student can meet (check items, hints, errors raised into a
notebook, report summaries, widget labels) is written in English as a msgid and
passed through :func:`_`; the Spanish lives in
``nslab_kernel/locale/es/LC_MESSAGES/*.po`` (compiled ``.mo`` beside each, read
by the standard library's :mod:`gettext`).  Every ``.po`` there is loaded and
chained, so the checker, the notebooks and the widgets each keep a file of
their own.

The language is chosen per process (a notebook calls
``nslab_kernel.set_language("es")``), per call (``_(msgid, lang="en")``), or by
the environment: ``$NSLAB_LANG``, else a ``LC_ALL``/``LC_MESSAGES``/``LANG``
starting with ``es`` (what the command line follows).
"""

from __future__ import annotations

import contextlib
import gettext
import html
import io
import json
import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InputError

LANGUAGES = ("en", "es")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
_state = threading.local()
_process: dict[str, str | None] = {"lang": None}


def _from_environment() -> str:
    wanted = os.environ.get("NSLAB_LANG")
    if wanted:
        return "es" if wanted.lower().startswith("es") else "en"
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "es" if value.lower().startswith("es") else "en"
    return "en"


def _check(lang: str) -> str:
    """"es", "ES", "es_ES.UTF-8", "es-ES" -> "es"; a language without a catalogue is one clear error."""
    code = str(lang).strip().lower().replace("-", "_").split("_")[0].split(".")[0]
    if code not in LANGUAGES:
        raise InputError(_("language {lang!r} is not available; use one of: {choices}").format(
            lang=lang, choices=", ".join(LANGUAGES)))
    return code


def set_language(lang: str | None) -> str:
    """Choose the language of every message from now on ("es" or "en"; None: the environment's)."""
    _process["lang"] = None if lang is None else _check(lang)
    return get_language()


def get_language() -> str:
    override = getattr(_state, "lang", None)
    if override:
        return override
    return _process["lang"] or _from_environment()


@contextlib.contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Messages in ``lang`` inside the block (this thread only); None changes nothing."""
    previous = getattr(_state, "lang", None)
    _state.lang = _check(lang) if lang else previous
    try:
        yield get_language()
    finally:
        _state.lang = previous


def resolve(lang: str | None) -> str:
    """The language a call should speak: ``lang`` if given, else the current one."""
    return _check(lang) if lang else get_language()


def catalogue_files(lang: str = "es") -> list[Path]:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    return sorted(folder.glob("*.mo")) if folder.is_dir() else []


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """Every compiled catalogue of ``lang``, chained (nslab's own first)."""
    chain: gettext.NullTranslations = gettext.NullTranslations()
    if lang == "en":
        return chain
    files = catalogue_files(lang)
    files.sort(key=lambda p: (p.stem != "nslab", p.stem))
    first: gettext.NullTranslations | None = None
    for path in files:
        with open(path, "rb") as fh:
            t = gettext.GNUTranslations(fh)
        if first is None:
            first = t
        else:
            first.add_fallback(t)
    return first or chain


def _(message: str, lang: str | None = None) -> str:
    """``message`` (an English msgid) in the language asked, or the current one."""
    if not message:
        return message  # gettext would answer "" with the catalogue's header
    return translations(resolve(lang)).gettext(message)


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    return translations(resolve(lang)).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a msgid for the catalogue without translating it yet (module-level tables)."""
    return message


# --- catalogue maintenance (dev: Babel) -------------------------------------------------------------------

def po_files(lang: str = "es") -> list[Path]:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    return sorted(folder.glob("*.po")) if folder.is_dir() else []


def compile_catalogues(lang: str = "es") -> list[Path]:
    """Write the ``.mo`` of every ``.po`` (needs Babel, a dev dependency); returns the files written."""
    written = []
    for po in po_files(lang):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo_messages(mo) == po_messages(po):
            continue  # in step already (whoever compiled it): leave the file alone
        mo.write_bytes(compiled_bytes(po))
        written.append(mo)
    translations.cache_clear()
    return written


def compiled_bytes(po: Path) -> bytes:
    """What the ``.mo`` of ``po`` must contain (reproducible: Babel writes entries sorted)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with open(po, "rb") as fh:
        catalog = read_po(fh)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def po_messages(po: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po (translated, non-fuzzy entries), as its .mo must hold them (needs Babel)."""
    from babel.messages.pofile import read_po
    with open(po, "rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id and m.string and not m.fuzzy
                and isinstance(m.id, str)}


def mo_messages(mo: Path) -> dict[str, str]:
    with open(mo, "rb") as fh:
        t = gettext.GNUTranslations(fh)
    return {k: v for k, v in t._catalog.items() if isinstance(k, str) and k}  # noqa: SLF001


def msgids(lang: str = "es") -> dict[str, str]:
    """Every msgid with its translation, from the compiled catalogues."""
    out: dict[str, str] = {}
    for path in catalogue_files(lang):
        with open(path, "rb") as fh:
            t = gettext.GNUTranslations(fh)
        for key, value in t._catalog.items():  # noqa: SLF001 - the documented way to list a GNUTranslations
            if isinstance(key, str) and key:
                out.setdefault(key, value)
            elif isinstance(key, tuple) and key[1] == 0 and key[0]:
                out.setdefault(key[0], value)
    return out


# --- English in a Spanish notebook ----------------------------------------------------------------------

_FIELD = re.compile(r"\{[^{}]*\}")
MIN_WORDS = 2


@lru_cache(maxsize=None)
def _leak_patterns(lang: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    patterns = []
    for msgid, translated in msgids(lang).items():
        if translated == msgid:
            continue  # the same in both languages (a command, a name): no leak
        pieces = _FIELD.split(msgid)
        literal = " ".join(pieces)
        if len(re.findall(r"[A-Za-z]{2,}", literal)) < MIN_WORDS:
            continue  # one word ("changed") is too short to tell English text from code or data
        # the longest literal run must itself be telling (two words), or the msgid cannot be found reliably
        body = r".{0,80}?".join(re.escape(" ".join(p.split())).replace(r"\ ", r"\s+") for p in pieces)
        patterns.append((msgid, re.compile(body, re.S)))
    return tuple(patterns)


def english_leaks(text: str | Iterable[str], lang: str = "es") -> list[str]:
    """The catalogue's English messages found in ``text`` (one string, or many): for tests asserting
    that a Spanish notebook shows no English.  Only msgids of two words or more, whose translation
    differs from the English, are looked for."""
    if not isinstance(text, str):
        text = "\n".join(text)
    text = re.sub(r"<[^>]+>", " ", text)  # HTML outputs: compare the words, not the markup
    text = html.unescape(text)
    return [msgid for msgid, pattern in _leak_patterns(lang) if pattern.search(text)]


def notebook_texts(nb: Any) -> list[str]:
    """Every output text of a notebook (nbformat object, dict or path): streams, text/plain, text/html, errors."""
    if isinstance(nb, (str, os.PathLike)):
        with open(nb, encoding="utf-8") as fh:
            nb = json.load(fh)
    out: list[str] = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", ()):
            if o.get("output_type") == "stream":
                out.append(_join(o.get("text", "")))
            elif o.get("output_type") == "error":
                out.append(f"{o.get('ename')}: {o.get('evalue')}")
                out.extend(_join(t) for t in o.get("traceback", ()))
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in o.get("data", {}):
                    out.append(_join(o["data"][mime]))
    return out


def _join(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def notebook_leaks(nb: Any, lang: str = "es") -> list[str]:
    """:func:`english_leaks` over every output of a notebook."""
    return english_leaks(notebook_texts(nb), lang)
