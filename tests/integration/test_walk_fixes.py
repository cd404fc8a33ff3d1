"""The Spanish student walk (WALK-REPORT items 1-18): each wrong state the reviewer reached, built by hand
with real ``ip`` commands on the real kernel, and what the check, the hint, ex.solve and ex.grade say.

Every test has a lab of its own (``e4`` + a unique suffix) and interface names made from it (the host's
interface names are shared by everyone on the machine), and removes what it created.
"""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.support import IS_ROOT, ROOT, need, notebook_build

TWO = ROOT / "nslab_kernel" / "model" / "topologies" / "two-containers.yaml"


def sh(*commands: str) -> None:
    for command in commands:
        subprocess.run(command, shell=True, check=True, capture_output=True, text=True)


def run_hint(hint: str) -> None:
    """Type the hint's commands, one per line, as a student would; each must work."""
    for line in hint.splitlines():
        assert line.startswith(("ip ", "ex.")), line
        if line.startswith("ip "):
            result = subprocess.run(line, shell=True, capture_output=True, text=True)
            assert result.returncode == 0, f"{line}: {result.stderr}"


class Two:
    """The two-containers exercise with this test's names: lab, netns and the pair's interfaces."""

    def __init__(self, tmp_path, backend: str = "netns"):
        from nslab_kernel.analysis import exercises
        self.lab = f"e4{uuid.uuid4().hex[:4]}"
        self.A, self.B = f"{self.lab}a", f"{self.lab}b"
        topo = tmp_path / "two.yaml"
        topo.write_text(TWO.read_text().replace("v-1a", self.A).replace("v-1b", self.B))
        self.ex = exercises.start(str(topo), backend, self.lab, lang="es")
        self.ns1, self.ns2 = self.ex.netns("contenedor1"), self.ex.netns("contenedor2")
        self.strays: list[str] = []

    def stray(self, name: str) -> str:
        assert name.startswith("e4")
        sh(f"ip netns add {name}")
        self.strays.append(name)
        return name

    def remove(self) -> None:
        self.ex.teardown()
        for name in self.strays:
            subprocess.run(f"ip netns del {name}", shell=True, capture_output=True)
        for name in (self.A, self.B, f"{self.lab}x1", f"{self.lab}x2"):
            subprocess.run(f"ip link del {name}", shell=True, capture_output=True)
        left = [n for n in os.listdir("/var/run/netns") if n.startswith(self.lab)]
        links = subprocess.run("ip -o link", shell=True, capture_output=True, text=True).stdout
        assert not left and self.lab not in links


@pytest.fixture
def two(tmp_path):
    need(IS_ROOT, "needs root to create network namespaces")
    t = Two(tmp_path)
    yield t
    t.remove()


def hint_at(ex, step: str, level: int, index: int = 0) -> str:
    """The hint of item ``index`` once the same mistake has failed often enough to show ``level``."""
    for _ in range(3):
        ok, _target, _text, label, hint, shown = ex.check(step).parts()[index]
        assert not ok
        if shown == level:
            return hint
    raise AssertionError(f"level {level} never shown: {label} {hint}")


# --- items 1 and 2: a veth made without its peer --------------------------------------------------------

def test_item1_solve_veth_without_peer_deletes_it_and_makes_the_pair(two):
    ex = two.ex
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}", f"ip link add {two.A} type veth")
    assert not ex.check("3.veth").passed
    done = ex.solve("3.veth")
    assert done.commands == [(f"ip link del {two.A}", True),
                             (f"ip link add {two.A} type veth peer name {two.B}", True)]
    assert "Hecho por nslab" in done.title
    assert ex.check("3.veth").passed


def test_item1_solve_move_from_a_stray_netns_and_from_swapped_ends(two):
    ex = two.ex
    stray = two.stray(f"{two.lab}-contenedor1")
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}", f"ip link add {two.A} type veth peer name {two.B}",
       f"ip link set dev {two.A} netns {stray}")
    done = ex.solve("3.move")
    assert (f"ip -n {stray} link set dev {two.A} netns {two.ns1}", True) in done.commands
    assert (f"ip link set dev {two.B} netns {two.ns2}", True) in done.commands
    assert ex.check("3.move").passed
    sh(f"ip -n {two.ns1} link set dev {two.A} netns {two.ns2}", f"ip -n {two.ns2} link set dev {two.B} netns {two.ns1}")
    swapped = ex.check("3.move")
    assert not swapped.passed and f"{two.A} está en {two.ns2}, no en {two.ns1}" in str(swapped)
    done = ex.solve("3.move")
    assert all(changed for cmd, changed in done.commands if "netns" in cmd and "link set" in cmd)
    assert ex.check("3.move").passed


def test_item2_the_exact_hint_for_a_veth_without_peer_works(two):
    ex = two.ex
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}", f"ip link add {two.A} type veth")
    text = str(ex.check("3.veth"))
    assert f"{two.A} (en el anfitrión) está emparejado con veth" in text and f"{two.B} no existe" in text
    exact = hint_at(ex, "3.veth", 3)
    assert exact.splitlines() == [f"ip link del {two.A}", f"ip link add {two.A} type veth peer name {two.B}"]
    run_hint(exact)
    assert ex.check("3.veth").passed


