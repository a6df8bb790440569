"""`followup due --all` over a 500-coachee practice against `--coachee ONE` on the same store.

Goal (issue 2): the ratio all/one is at most 2.0 — the rules work on whole columns,
so the practice costs about what one coachee does. Prints the figures of one run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import BIN, compare

AS_OF = "2026-11-16"


def main(coachees: int = 500) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "practice.db")
        followup = str(BIN / "followup")
        import subprocess

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


if __name__ == "__main__":
    main()
