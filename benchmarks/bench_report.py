"""Figures for the weekly report, each measured side by side in one run:

1. one `followup report` against the floor — papermill executing a one-cell
   notebook plus `jupyter nbconvert --to html` on it, in this same environment.
   Goal: at most 0.5x (issue 13). Also: the page's size (goal <= 1.5 MB). Both
   run papermill: ours through its engine on a kernel started ahead (issue 24).
2. `followup report --all` on 50 coachees with --jobs 2 against --jobs 1.
   Goal: at least 1.7x faster.
3. the same batch on a Dask LocalCluster of 2 single-threaded workers against
   --jobs 2 (issue 12). Goal: within 10%.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
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
        f"ratio {ratio:.2f} (goal <= 0.5)"
    )
    pages = sorted((tmp / "r").glob("*.html"))
    size = pages[0].stat().st_size if pages else 0
    print(f"report page: {size / 1e6:.2f} MB (goal <= 1.5 MB)")
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


RUN = (
    "import sys; from followup_lib.reporting.batch import run_reports; "
    "sys.exit(run_reports(sys.argv[1], sys.argv[2].split(','), sys.argv[3], sys.argv[4], "
    "jobs=int(sys.argv[5]), scheduler=sys.argv[6] or None))"
)


def dask_vs_jobs(tmp: Path, coachees: int, repeat: int) -> float:
    """The same batch through run_reports: a LocalCluster of 2 worker processes vs --jobs 2."""
    from distributed import LocalCluster

    db = tmp / "dask.db"
    followup = str(BIN / "followup")
    subprocess.run(
        [followup, "--db", str(db), "demo", "--coachees", str(coachees), "--seed", "3", "--as-of", WEEK],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    url = f"sqlite:///{db}"
    from followup_lib.data.store import open_store

    store = open_store(url, create=False)
    ids = ",".join(store.coachee_ids())
    store.engine.dispose()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        # The cluster is up before timing: a practice's cluster runs for many batches.
        base = [sys.executable, "-c", RUN, url, ids, WEEK]
        t_jobs, t_dask = compare(
            base + [str(tmp / "jobs"), "2", ""],
            base + [str(tmp / "dask"), "1", cluster.scheduler_address],
            repeat=repeat,
        )
    ratio = t_dask / t_jobs
    print(
        f"report --all ({coachees} coachees): --jobs 2 {t_jobs:.1f} s; Dask LocalCluster (2 workers) "
        f"{t_dask:.1f} s; ratio {ratio:.2f} (goal within 10%: 0.90-1.10)"
    )
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--coachees", type=int, default=50)
    ap.add_argument("--skip-all", action="store_true", help="only the one-report figures")
    ap.add_argument("--dask-coachees", type=int, default=12)
    ap.add_argument("--skip-dask", action="store_true", help="no Dask figure")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report_vs_floor(Path(tmp), args.repeat)
        if not args.skip_all:
            all_parallel(Path(tmp), args.coachees)
        if not args.skip_dask:
            started = time.perf_counter()
            dask_vs_jobs(Path(tmp), args.dask_coachees, max(1, args.repeat - 2))
            print(f"(Dask figure measured in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
