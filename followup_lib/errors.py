"""Every error the workbook raises on purpose, in one module that imports only the
standard library (the pattern of pandera's ``errors.py``).

Callers catch classes, never match names as strings. Each class carries the exit
code the CLI returns for it: 2 when the user's input or command is wrong (fix it and
try again), 1 when something else stopped the work. The CLI and the working session
catch ``FollowupError`` and show ``user_message()``; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Reason(Enum):
    """Why a command stopped, for scripts and tests that want more than a message."""

    USER = "user"
    SETTINGS = "settings"
    VALIDATION = "validation"
    STORE = "store"
    CONFLICT = "conflict"
    DRAFT = "draft"
    REPORT = "report"


class FollowupError(Exception):
    """The base of every error a person can act on; nothing half-done is left behind."""

    exit_code: int = 1
    reason: Reason = Reason.USER

    def user_message(self) -> str:
        return str(self)


class UserError(FollowupError, ValueError):
    """The command asked for something that cannot be done as asked (a coachee that
    does not exist, a missing option)."""

    exit_code = 2
    reason = Reason.USER


class SettingsError(FollowupError, ValueError):
    """The settings file is not valid: the message names the file, section and setting."""

    exit_code = 2
    reason = Reason.SETTINGS


class ValidationError(FollowupError, ValueError):
    """Rows that break the schema; ``problems`` lists each one (table, row, column,
    message). Nothing has been written."""

    exit_code = 2
    reason = Reason.VALIDATION

    def __init__(self, problems: Iterable[object]):
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))

    def user_message(self) -> str:
        n = len(self.problems)
        head = f"nothing was imported; {n} problem{'s' if n != 1 else ''} to fix:"
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class StoreError(FollowupError, RuntimeError):
    """A problem with the store itself (cannot open it, newer than this code…)."""

    reason = Reason.STORE


class ConflictError(FollowupError, RuntimeError):
    """Someone else changed the record since it was read; nothing was written."""

    reason = Reason.CONFLICT


class DraftError(FollowupError, ValueError):
    """A draft that cannot be written; the message names the missing fact."""

    reason = Reason.DRAFT


class ReportError(FollowupError, RuntimeError):
    """A weekly report that could not be made."""

    reason = Reason.REPORT


_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


def describe(exc: BaseException) -> tuple[str | None, int]:
    """(message, exit code) for an error the user can act on; (None, 1) otherwise."""
    if isinstance(exc, FollowupError):
        return exc.user_message(), exc.exit_code
    if isinstance(exc, _OS_ERRORS):
        return f"{exc.strerror}: {exc.filename}", 1
    return None, 1
