"""Terminals without root: the pty plumbing on a plain shell, process identity, the widget's messages,
the vendored xterm.js bundle and the Spanish catalogue."""

from __future__ import annotations

import gettext
import json
import os
import re
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from nslab_kernel.core.i18n import _
from nslab_kernel.kernel import pty
from nslab_kernel.kernel.pty import ProcessId, PtyShell, ShellCommand, read_until
from nslab_kernel.lifecycle import terminals

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "widgets" / "static"
PO = ROOT / "nslab_kernel" / "locale" / "es" / "LC_MESSAGES" / "nslab_terminal.po"


def plain_shell(rows: int = 24, cols: int = 80) -> PtyShell:
    """A shell on a pty in this process's own namespaces (what a node's shell is, minus entering the node)."""
    command = ShellCommand("n1", (), ("/bin/sh", "-i"), "sh", {**pty.SHELL_ENV, "PS1": "(n1) # "})
    shell = PtyShell(command, rows=rows, cols=cols).start()
    shell.identity = ProcessId(shell.pid, pty.start_time(shell.pid), pty.netns_inode(shell.pid))
    read_until(shell, b"(n1) #", 5)
    return shell


def typed(shell: PtyShell, line: str, expect: bytes | list[bytes]) -> bytes:
    since = shell.position
    shell.write(line + "\n")
    return read_until(shell, expect, 5, since)


def test_output_input_resize_and_ctrl_d():
    shell = plain_shell(30, 100)
    try:
        assert b"hello 42" in typed(shell, "echo hello $((40+2))", b"hello 42")
        typed(shell, "stty size", b"30 100")
        shell.resize(37, 120)
        typed(shell, "stty size", b"37 120")
        typed(shell, "echo $TERM", b"xterm-256color")
    finally:
        shell.write("\x04")
    assert shell.wait(5) == 0 and not shell.alive


def test_ctrl_c_interrupts_the_foreground_job_only():
    shell = plain_shell()
    try:
        since = shell.position
        shell.write("sleep 30; echo after\n")
        time.sleep(0.3)
        shell.write("\x03")
        typed(shell, "echo alive", [b"\nalive\n", b"# alive\n"])
        assert b"after" not in pty.plain(shell.output_since(since)).replace(b"echo after", b"")
        assert shell.alive
    finally:
        shell.close()


def test_the_shell_gets_default_signals_whatever_the_kernel_ignores():
    """Python ignores SIGPIPE, and a kernel started in the background ignores SIGINT: neither may leak
    into a student's terminal (``yes | head`` complaining of a broken pipe, Ctrl-C doing nothing)."""
    import signal
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        shell = plain_shell()
    finally:
        signal.signal(signal.SIGINT, old)
    try:
        out = typed(shell, "yes | head -n 1; grep -E '^Sig(Ign|Cgt)' /proc/self/status; echo done", b"\ndone")
        assert b"Broken pipe" not in out, out
        ignored = int(next(l for l in out.splitlines() if l.startswith(b"SigIgn")).split()[1], 16)
        assert not ignored & (1 << (signal.SIGINT - 1)) and not ignored & (1 << (signal.SIGPIPE - 1)), out
    finally:
        shell.close()


def test_exit_status_and_signal():
    shell = plain_shell()
    shell.write("exit 3\n")
    assert shell.wait(5) == 3
    shell = plain_shell()
    os.kill(shell.pid, 9)
    assert shell.wait(5) == -9


def test_close_ends_the_whole_session_even_a_job_holding_the_pty():
    shell = plain_shell()
    since = shell.position
    shell.write("sleep 300 & echo job=$!\n")
    job = _job(shell, since)
    assert job in pty.members(shell.identity, session=True)
    shell.close(grace=0.5)
    assert not shell.alive
    assert not pty.running(job)


def _job(shell: PtyShell, since: int) -> int:
    deadline = time.monotonic() + 5
    while not (m := re.search(rb"job=(\d+)\n", pty.plain(shell.output_since(since)))):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return int(m.group(1))


def test_the_shell_exiting_hangs_up_what_it_left_behind():
    shell = plain_shell()
    since = shell.position
    shell.write("sleep 300 & echo job=$!\n")
    job = _job(shell, since)
    shell.write("exit\n")
    assert shell.wait(5) == 0
    deadline = time.monotonic() + 3
    while pty.running(job) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pty.running(job)


