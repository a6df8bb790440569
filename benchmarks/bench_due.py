"""`followup due` at scale. Prints the figures of one run.

1. `due --all` over a 500-coachee practice against `--coachee ONE` on the same
   store. Goal (issue 2): the ratio all/one is at most 2.0 — the rules work on
   whole columns, so the practice costs about what one coachee does.
2. `due --all --format json` over a 5,000-coachee practice (issue 12): peak memory
   (the child's maximum resident set) at most 300 MB, and time at most 1.5× the
   floor — a process that only reads every row of every table into pandas
   (`pd.read_sql`), measured in the same run, alternately.

The 5,000-coachee store takes about a minute to generate: it is kept in
benchmarks/output/cache/ (git-ignored) and reused by the next run.

The same 5,000-coachee figures are then measured on PostgreSQL, side by side
(the cached store copied once with `followup copy-store` into a database named
by FOLLOWUP_BENCH_PG, default a throwaway `followup_bench` on the local cluster;
skipped, saying why, when no server answers).

    python benchmarks/bench_due.py            # all
    python benchmarks/bench_due.py --big      # only the 5,000-coachee figures
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, compare

AS_OF = "2026-11-16"
CACHE = Path(__file__).resolve().parent / "output" / "cache"

# The floor: read every row of every table into pandas, nothing more.
FLOOR = """
import sys
import pandas as pd
import sqlalchemy as sa
from followup_lib.schema import TABLE_ORDER
engine = sa.create_engine(sys.argv[1])
with engine.connect() as conn:
    rows = sum(len(pd.read_sql(sa.text(f'SELECT * FROM "{name}"'), conn)) for name in TABLE_ORDER)
print(rows)
"""


def generated_store(coachees: int, seed: int = 1) -> str:
    """The URL of a SQLite store of a generated practice, made once and cached
    (keyed by the schema version, so a new migration makes a new one)."""
    from followup_lib.data.store import SCHEMA_VERSION

    path = CACHE / f"practice-{coachees}-seed{seed}-v{SCHEMA_VERSION}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        print(f"generating {coachees:,} coachees into {path} (once) …", flush=True)
        subprocess.run(
            [str(BIN / "followup"), "--db", f"sqlite:///{partial}", "demo", "--coachees", str(coachees)]
            + ["--seed", str(seed), "--as-of", AS_OF],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        partial.replace(path)
    return f"sqlite:///{path}"


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak resident MB) of one child process, its output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode})")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def all_against_one(coachees: int = 500) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "practice.db")
        followup = str(BIN / "followup")
        subprocess.run(
            [followup, "--db", db, "demo", "--coachees", str(coachees), "--seed", "1", "--as-of", AS_OF],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        base = [followup, "--db", db, "due", "--as-of", AS_OF, "--format", "json"]
        t_all, t_one = compare(base + ["--all"], base + ["--coachee", "G00001"])
        ratio = t_all / t_one
        print(
            f"due --all ({coachees} coachees): {t_all:.2f} s; due --coachee ONE: {t_one:.2f} s; "
            f"ratio {ratio:.2f} (goal <= 2.0)"
        )
        return ratio


def postgres_copy(url: str, coachees: int) -> str | None:
    """The practice at ``url`` copied into a fresh PostgreSQL database, or None
    (saying why) when no server answers."""
    import sqlalchemy as sa

    server = os.environ.get("FOLLOWUP_BENCH_PG", "postgresql+psycopg:///postgres?host=/var/run/postgresql")
    name = f"followup_bench_{coachees}"
    try:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 — any failure to reach the server: skip, saying why
        print(f"PostgreSQL: skipped ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        return None
    target = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    print(f"copying {coachees:,} coachees into PostgreSQL ({name}) …", flush=True)
    subprocess.run(
        [str(BIN / "followup"), "--db", url, "copy-store", "--to", target], check=True, stdout=subprocess.DEVNULL
    )
    return target


def big_practice(coachees: int = 5000, repeat: int = 3, engine: str = "SQLite", url: str | None = None):
    url = url or generated_store(coachees)
    due = [str(BIN / "followup"), "--db", url, "due", "--all", "--as-of", AS_OF, "--format", "json"]
    floor = [sys.executable, "-c", FLOOR, url]
    run_measured(floor), run_measured(due)  # warm the disk cache for both
    t_due, t_floor, peak, floor_peak = [], [], 0.0, 0.0
    for _ in range(repeat):
        seconds, mb = run_measured(due)
        t_due.append(seconds)
        peak = max(peak, mb)
        seconds, mb = run_measured(floor)
        t_floor.append(seconds)
        floor_peak = max(floor_peak, mb)
    d, f = statistics.median(t_due), statistics.median(t_floor)
    print(
        f"due --all --format json ({coachees:,} coachees, {engine}): {d:.2f} s, peak {peak:.0f} MB; "
        f"floor (read_sql of every table): {f:.2f} s, peak {floor_peak:.0f} MB; "
        f"time ratio {d / f:.2f} (goal <= 1.5), peak {peak:.0f} MB (goal <= 300)"
    )
    return d / f, peak


if __name__ == "__main__":
    if "--big" not in sys.argv:
        all_against_one()
    big_practice()
    pg = postgres_copy(generated_store(5000), 5000)
    if pg:
        big_practice(engine="PostgreSQL", url=pg)
