"""Two figures for the weekly report, each measured in one run:

1. one `followup report` against the floor — papermill executing a one-cell
   notebook plus `jupyter nbconvert --to html` on it, in this same environment.
   Goal: at most 1.0x.
2. `followup report --all` on 50 coachees with --jobs 2 against --jobs 1.
   Goal: at least 1.7x faster.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from _common import BIN, compare, timed

WEEK = "2026-11-16"


def one_cell_notebook(path: Path) -> None:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c1",
                "metadata": {},
                "outputs": [],
                "source": "print('floor')",
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


def report_vs_floor(tmp: Path, repeat: int) -> float:
    db = str(tmp / "demo.db")
    followup = str(BIN / "followup")
    subprocess.run([followup, "--db", db, "demo", "--no-shift"], check=True, stdout=subprocess.DEVNULL)
    nb = tmp / "one.ipynb"
    one_cell_notebook(nb)
    floor = [
        "bash",
        "-c",
        f"{BIN}/papermill -k python3 --no-progress-bar {nb} {tmp}/one-out.ipynb && "
        f"{BIN}/jupyter nbconvert --to html {tmp}/one-out.ipynb --output-dir {tmp}",
    ]
    ours = [followup, "--db", db, "report", "--coachee", "C001", "--week-ending", WEEK, "--out", str(tmp / "r")]
    t_ours, t_floor = compare(ours, floor, repeat=repeat)
    ratio = t_ours / t_floor
    print(
        f"one report: {t_ours:.2f} s; floor (papermill one cell + nbconvert): {t_floor:.2f} s; "
        f"ratio {ratio:.2f} (goal <= 1.0)"
    )
    return ratio


def all_parallel(tmp: Path, coachees: int) -> float:
    db = str(tmp / "practice.db")
    followup = str(BIN / "followup")
    subprocess.run(
        [followup, "--db", db, "demo", "--coachees", str(coachees), "--seed", "2", "--as-of", WEEK],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    base = [followup, "--db", db, "report", "--all", "--week-ending", WEEK, "--out", str(tmp / "all")]
    t1 = timed(base + ["--jobs", "1"])
    t2 = timed(base + ["--jobs", "2"])
    speedup = t1 / t2
    print(
        f"report --all ({coachees} coachees): --jobs 1 {t1:.1f} s; --jobs 2 {t2:.1f} s; "
        f"speed-up {speedup:.2f}x (goal >= 1.7)"
    )
    return speedup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--coachees", type=int, default=50)
    ap.add_argument("--skip-all", action="store_true", help="only the one-report figure")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report_vs_floor(Path(tmp), args.repeat)
        if not args.skip_all:
            all_parallel(Path(tmp), args.coachees)


if __name__ == "__main__":
    main()
