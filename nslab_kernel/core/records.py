"""Ownership records: what nslab created, written *before* each thing is created.

One journal per lab, ``<state dir>/labs/<lab>.jsonl``: a header line (the lab,
its backend, its topology, a random instance id), then one line per resource
with what proves it is nslab's (a netns inode, a container's id key).  ``down``
and ``cleanup`` read the journal and remove exactly those things, also after the
process that wrote it was killed.  A line is appended with a single ``write``
on an ``O_APPEND`` file, so a killed process leaves at most a torn last line,
which names nothing that was created yet (creation comes after the write).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import userdirs
from .errors import LabBusy, LabNotFound, PrivilegeError, RecordError
from .i18n import _

DEFAULT_STATE_DIR = "/var/lib/nslab"
RECORD, LOCK, SIM_STATE, TEMPORARY = ".jsonl", ".lock", ".sim.json", ".tmp"  # the files of the state dir
INSTANCE_TEXT = re.compile(r'"instance": "([0-9a-f]{32})"')


def state_dir() -> Path:
    """$NSLAB_STATE_DIR; else /var/lib/nslab for root, and a folder of one's own for other users and for
    labs in a rootless sandbox (see :mod:`.userdirs`)."""
    if os.environ.get(userdirs.ENV_STATE):
        return Path(os.environ[userdirs.ENV_STATE])
    if os.geteuid() == 0 and not userdirs.rootless_wanted():
        return Path(DEFAULT_STATE_DIR)
    try:
        return userdirs.user_state_dir()
    except PermissionError as exc:
        raise PrivilegeError(exc.strerror) from None


def labs_dir() -> Path:
    return state_dir() / "labs"


def ledger_id() -> str:
    """Which ledger this is (its state dir, absolute): resources kept outside the ledger's folder
    (LXD containers) carry it, so that a cleanup only ever looks at its own ledger's resources."""
    return str(state_dir().absolute())


