"""Benchmark: a class of N students working at the same time, each running

    nslab up figure1 --lab L ; nslab ping --lab L --json ; nslab check figure1 --lab L ; nslab down --lab L

once as root (every student a root process; distinct lab names, as root shares one set of named
namespaces) and once rootless (every student a Unix user of their own, created for the run and
removed afterwards, each in their own user-namespace sandbox; all with the SAME lab name).

    sudo .venv/bin/python bench/class.py --students 40 --json

prints ``{"root": {...}, "rootless": {...}, "ratio": {...}}``; each mode has ``wall_s`` (first start
to last end), ``p50_s`` / ``p95_s`` (one student's whole sequence), ``failures`` (students with any
command failing or any probe unanswered), ``rss_mb_per_student`` (mean over students of the peak
resident memory of their largest command, plus their sandbox holder in rootless mode) and
``errors`` (the first few failures, one line each).  Target on a 2-core machine: 40 students, no
failure, rootless wall time within 1.5x of root.  Needs root (it creates and removes the users).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TARGETS = {"students": 40, "failures": 0, "rootless_vs_root_wall": 1.5}


@dataclass
class Student:
    index: int
    lab: str
    user: pwd.struct_passwd | None = None       # None: runs as root
    state_dir: Path | None = None               # root mode: the shared state dir of this run
    seconds: float = 0.0
    peak_kb: int = 0
    holder_kb: int = 0
    error: str | None = None
    steps: dict = field(default_factory=dict)


def nslab_exe() -> str:
    exe = shutil.which("nslab", path=os.path.dirname(sys.executable))
    if not exe:
        raise SystemExit(f"class.py: no 'nslab' next to {sys.executable}: run it with the project's venv "
                         "(.venv/bin/python bench/class.py)")
    return exe


class RusagePopen(subprocess.Popen):
    """Popen that keeps the child's peak RSS (wait4's rusage), which plain Popen throws away."""

    def _try_wait(self, wait_flags):
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            pid, status = self.pid, 0
        else:
            if pid:
                self.peak_kb = usage.ru_maxrss
        return pid, status


def run_command(student: Student, argv: list[str], env: dict) -> tuple[int, str, str, int]:
    kwargs = {}
    if student.user is not None:
        kwargs = {"user": student.user.pw_uid, "group": student.user.pw_gid, "extra_groups": [],
                  "cwd": student.user.pw_dir}
    proc = RusagePopen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kwargs)
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return 124, out, "timed out after 600 s\n" + err, getattr(proc, "peak_kb", 0)
    return proc.returncode, out, err, getattr(proc, "peak_kb", 0)


def student_env(student: Student, rootless: bool) -> dict:
    env = {"PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
           "LANG": "C.UTF-8", "NSLAB_ROOTLESS": "1" if rootless else "0"}
    if student.user is not None:
        env.update(HOME=student.user.pw_dir, USER=student.user.pw_name, LOGNAME=student.user.pw_name)
    if student.state_dir is not None:
        env["NSLAB_STATE_DIR"] = str(student.state_dir)
    return env


def run_student(student: Student, exe: str, topology: str, rootless: bool, start: threading.Barrier) -> None:
    env = student_env(student, rootless)
    sequence = [("up", [exe, "up", topology, "--lab", student.lab, "--backend", "netns"]),
                ("ping", [exe, "ping", "--lab", student.lab, "--json"]),
                ("check", [exe, "check", topology, "--lab", student.lab]),
                ("down", [exe, "down", "--lab", student.lab])]
    start.wait()
    t0 = time.perf_counter()
    for name, argv in sequence:
        t1 = time.perf_counter()
        status, out, err, peak = run_command(student, argv, env)
        student.steps[name] = round(time.perf_counter() - t1, 3)
        student.peak_kb = max(student.peak_kb, peak)
        if name == "ping" and status == 0:
            failed = json.loads(out).get("failed") or []
            if failed:
                status, err = 1, f"unanswered probes: {failed[:3]}"
        if status != 0:
            last = (err.strip() or out.strip()).splitlines()[-1:] or [""]
            student.error = f"{student.lab}{'@' + student.user.pw_name if student.user else ''}: " \
                            f"nslab {name} exited {status}: {last[0][:200]}"
            if name != "down":  # leave nothing behind
                run_command(student, [exe, "down", "--lab", student.lab], env)
            break
    student.seconds = time.perf_counter() - t0
    if rootless and student.user is not None:
        student.holder_kb = holder_rss_kb(student)


def holder_rss_kb(student: Student) -> int:
    """The resident memory of the student's sandbox holder (read from its pidfile)."""
    for path in sandbox_pidfiles(student):
        try:
            pid = int(json.loads(path.read_text())["pid"])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError, KeyError):
            continue
    return 0


