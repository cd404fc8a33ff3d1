"""The catalogue: compiled in step with its source, complete, and the language chosen per notebook or call."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nslab_kernel
from nslab_kernel.core import i18n
from nslab_kernel.core.i18n import _, english_leaks, language, notebook_leaks, set_language


@pytest.fixture(autouse=True)
def reset_language():
    yield
    set_language(None)


def test_every_mo_is_in_step_with_its_po():
    pos = i18n.po_files("es")
    assert any(p.name == "nslab.po" for p in pos)
    for po in pos:
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} is missing: run python scripts/i18n.py compile"
        assert i18n.mo_messages(mo) == i18n.po_messages(po), \
            f"{mo.name} is not in step with {po.name}: run python scripts/i18n.py compile"


def test_every_message_in_the_code_has_its_spanish():
    """Every _()/N_() msgid in the package is in the catalogue, translated (run pybabel extract to see them)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po
    catalogue = {}
    for po in i18n.po_files("es"):
        with open(po, "rb") as fh:
            catalogue.update({m.id: m.string for m in read_po(fh) if m.id})
    missing = []
    for _file, _line, message, _c, _ctx in extract_from_dir(
            str(i18n.LOCALE_DIR.parent), method_map=[("**.py", "python")], keywords={"_": None, "N_": None}):
        if isinstance(message, tuple):
            message = message[0]
        if message and not catalogue.get(message):
            missing.append(message)
    assert not missing, f"msgids without Spanish: {missing[:10]}"


def test_placeholders_survive_translation():
    import re
    field = re.compile(r"\{[^{}]*\}")
    for msgid, es in i18n.msgids("es").items():
        assert sorted(field.findall(msgid)) == sorted(field.findall(es)), (msgid, es)


def test_language_per_process_per_block_and_per_call():
    set_language("es")
    assert nslab_kernel.get_language() == "es" and _("everything checked is right") == "todo lo comprobado está bien"
    assert _("everything checked is right", lang="en") == "everything checked is right"
    with language("en"):
        assert _("hint") == "hint"
    assert _("hint") == "pista"
    set_language("en")
    assert _("hint") == "hint"
    with pytest.raises(nslab_kernel.InputError, match="not available"):
        set_language("fr")


def test_the_environment_chooses_when_nobody_does(monkeypatch):
    set_language(None)
    for var in ("NSLAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    assert i18n.get_language() == "en"
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    assert i18n.get_language() == "es"
    monkeypatch.setenv("NSLAB_LANG", "en")
    assert i18n.get_language() == "en"


def test_english_leaks_finds_english_messages_and_nothing_else():
    english = "Check of lab 'x': nodes 1/2\n  h1 is a router but does not forward (net.ipv4.ip_forward=0)"
    found = english_leaks(english)
    assert "{node} is a router but does not forward (net.ipv4.ip_forward=0)" in found
    spanish = _("{node} is a router but does not forward (net.ipv4.ip_forward=0)", "es").format(node="r1")
    assert english_leaks(spanish) == []
    assert english_leaks("<td>ip -n net-contenedor1 addr add 10.1.1.1/24 dev v-1a</td>") == []  # commands are no leak
    assert "{node} has no route to {who}" in english_leaks(["<b>r1 has no route to 10.0.4.0/24 (r3, h4)</b>"])


def test_notebook_leaks_reads_every_output():
    nb = {"cells": [
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": ["todo bien\n"]}]},
        {"cell_type": "code", "outputs": [{"output_type": "execute_result",
                                           "data": {"text/html": "<div>everything checked is right</div>"}}]},
        {"cell_type": "markdown", "source": "no outputs here"}]}
    assert notebook_leaks(nb) == ["everything checked is right"]


def test_cli_follows_lang():
    code = "from nslab_kernel.core.i18n import _; print(_('everything checked is right'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"LANG": "es_ES.UTF-8", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "todo lo comprobado está bien", out.stderr


def test_no_message_hides_inside_an_f_string():
    """Babel cannot extract ``_("...")`` written inside an f-string: such a message would never be translated."""
    import ast
    hidden = []
    for path in sorted(i18n.LOCALE_DIR.parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                for inner in ast.walk(node):
                    if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in ("_", "N_")
                            and inner.args and isinstance(inner.args[0], ast.Constant)):
                        hidden.append(f"{path.name}:{inner.lineno}: {inner.args[0].value!r}")
    assert not hidden, hidden


def test_errors_raised_into_a_spanish_notebook_are_spanish():
    set_language("es")
    with pytest.raises(nslab_kernel.InputError) as bad_name:
        nslab_kernel.Lab.load("figure1", lab="no vale!")
    assert "no es válido" in str(bad_name.value) and not english_leaks(str(bad_name.value))
    with pytest.raises(nslab_kernel.InputError) as typo:
        nslab_kernel.Lab.load("figur1")
    assert "¿quería decir 'figure1'?" in str(typo.value)
    with pytest.raises(nslab_kernel.InputError, match="no tiene el nodo"):
        nslab_kernel.load("figure1").node("h9")
    shown = "".join(typo.value._render_traceback_())  # what Jupyter shows: one line, no traceback
    assert "quería decir" in shown and "Traceback" not in shown


def test_jupyterlab_itself_can_speak_spanish():
    """The student's JupyterLab menus, not only nslab's messages: the Spanish language pack is installed."""
    from jupyterlab_server.translation_utils import get_language_packs
    packs, _message = get_language_packs("en")
    assert "es_ES" in packs, packs