def test_subscribe_replays_exactly_once():
    shell = plain_shell()
    try:
        got: list[bytes] = []
        before = shell.subscribe(on_output=got.append)
        typed(shell, "echo later", b"\nlater")
        assert b"later" not in before and b"later" in b"".join(got)
        assert before + b"".join(got) == shell.scrollback()
    finally:
        shell.close()


def test_a_pid_with_another_start_time_is_not_the_recorded_process():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        real = pty.identify(sleeper.pid)
        forged = ProcessId(real.pid, real.start + 1, real.netns)
        assert pty.is_same(real) and not pty.is_same(forged)
        assert pty.members(forged, session=False) == []
        assert pty.kill_recorded(forged, session=False) == [] and sleeper.poll() is None
        assert pty.kill_recorded(real, session=False) == [sleeper.pid]
        assert sleeper.wait(5) == -1  # SIGHUP
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_dead_shells_session_is_recognised_only_in_its_netns():
    """The shell is gone but a job of its session lives on: found by session number, netns and start time."""
    leader = subprocess.Popen(["setsid", "sh", "-c", "sleep 300 & echo $!; sleep 0.5"], stdout=subprocess.PIPE,
                              text=True)
    recorded = pty.identify(leader.pid)
    job = int(leader.stdout.readline())
    leader.wait()
    try:
        assert not pty.running(leader.pid) and pty.running(job)
        assert pty.members(ProcessId(recorded.pid, recorded.start, 1), session=True) == []  # another netns
        assert pty.members(ProcessId(recorded.pid, recorded.start + 10**9, recorded.netns), session=True) == []
        assert pty.members(ProcessId(recorded.pid, recorded.start, recorded.netns), session=False) == []
        assert pty.kill_recorded(recorded, session=True, grace=0.5) == [job]
        deadline = time.monotonic() + 3
        while pty.running(job) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pty.running(job)
    finally:
        subprocess.run(["kill", "-9", str(job)], capture_output=True)


def test_shell_commands_are_what_a_student_types():
    c = pty.netns_shell("h1", "lab-h1", "/var/run/netns/lab-h1")
    assert c.shown == "ip netns exec lab-h1 bash"
    assert c.argv[:4] == ("ip", "netns", "exec", "lab-h1") and c.env["TERM"] == "xterm-256color"
    one = c.running("ip route")
    assert one.argv[-2:] == ("-c", "ip route") and one.shown == "ip netns exec lab-h1 bash -c 'ip route'"
    c = pty.netns_shell("h1", "x", "/tmp/elsewhere/x")
    assert c.argv[0] == "nsenter" and c.shown.startswith("nsenter --net=/tmp/elsewhere/x")
    c = pty.container_shell("h1", "lab-h1", 1234)
    assert c.shown == "lxc exec lab-h1 -- sh" and c.argv[:3] == ("nsenter", "-t", "1234")


def test_plain_strips_colours_and_cursor_moves():
    assert pty.plain(b"inet \x1b[35m10.0.1.2\x1b[0m/24\r\n\x1b[?2004h\x1b]0;t\x07$ ") == b"inet 10.0.1.2/24\n$ "


def test_a_simulated_lab_has_no_terminal():
    from nslab_kernel import InputError, Lab
    lab = Lab.load("figure1", backend="sim", lab="h4unitsim")
    with pytest.raises(InputError, match="simulated|simulada"):
        lab.terminal("h1")


# --- the widget ----------------------------------------------------------------------------------

def test_widget_carries_bytes_both_ways_and_says_why_it_closed(monkeypatch):
    from nslab_widgets.terminal import TerminalView
    shell = plain_shell()
    term = terminals.Terminal(SimpleNamespace(name="h4unit"), "n1", "id1", shell)
    shell.subscribe(on_exit=term._ended)
    sent: list[tuple[dict, list]] = []
    monkeypatch.setattr(TerminalView, "send", lambda self, content, buffers=None: sent.append((content, buffers)))
    view = TerminalView(term, height="200px")
    assert view.title == _("Terminal in {node}").format(node="n1") and not view.closed
    view._on_message(view, {"type": "ready", "view": "v1", "rows": 12, "cols": 90}, [])
    assert sent[-1][0] == {"type": "replay", "view": "v1"} and b"(n1) #" in sent[-1][1][0]
    view._on_message(view, {"type": "input", "data": "stty size\n"}, [])
    deadline = time.monotonic() + 5
    while b"12 90" not in pty.plain(b"".join(b[0] for c, b in sent if c["type"] == "output")):
        assert time.monotonic() < deadline, sent
        time.sleep(0.02)
    view._on_message(view, {"type": "input", "data": "\x04"}, [])
    assert shell.wait(5) == 0
    deadline = time.monotonic() + 2
    while not view.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert view.closed
    assert view.status_text == _("terminal closed: the shell exited (status {status})").format(status=0)
    assert view.labels["reopen"] == _("Reopen")


