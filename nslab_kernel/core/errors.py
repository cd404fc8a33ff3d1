"""nslab's own error hierarchy.

Every error that can reach a student is one of these: its message names the
problem and the fix in one line.  Each class also subclasses the builtin that
fits (``ValueError`` for bad input, ``PermissionError`` for missing
privileges...), so callers that only know the builtins still catch them.
"""

from __future__ import annotations


class NslabError(Exception):
    """Base of every error nslab raises on purpose.

    ``exit_code`` is what the command line returns: 2 for bad input (the user
    can fix it by changing what they typed or wrote), 1 for a failure of the
    system (a daemon, the kernel, the machine).
    """

    exit_code = 1

    def _render_traceback_(self) -> list[str]:
        """What IPython/Jupyter shows instead of a traceback: one line, the problem and the fix."""
        return [f"\x1b[1;31mnslab:\x1b[0m {self}"]


class InputError(NslabError, ValueError):
    """Bad input: a wrong topology, an unknown lab, a bad argument."""

    exit_code = 2


class TopologyError(InputError):
    """A topology file that does not validate.

    ``problems`` lists every problem found (each one line); the message is the
    first one, with a count of the others.
    """

    def __init__(self, problems: list[str]):
        self.problems = [" ".join(str(p).split()) for p in problems]  # each one line
        first = self.problems[0] if self.problems else "invalid topology"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''}: run 'nslab validate' to list all)" if more else ""
        super().__init__(first + suffix)


class LabNotFound(InputError):
    """The lab named is not up (no ownership record for it)."""


class NameClash(InputError):
    """A name nslab wants to create is already taken by something not its own."""


class PrivilegeError(NslabError, PermissionError):
    """The process lacks the privileges to create namespaces or talk to LXD."""


class BackendError(NslabError, RuntimeError):
    """The backend (kernel, LXD daemon) failed or is unavailable."""


class LabBusy(NslabError, RuntimeError):
    """Another process is changing the same lab right now."""


class RecordError(NslabError, RuntimeError):
    """An ownership record is unreadable; nslab deletes nothing it cannot prove is its own."""
