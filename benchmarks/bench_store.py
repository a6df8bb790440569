"""`followup due --coachee ONE` on a big practice against a small one, on SQLite and
on PostgreSQL side by side, in one run.

Goal (issue 12): on a 5,000-coachee store it costs at most 1.1× what it costs on a
50-coachee store — the indexes of migration 5 let one coachee's rows be read
without scanning everyone's. The PostgreSQL stores are copies of the SQLite ones
(``copy_store``: the same rows), in throwaway databases on the server named by
FOLLOWUP_TEST_PG (default: the local socket), dropped at the end; without a
server the PostgreSQL half is skipped and says why.

    .venv/bin/python benchmarks/bench_store.py                 # 5,000 vs 50 coachees
    .venv/bin/python benchmarks/bench_store.py --coachees 500  # a quicker run
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import tempfile
from pathlib import Path

from _common import BIN, compare

AS_OF = "2026-11-16"
ONE = "G00001"
PG_SERVER = os.environ.get("FOLLOWUP_TEST_PG", "postgresql+psycopg:///postgres?host=/var/run/postgresql")


def make_sqlite(folder: Path, coachees: int) -> str:
    url = f"sqlite:///{folder / f'practice-{coachees}.db'}"
    subprocess.run(
        [str(BIN / "followup"), "--db", url, "demo", "--coachees", str(coachees), "--seed", "1", "--as-of", AS_OF],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return url


class Postgres:
    """Throwaway databases on the server, each filled by copying a SQLite store."""

    def __init__(self, server_url: str):
        import sqlalchemy as sa

        self.sa = sa
        self.admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self.made: list[str] = []
        with self.admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def copy_of(self, sqlite_url: str) -> str:
        from followup_lib.data.copy import copy_store
        from followup_lib.data.store import open_store

        name = f"followup_bench_{os.getpid()}_{secrets.token_hex(3)}"
        with self.admin.connect() as conn:
            conn.execute(self.sa.text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        url = self.admin.url.set(database=name).render_as_string(hide_password=False)
        source = open_store(sqlite_url)
        try:
            copy_store(source, url)
        finally:
            source.engine.dispose()
        return url

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(self.sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def due_one(url: str) -> list[str]:
    return [str(BIN / "followup"), "--db", url, "due", "--coachee", ONE, "--as-of", AS_OF, "--format", "json"]


def main(coachees: int = 5000, small: int = 50, repeat: int = 5) -> dict[str, float]:
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = {"sqlite": (make_sqlite(folder, small), make_sqlite(folder, coachees))}
        pg = None
        try:
            pg = Postgres(PG_SERVER)
        except Exception as exc:  # noqa: BLE001 — any reason there is no server to measure on
            print(f"PostgreSQL skipped: no server at {PG_SERVER} ({str(exc).strip().splitlines()[0]})")
        try:
            if pg is not None:
                stores["postgresql"] = tuple(pg.copy_of(url) for url in stores["sqlite"])
            seconds = {}
            for engine, (small_url, big_url) in stores.items():
                t_small, t_big = compare(due_one(small_url), due_one(big_url), repeat=repeat)
                seconds[engine] = (t_small, t_big)
                ratios[engine] = t_big / t_small
                print(
                    f"{engine:>10}: due --coachee ONE on {coachees:,} coachees {t_big:.2f} s, "
                    f"on {small:,} coachees {t_small:.2f} s; ratio {ratios[engine]:.2f} (goal <= 1.1)"
                )
            if "postgresql" in seconds:
                side = seconds["postgresql"][1] / seconds["sqlite"][1]
                print(f"PostgreSQL / SQLite on {coachees:,} coachees: {side:.2f}")
        finally:
            if pg is not None:
                pg.drop_all()
    return ratios


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coachees", type=int, default=5000, help="coachees of the big store (default 5000)")
    parser.add_argument("--small", type=int, default=50, help="coachees of the small store (default 50)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command (default 5)")
    args = parser.parse_args()
    main(args.coachees, args.small, args.repeat)
