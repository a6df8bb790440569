"""What one report run gives back: where its files went, or what failed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ReportResult:
    coachee_id: str
    html: Path | None = None
    notebook: Path | None = None
    error: str | None = None
    pdf: Path | None = None


def one_line_error(exc: BaseException) -> str:
    """One line for a failed report: the kernel's exception as it was raised."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        evalue = " ".join(str(evalue or "").split())  # one line, whatever the message held
        return f"{ename}: {evalue}" if evalue else str(ename)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1] if text else exc!r}"
