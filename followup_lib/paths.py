"""Where things live, resolved from the package, never from the current directory.

papermill runs a notebook in the caller's directory and nbval in the notebook's, so
every path the workbook uses is worked out here.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

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


# ------------------------------------------------------------------ safe names

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SLUG = 40


def safe_name(user_text: str, suffix: str = "") -> str:
    """A file or folder name made from user data (an id, a name): a readable slug
    plus a short hash of the exact text, so two different texts never share a name
    ("a/b", "a\\\\b" and "a_b" differ; "С001" and "Ж001" differ) and no text can
    name a path ("..", "/etc", "C001/" are all plain names here).

    The one function every writer uses to turn user data into a name.
    """
    text = str(user_text)
    slug = _UNSAFE.sub("-", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()).strip(".-")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug[:MAX_SLUG] or 'x'}-{digest}{suffix}"


def inside(folder: str | Path, name: str) -> Path:
    """``folder / name``, refusing anything that would land outside ``folder``."""
    base = Path(folder).resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise ValueError(f"{name!r} would be written outside {base}")
    return path


@contextmanager
def write_atomic_stream(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file written piece by piece under a temporary name in the same
    folder, renamed into place once whole (on leaving the ``with`` block without an
    error): a crash never leaves half a file under the real name, and the temporary
    file is removed whatever happens. The one atomic writer of the workbook."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` at once (``write_atomic_stream``)."""
    with write_atomic_stream(path) as f:
        f.write(data)
    return Path(path)
