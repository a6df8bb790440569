"""Shared helpers: run a command several times, alternating, and keep the median."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def compare(a: list[str], b: list[str], repeat: int = 5, **kw) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, run alternately so machine noise hits both."""
    ta, tb = [], []
    timed(a, **kw), timed(b, **kw)  # warm the disk cache for both
    for _ in range(repeat):
        ta.append(timed(a, **kw))
        tb.append(timed(b, **kw))
    return statistics.median(ta), statistics.median(tb)