def sandbox_pidfiles(student: Student) -> list[Path]:
    home = Path(student.user.pw_dir)
    return [home / ".local/state/nslab/sandbox.json", Path(f"/tmp/nslab-{student.user.pw_uid}/sandbox.json")]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def start_sandboxes(students: list[Student], exe: str) -> None:
    """Start every student's sandbox before the clock starts, as the class hub's kernel does at login."""
    threads = [threading.Thread(target=run_command, args=(s, [exe, "sandbox", "start"], student_env(s, True)))
               for s in students]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_mode(students: list[Student], exe: str, topology: str, rootless: bool) -> dict:
    barrier = threading.Barrier(len(students) + 1)
    threads = [threading.Thread(target=run_student, args=(s, exe, topology, rootless, barrier), daemon=True)
               for s in students]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    seconds = [s.seconds for s in students]
    errors = [s.error for s in students if s.error]
    per_step = {name: round(percentile([s.steps.get(name, 0.0) for s in students], 50), 3)
                for name in ("up", "ping", "check", "down")}
    return {"students": len(students), "wall_s": round(wall, 2), "p50_s": round(percentile(seconds, 50), 2),
            "p95_s": round(percentile(seconds, 95), 2), "failures": len(errors),
            "rss_mb_per_student": round(sum(s.peak_kb + s.holder_kb for s in students) / len(students) / 1024, 1),
            "step_p50_s": per_step, "errors": errors[:5]}


# ---- the students' Unix users: created for the run, removed afterwards (also on failure) ----------
def create_users(prefix: str, count: int) -> list[pwd.struct_passwd]:
    users = []
    for i in range(1, count + 1):
        name = f"{prefix}{i}"
        try:
            pwd.getpwnam(name)
            raise SystemExit(f"class.py: user '{name}' already exists; pick another --user-prefix "
                             f"or remove it (userdel -r {name})")
        except KeyError:
            pass
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", "nslab class benchmark",
                        name], check=True, capture_output=True)
        users.append(pwd.getpwnam(name))
    return users


def remove_users(users: list[pwd.struct_passwd], exe: str) -> list[str]:
    problems = []
    for user in users:
        student = Student(0, "", user=user)
        run_command(student, [exe, "sandbox", "stop", "--force"], student_env(student, True))
        subprocess.run(["pkill", "-KILL", "-U", str(user.pw_uid)], capture_output=True)  # this run's own user only
        for _ in range(50):
            if subprocess.run(["pgrep", "-U", str(user.pw_uid)], capture_output=True).returncode != 0:
                break
            time.sleep(0.1)
        done = subprocess.run(["userdel", "--remove", user.pw_name], capture_output=True, text=True)
        if done.returncode not in (0, 12):  # 12: home could not be removed fully (reported below)
            problems.append(f"userdel {user.pw_name}: {done.stderr.strip()}")
    return problems