# --- what ships ------------------------------------------------------------------------------------

def test_the_bundle_is_the_pinned_xterm_with_its_licences():
    lock = json.loads((ROOT / "widgets" / "js" / "package-lock.json").read_text())["packages"]
    js = (STATIC / "terminal.js").read_text()
    for name in ("@xterm/xterm", "@xterm/addon-fit"):
        assert f"{name}@{lock['node_modules/' + name]['version']}" in js.splitlines()[0]
    assert "export" in js
    assert not re.search(r"""(import|from)\s*\(?\s*["'](https?:|//)""", js)  # nothing fetched from a CDN
    css = (STATIC / "terminal.css").read_text()
    assert ".xterm " in css or ".xterm{" in css or ".xterm {" in css
    assert ".nslab-terminal-bar" in css
    for licence in ("LICENSE-xterm.txt", "LICENSE-xterm-addon-fit.txt"):
        assert "MIT" in (STATIC / licence).read_text() or "Permission is hereby granted" in (STATIC / licence).read_text()


def test_every_message_has_a_spanish_translation_and_the_mo_matches():
    sources = [ROOT / "nslab_kernel" / "lifecycle" / "terminals.py", ROOT / "widgets" / "terminal.py",
               ROOT / "nslab_kernel" / "cli" / "shell.py"]
    used = set()
    for path in sources:
        for match in re.finditer(r'_\(((?:\s*"(?:[^"\\]|\\.)*"\s*)+)\)', path.read_text()):
            used.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))))
    assert len(used) >= 10
    catalogue = gettext.GNUTranslations(open(PO.with_suffix(".mo"), "rb"))
    po = PO.read_text()
    for msgid in used:
        translated = catalogue.gettext(msgid)
        assert translated != msgid, f"no Spanish for {msgid!r} in {PO.name} (or the .mo is not rebuilt)"
        assert set(re.findall(r"\{\w+\}", translated)) == set(re.findall(r"\{\w+\}", msgid))
    assert po.count('msgid "') == len(catalogue._catalog)  # every entry compiled (both count the header)


def test_a_flood_of_output_still_stops_on_ctrl_c():
    shell = plain_shell()
    try:
        got = []
        shell.subscribe(on_output=got.append)
        shell.write("yes nslab-flood\n")
        time.sleep(1.0)
        flooded = sum(map(len, got))
        shell.write("\x03")
        typed(shell, "echo stopped", [b"\nstopped\n", b"# stopped\n"])
        assert flooded > 100_000  # it did flood
        assert flooded < 8 * 1024 * 1024, flooded  # in one second: throttled to what a browser can draw
    finally:
        shell.close()


def test_a_big_paste_never_blocks_the_caller():
    shell = plain_shell()
    try:
        shell.write("sleep 2\n")
        t0 = time.monotonic()
        shell.write("#" + "x" * 300_000 + "\n")  # far more than the pty's input buffer, shell not reading
        assert time.monotonic() - t0 < 0.1
    finally:
        shell.close()
    assert not shell.alive


def test_the_close_button_ends_the_shell_and_says_so(monkeypatch):
    from nslab_widgets.terminal import TerminalView
    shell = plain_shell()
    term = terminals.Terminal(SimpleNamespace(name="h4unit"), "n1", "id2", shell)
    shell.subscribe(on_exit=term._ended)
    monkeypatch.setattr(TerminalView, "send", lambda self, content, buffers=None: None)
    view = TerminalView(term)
    view._on_message(view, {"type": "close", "view": "v1"}, [])
    assert shell.wait(5) is not None
    deadline = time.monotonic() + 2
    while not view.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert view.closed and term.reason == "closed" and view.status_text == _("terminal closed")