# --- item 3: an end moved into a netns with another name ------------------------------------------------

def test_item3_an_end_in_a_wrong_named_netns_is_found_and_its_hint_works(two):
    ex = two.ex
    stray = two.stray(f"{two.lab}-contenedor1")
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}", f"ip link add {two.A} type veth peer name {two.B}",
       f"ip link set dev {two.A} netns {stray}")
    first = ex.check("3.move")
    assert f"{two.A} está en {stray}, no en {two.ns1}" in str(first) and "todavía no hay" not in str(first)
    ex.check("3.move")
    exact = ex.check("3.move").parts()[0][4]
    assert exact == f"ip -n {stray} link set dev {two.A} netns {two.ns1}"
    run_hint(exact)
    run_hint(ex.check("3.move").parts()[1][4])  # the other end's exact hint (3rd failure of that item)
    assert ex.check("3.move").passed


# --- item 4: two veths, each with another peer ----------------------------------------------------------

def test_item4_two_unpaired_veths_are_not_a_pair_anywhere(two, capsys):
    ex = two.ex
    x1, x2 = f"{two.lab}x1", f"{two.lab}x2"
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}",
       f"ip link add {two.A} type veth peer name {x1}", f"ip link add {two.B} type veth peer name {x2}",
       f"ip link set dev {two.A} netns {two.ns1}", f"ip link set dev {two.B} netns {two.ns2}",
       f"ip -n {two.ns1} addr add 10.9.0.1/24 dev {two.A}", f"ip -n {two.ns1} link set {two.A} up",
       f"ip -n {two.ns2} addr add 10.9.0.2/24 dev {two.B}", f"ip -n {two.ns2} link set {two.B} up")
    veth, move = ex.check("3.veth"), ex.check("3.move")
    assert not veth.passed and not move.passed
    assert f"está emparejado con {x1}, no con {two.B}" in str(move)
    ping = ex.check("3.ping")
    assert not ping.passed and "no son una pareja veth" in str(ping)
    ex.grade("3", 4)
    graded = capsys.readouterr().out
    assert "✔ " + f"{two.A} - {two.B}" not in graded and "son una pareja veth" not in graded.replace("no son", "")
    done = ex.solve("3.move")
    assert done.commands[:2] == [(f"ip netns exec {two.ns1} ip link del {two.A}", True),
                                 (f"ip netns exec {two.ns2} ip link del {two.B}", True)]
    assert ex.check("3.veth").passed and ex.check("3.move").passed


# --- items 5, 6 and 7: addresses ------------------------------------------------------------------------

def pair_in_place(two) -> None:
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}",
       f"ip link add {two.A} netns {two.ns1} type veth peer name {two.B} netns {two.ns2}")


def test_item5_different_subnets_hint_deletes_the_wrong_address_one_command_a_line(two):
    ex = two.ex
    pair_in_place(two)
    sh(f"ip -n {two.ns1} addr add 10.1.1.1/24 dev {two.A}", f"ip -n {two.ns2} addr add 10.1.2.2/24 dev {two.B}")
    ex.check("3.addresses"), ex.check("3.addresses")
    exact = ex.check("3.addresses").parts()[1][4]
    lines = exact.splitlines()
    assert f"ip netns exec {two.ns2} ip addr del 10.1.2.2/24 dev {two.B}" in lines
    assert f"ip netns exec {two.ns2} ip addr add 10.1.1.2/24 dev {two.B}" in lines
    assert not any("10.1.2.1" in line for line in lines)  # never the other end's subnet onto v-1a
    assert all(line.count(" ip ") == 1 and line.startswith("ip netns exec") for line in lines)
    run_hint(exact)
    assert ex.check("3.addresses").passed and ex.check("3.ping").passed


def test_item6_prefixes_that_differ_but_reach_each_other_pass_with_a_note(two):
    ex = two.ex
    pair_in_place(two)
    sh(f"ip -n {two.ns1} addr add 10.1.1.1/24 dev {two.A}", f"ip -n {two.ns1} link set {two.A} up",
       f"ip -n {two.ns2} addr add 10.1.1.2/16 dev {two.B}", f"ip -n {two.ns2} link set {two.B} up")
    result = ex.check("3.addresses")
    assert result.passed, str(result)
    assert "los prefijos son distintos" in str(result)
    assert ex.check("3.ping").passed


def test_item7_hints_restart_when_the_mistake_changes_and_grade_does_not_climb(two, capsys):
    ex = two.ex
    pair_in_place(two)
    ex.grade("3", 4)
    assert "Pista (el comando exacto)" not in capsys.readouterr().out  # a first grade shows the idea
    sh(f"ip -n {two.ns1} addr add 10.1.1.1/24 dev {two.A}", f"ip -n {two.ns2} addr add 10.1.2.2/24 dev {two.B}")
    assert [ex.check("3.addresses").parts()[0][5] for _ in range(3)] == [1, 2, 3]
    sh(f"ip -n {two.ns2} addr flush dev {two.B}", f"ip -n {two.ns2} addr add 10.1.1.2/24 dev {two.B}")
    down = ex.check("3.addresses")
    assert "apagado" in str(down)
    assert [p[5] for p in down.parts() if not p[0]] == [1, 1]  # a new mistake: the idea again
    ex.grade("3", 4)
    assert "Pista (el comando exacto)" not in capsys.readouterr().out


