"""ex.terminal(node) on LXD: before the container exists it says, in Spanish, to launch it (with the command);
once it runs, the shell is inside the container (its hostname, its own network).  The container and its netns
name are the exercise's (prefix n1), removed by ex.teardown() and checked gone."""

from __future__ import annotations

import os
import uuid

import pytest

from nslab_kernel.kernel.pty import plain, read_until
from tests.support import IS_ROOT, need

pytestmark = [pytest.mark.root, pytest.mark.lxd]


@pytest.fixture
def exercise():
    need(IS_ROOT, "needs root")
    from nslab_kernel.backends.lxd import socket_path
    need(socket_path() is not None, "needs a running LXD daemon (scripts/lxd-start.sh starts one)")
    from nslab_kernel.analysis import exercises
    ex = exercises.Exercise("two-containers", "lxd", f"n1l{uuid.uuid4().hex[:5]}", lang="es")
    try:
        yield ex
    finally:
        ex.teardown()
        assert ex._container_status(ex.container("contenedor1")) is None


def test_a_shell_inside_the_students_container(exercise):
    from nslab_kernel.analysis.exercises import ExerciseShell
    ex = exercise
    name = ex.container("contenedor1")
    said = str(ex.terminal("contenedor1"))
    assert said.startswith("contenedor1 todavía no existe: lance primero su contenedor") and \
        f"lxc launch {ex.image} {name}" in said, said
    ex.solve("2.launch")  # what the student's `lxc launch` does
    view = ex.terminal("contenedor1")
    assert type(view).__name__ == "TerminalView", view
    assert view.command == f"lxc exec {name} -- sh" and view.title == "Terminal en contenedor1"
    shell = view.terminal
    assert isinstance(shell, ExerciseShell) and shell.alive
    init = ex._init_pid("contenedor1")
    assert os.stat(f"/proc/{shell.pid}/ns/net").st_ino == os.stat(f"/proc/{init}/ns/net").st_ino
    shell.write("echo links: $(ip -o link | wc -l)\n")
    out = plain(read_until(shell.shell, b"links: 1", timeout=10)).decode()  # only the container's lo
    assert "BusyBox" in out and "(contenedor1)" in out  # the container's own /bin/sh
    view.close()
    assert not shell.alive and shell.closed_text() == "terminal cerrado"
    again = ex.terminal("contenedor1")
    ex.teardown()  # ends the shells of the exercise before the containers go
    assert not again.terminal.alive and "desmontado" in again.terminal.closed_text()