def netns_names() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--topology", default="figure1")
    parser.add_argument("--modes", default="root,rootless", help="root, rootless or both (default)")
    parser.add_argument("--user-prefix", default="nslabstud", help="the students' user names: PREFIX1, PREFIX2, ...")
    parser.add_argument("--lab-prefix", default="cls", help="lab names: PREFIXN as root, PREFIX for everyone rootless")
    parser.add_argument("--warm-sandboxes", action="store_true",
                        help="rootless: start each student's sandbox before timing (as a hub kernel does at login); "
                             "by default the first command of each student starts it, inside the timed sequence")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("class.py: run as root: it creates (and removes) one Unix user per student")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"root", "rootless"}:
        raise SystemExit("class.py: --modes takes root, rootless or root,rootless")
    exe = nslab_exe()
    result: dict = {}
    ours = lambda names: {n for n in names if n.startswith(args.lab_prefix)}  # noqa: E731 (others share the host)
    host_netns = ours(netns_names())
    with tempfile.TemporaryDirectory(prefix="nslab-class-") as tmp:
        if "root" in modes:
            state = Path(tmp, "root-state")
            state.mkdir()
            students = [Student(i, f"{args.lab_prefix}{i}", state_dir=state) for i in range(1, args.students + 1)]
            result["root"] = run_mode(students, exe, args.topology, rootless=False)
        if "rootless" in modes:
            users: list[pwd.struct_passwd] = []
            previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
            try:
                users = create_users(args.user_prefix, args.students)
                check_readable(users[0], exe)
                students = [Student(i + 1, args.lab_prefix, user=u) for i, u in enumerate(users)]
                if args.warm_sandboxes:
                    start_sandboxes(students, exe)
                result["rootless"] = run_mode(students, exe, args.topology, rootless=True)
                result["rootless"]["sandboxes_started_before_timing"] = args.warm_sandboxes
            finally:
                problems = remove_users(users, exe)
                signal.signal(signal.SIGTERM, previous)
            if problems:
                result["rootless"]["cleanup_problems"] = problems
    # the students' namespaces never show in the host's /run/netns (rootless) and none is left (root)
    result["host_netns_unchanged"] = ours(netns_names()) == host_netns
    if "root" in result and "rootless" in result:
        ratio = result["rootless"]["wall_s"] / max(result["root"]["wall_s"], 1e-9)
        result["ratio"] = {"rootless_vs_root_wall": round(ratio, 2)}
    result["targets"] = TARGETS
    result["machine"] = {"cpus": os.cpu_count(), "kernel": os.uname().release}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print_table(result)
    failed = any(result[m]["failures"] for m in modes) or not result["host_netns_unchanged"]
    return 1 if failed else 0


def check_readable(user: pwd.struct_passwd, exe: str) -> None:
    student = Student(0, "", user=user)
    status, _, err, _ = run_command(student, [exe, "--version"], student_env(student, True))
    if status != 0:
        raise SystemExit(f"class.py: a student cannot run {exe} ({err.strip()[-200:]}): the venv and the source "
                         "tree must be readable by every user (chmod -R o+rX, or a venv outside /root)")


def print_table(result: dict) -> None:
    print(f"{'mode':<9} {'students':>8} {'wall s':>8} {'p50 s':>7} {'p95 s':>7} {'failures':>8} {'RSS MB/student':>15}")
    for mode in ("root", "rootless"):
        if mode in result:
            r = result[mode]
            print(f"{mode:<9} {r['students']:>8} {r['wall_s']:>8} {r['p50_s']:>7} {r['p95_s']:>7} {r['failures']:>8} "
                  f"{r['rss_mb_per_student']:>15}")
            for err in r["errors"]:
                print(f"  {err}")
    if "ratio" in result:
        print(f"rootless / root wall time: {result['ratio']['rootless_vs_root_wall']} "
              f"(target <= {TARGETS['rootless_vs_root_wall']})")
    print(f"host's named namespaces unchanged: {result['host_netns_unchanged']}")


if __name__ == "__main__":
    sys.exit(main())
