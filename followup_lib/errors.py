"""Turning known failures into one clear message for the user (no traceback)."""
from __future__ import annotations


def describe(exc: BaseException) -> tuple[str | None, int]:
    """(message, exit code) for an error the user can act on; (None, 1) otherwise."""
    from .faces.cli import UserError
    from .settings import SettingsError

    if isinstance(exc, UserError | SettingsError):
        return str(exc), 2
    name = type(exc).__name__
    if name == "ValidationError" and hasattr(exc, "problems"):
        n = len(exc.problems)
        head = f"nothing was imported; {n} problem{'s' if n != 1 else ''} to fix:"
        return head + "\n" + "\n".join(f"  {p}" for p in exc.problems), 2
    if name in ("StoreError", "ConflictError", "DraftError", "ReportError"):
        return str(exc), 1
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        return f"{exc.strerror}: {exc.filename}", 1
    return None, 1
