"""ex.terminal() as a normal user: the shell is in the student's own host, their sandbox's network namespace,
where the activity's ``ip link add v-1a type veth peer name v-1b`` works without root and leaves the
machine's own host untouched.  The Unix user (prefix n1) and its sandbox are removed afterwards."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.integration.test_rootless import Student, _remove_student
from tests.support import IS_ROOT, need

pytestmark = [pytest.mark.root]

SCRIPT = r'''
import sys
from nslab_kernel.analysis import exercises
from nslab_kernel.kernel.pty import plain, read_until
ex = exercises.Exercise("two-containers", "netns", "n1r", lang="es")
command = exercises.host_shell(ex._t("your host"))
print("SHOWN", command.shown, "ENTER", " ".join(command.enter))
shell = exercises.ExerciseShell.open(ex, None, command)
shell.write("ip link add v-1a type veth peer name v-1b; echo RESULT-$?; ip -br link\n")
out = plain(read_until(shell.shell, b"v-1b@v-1a", timeout=30)).decode()
print(out)
shell.close()
print("CLOSED", shell.closed_text())
'''


def host_has(link: str) -> bool:
    return subprocess.run(["ip", "link", "show", link], capture_output=True).returncode == 0


@pytest.fixture
def student():
    need(IS_ROOT, "creating the test's Unix user needs root")
    need(bool(shutil.which("setpriv")) and bool(shutil.which("useradd")), "setpriv and useradd (util-linux, passwd)")
    name = f"n1u{uuid.uuid4().hex[:5]}"
    subprocess.run(["useradd", "--create-home", "--home-dir", f"/home/{name}", "--shell", "/bin/bash",
                    "--user-group", name], check=True, capture_output=True)
    pw = pwd.getpwnam(name)
    s = Student(name, pw.pw_uid, pw.pw_gid, pw.pw_dir)
    try:
        yield s
    finally:
        _remove_student(s)


def test_the_students_host_shell_is_their_sandbox(student):
    before = host_has("v-1a")
    proc = student.run(sys.executable, "-c", SCRIPT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "SHOWN nslab shell" in out and "nslab-sandbox run --" in out  # entered through the sandbox's launcher
    assert "RESULT-0" in out and "v-1a@v-1b" in out, out  # no root needed: it is the student's own host
    assert "CLOSED terminal cerrado" in out
    assert host_has("v-1a") == before  # the machine's host is not the student's