# --- item 8: section 2's grade and a near-miss name ------------------------------------------------------

def test_item8_section2_grade_counts_each_thing_once_and_a_near_miss_name_is_named(two, capsys):
    ex = two.ex
    stray = two.stray(f"{two.lab}-contenedor1")
    launch = str(ex.check("2.launch"))
    assert f"hay {stray}" in launch
    ex.check("2.launch")
    exact = ex.check("2.launch").parts()[0][4]
    assert exact.splitlines() == [f"ip netns del {stray}", f"ip netns add {two.ns1}"]
    run_hint(exact)
    two.strays.remove(stray)
    assert ex.check("2.launch").passed
    pid = ex.check("2.pid")
    assert "Hecho" not in pid.headline() and "no cuenta" in str(pid)
    assert ex.grade("2", 3) == 3
    out = capsys.readouterr().out
    assert out.count(f"el netns {two.ns1} existe") == 1
    assert "todo lo que pide esta sección" in out and "este paso" not in out.splitlines()[0]


# --- items 11 and 12: the backend, said in the notebook's words ------------------------------------------

def test_item11_12_backend_reason_and_lxd_as_a_normal_user(two, tmp_path, monkeypatch):
    from html import unescape
    html = unescape(two.ex._repr_html_())
    assert 'Ha elegido backend = "netns"' in html and "no está disponible" not in html
    assert "<th>contenedor</th>" not in html  # no containers, no column for them
    monkeypatch.setenv("NSLAB_ROOTLESS", "1")  # a normal user's sandbox: LXD is never used there
    from nslab_kernel.analysis import exercises
    ex = exercises.Exercise(two.ex.topology, "lxd", lang="es")
    assert ex.backend == "netns" and not ex.lxd
    shown = unescape(ex._repr_html_())
    assert 'backend = "lxd" no puede funcionar aquí' in shown and 'backend = "netns"' in shown
    assert "--backend" not in shown and "sudo" not in shown


# --- items 13 and 14: Spanish placeholders, hints as code -------------------------------------------------

def test_item13_14_placeholders_in_spanish_and_hints_in_code(two):
    ex = two.ex
    assert "ip netns add NOMBRE" in hint_at(ex, "2.launch", 2)
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}")
    idea = hint_at(ex, "3.veth", 1)
    assert "NOMBRE1" in hint_at(ex, "3.veth", 2) and "NAME" not in idea
    sh(f"ip link add {two.A} type veth peer name {two.B}")
    assert "INTERFAZ" in hint_at(ex, "3.move", 2)
    sh(f"ip link set dev {two.A} netns {two.ns1}", f"ip link set dev {two.B} netns {two.ns2}")
    shape = hint_at(ex, "3.addresses", 2)
    assert "DIRECCIÓN/PREFIJO" in shape and "INTERFAZ" in shape and "ADDRESS" not in shape
    html = ex.check("3.addresses")._repr_html_()
    assert "<pre style='" in html and "white-space:pre" in html and "ip link set" in html
    processes = ex.processes()._repr_html_()
    assert "white-space:pre" in processes
    ps_block = processes.split("<pre")[1]
    assert "`" not in ps_block and "`" not in processes  # the note's commands are <code>, not backticks


# --- item 15: solve twice --------------------------------------------------------------------------------

def test_item15_a_second_solve_says_already_done_and_keeps_every_line(two):
    ex = two.ex
    sh(f"ip netns add {two.ns1}", f"ip netns add {two.ns2}")
    first = ex.solve("3.addresses")
    assert "Hecho por nslab" in first.title
    second = ex.solve("3.addresses")
    assert "Ya estaba hecho" in second.title and "Hecho por nslab" not in second.title
    assert [c for c, _ in second.commands if "addr add" in c] == [c for c, _ in first.commands if "addr add" in c]
    assert len([c for c, _ in second.commands if "addr add" in c]) == 2
    assert not any(changed for _c, changed in second.commands)
    assert ex.check("3.ping").passed


# --- items 17 and 18: notebook 02's text and its last cell ------------------------------------------------

def test_item17_notebook_02_says_why_ln_onto_an_ip_netns_add_name_fails():
    build = notebook_build()
    for lang in ("es", "en"):
        nb = build.student_notebook(lang, "02-network-namespaces", solutions=False, nbgrader=False)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "Device or resource busy" in text
        assert ("su espacio aislado comparten un netns" if lang == "es" else "your own sandbox share one netns") in text


def test_item18_finish_after_section_2_names_only_what_exists(two):
    ex = two.ex
    sh(f"ip netns add {two.ns1}")
    shown = str(ex.finish())
    assert f"ip netns del {two.ns1}" in shown and two.ns2 not in shown
    sh(f"ip netns del {two.ns1}")
    assert "No queda nada" in str(ex.finish())