@dataclass
class Record:
    """A lab's journal, read into memory."""

    lab: str
    path: Path
    header: dict[str, Any]
    resources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return str(self.header.get("backend", "netns"))

    @property
    def instance(self) -> str:
        return str(self.header["instance"])

    @property
    def topology(self) -> dict[str, Any]:
        return dict(self.header["topology"])

    @property
    def topology_as_written(self) -> bool:
        """The topology is exactly what nslab validated and wrote (its fingerprint matches)."""
        return self.header.get("topology_sha256") == fingerprint(self.header["topology"])

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r.get("t") == kind]

    def append(self, **entry: Any) -> None:
        """Add a resource line (call this before creating the resource)."""
        line = json.dumps(entry, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            os.write(fd, line.encode())
            if entry.get("durable"):
                os.fsync(fd)
        finally:
            os.close(fd)
        self.resources.append(entry)

    def append_many(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        data = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
        self.resources.extend(entries)


def _ensure_dir() -> Path:
    folder = labs_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise PrivilegeError(_("cannot write nslab's records in {folder}: set NSLAB_STATE_DIR to a folder of "
                               "yours, or run as root (sudo)").format(folder=folder)) from None
    return folder


def record_path(lab: str) -> Path:
    return labs_dir() / f"{lab}{RECORD}"


def lock_path(lab: str) -> Path:
    return labs_dir() / f"{lab}{LOCK}"


def sim_state_path(lab: str) -> Path:
    """The simulated network of a lab (backend 'sim'), kept next to its record."""
    return labs_dir() / f"{lab}{SIM_STATE}"


def write_atomically(path: Path, text: str, durable: bool = False) -> None:
    """Write ``path`` whole or not at all: a temporary file naming its writer, then a rename."""
    tmp = temporary_path(path)
    with open(tmp, "w") as fh:
        fh.write(text)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def fingerprint(topology: dict[str, Any]) -> str:
    """The SHA-256 of a topology's canonical JSON: the header keeps it, so that a record whose topology is
    still what nslab validated and wrote is known as such (and one edited since, is not)."""
    return hashlib.sha256(json.dumps(topology, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def create(lab: str, backend: str, topology: dict[str, Any], backend_options: dict[str, Any] | None = None) -> Record:
    _ensure_dir()
    path = record_path(lab)
    header = {"t": "lab", "lab": lab, "backend": backend, "topology": topology,
              "topology_sha256": fingerprint(topology),
              "backend_options": backend_options or {},
              "instance": uuid.uuid4().hex, "created": time.time(), "pid": os.getpid(), "version": 1}
    write_atomically(path, json.dumps(header, sort_keys=True) + "\n", durable=True)
    return Record(lab, path, header, [])


def read(lab: str) -> Record:
    path = record_path(lab)
    if not path.exists():
        raise LabNotFound(_("no lab named '{lab}' is up (no record in {folder}); see 'nslab status' for the labs "
                            "that are").format(lab=lab, folder=labs_dir()))
    return read_path(path)


def read_path(path: Path) -> Record:
    try:
        raw = path.read_bytes()
    except PermissionError:
        raise PrivilegeError(f"cannot read {path}: run as root (sudo)") from None
    entries = []
    # Whatever follows the last newline is a write cut short by a kill: it names nothing that
    # was created (creation comes after the write), so it is ignored.
    for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict) or "t" not in entry:
                raise ValueError("not a record entry")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordError(f"the record {path} is corrupt at line {number} ({exc}); nslab deletes nothing it "
                              "cannot prove is its own: inspect it, remove what it lists by hand, then delete it") from None
        entries.append(entry)
    if not entries or entries[0].get("t") != "lab" or not {"lab", "instance", "topology"} <= entries[0].keys():
        raise RecordError(f"the record {path} has no valid header; nslab deletes nothing it cannot prove is "
                          "its own: inspect it, remove what it lists by hand, then delete it")
    header = entries[0]
    return Record(str(header["lab"]), path, header, entries[1:])


def instances_in(path: Path) -> set[str]:
    """The instance ids a record names, read as text: also from a record too corrupt to parse, so
    that nothing it may name (a container tagged with that instance) is taken for an orphan."""
    return set(INSTANCE_TEXT.findall(path.read_text(errors="replace")))


def temporary_path(final: Path) -> Path:
    """Where a file of the state dir is written before its atomic rename: names its writer's PID."""
    return final.with_name(f".{final.stem}.{os.getpid()}{TEMPORARY}")


def remove_stale_temporaries() -> list[Path]:
    """Temporary files of nslab's own state dir whose writer died before renaming them (a kill)."""
    removed = []
    folder = labs_dir()
    for tmp in folder.glob(f".*{TEMPORARY}") if folder.is_dir() else []:
        try:
            pid = int(tmp.name.rsplit(".", 2)[-2])
            os.kill(pid, 0)
            continue  # its writer is alive
        except ProcessLookupError:
            pass
        except (ValueError, IndexError, PermissionError):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def all_records() -> list[Path]:
    folder = labs_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{RECORD}"))


def lab_names() -> list[str]:
    return [p.name[: -len(RECORD)] for p in all_records()]


def remove(record: Record) -> None:
    try:
        record.path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def lock(lab: str, wait: float = 30.0) -> Iterator[None]:
    """Hold the lab's lock: two changes of one lab never interleave.

    A second ``up`` of the same lab waits up to ``wait`` seconds, then fails
    cleanly with :class:`LabBusy`; it never builds a half-mixed lab.
    """
    _ensure_dir()
    path = lock_path(lab)
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            if time.monotonic() >= deadline:
                raise LabBusy(f"lab '{lab}' is being changed by another nslab process; wait for it to "
                              "finish and try again") from None
            time.sleep(0.05)
            continue
        # The holder before us may have removed the file: lock the one at the path.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        try:
            if not record_path(lab).exists():
                path.unlink(missing_ok=True)  # the lab is gone: leave no lock file behind
        finally:
            os.close(fd)


def remove_unused_locks() -> None:
    """Remove the lock files of labs whose record is gone, unless someone holds one right now."""
    folder = labs_dir()
    for path in sorted(folder.glob(f"*{LOCK}")) if folder.is_dir() else []:
        lab = path.name[: -len(LOCK)]
        if not record_path(lab).exists():
            try:
                with lock(lab, wait=0):
                    pass  # leaving the lock of a lab without a record removes the file
            except LabBusy:
                pass  # someone is bringing it up right now
