"""Where things live, resolved from the package, never from the current directory.

papermill runs a notebook in the caller's directory and nbval in the notebook's, so
every path the workbook uses is worked out here.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_dir() -> Path:
    """The checkout holding ``data/``, ``notebooks/`` and ``reports/``.

    ``FOLLOWUP_HOME`` wins; otherwise the folder above the package (an editable
    install, as ``make`` sets up); otherwise the current directory.
    """
    home = os.environ.get("FOLLOWUP_HOME")
    if home:
        return Path(home).resolve()
    above = PACKAGE_DIR.parent
    if (above / "pyproject.toml").exists():
        return above
    return Path.cwd()


def data_dir() -> Path:
    return project_dir() / "data"


def demo_dir() -> Path:
    """The committed fictional practice, in the import format."""
    return data_dir() / "demo"


def notebooks_dir() -> Path:
    return project_dir() / "notebooks"


def reports_dir() -> Path:
    return project_dir() / "reports"


def templates_override_dir() -> Path:
    """A coach's own templates; a file here replaces the shipped one of that name."""
    return Path(os.environ.get("FOLLOWUP_TEMPLATES") or data_dir() / "templates")


def default_db_url() -> str:
    return os.environ.get("FOLLOWUP_DB") or f"sqlite:///{data_dir() / 'followup.db'}"


def store_url(url: str | None = None) -> str:
    """The store's SQLAlchemy URL: ``url`` (a URL or a plain SQLite file path) or
    the default."""
    url = url or default_db_url()
    return url if "://" in url else f"sqlite:///{Path(url).expanduser().resolve()}"
