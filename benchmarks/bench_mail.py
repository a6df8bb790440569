"""`followup mail` over 20,000 messages: messages per second and peak memory, from
an mbox file and straight from an IMAP server; and the precision and recall of what
it would log on the labelled corpus.

Goals (issue 23): at least 1,000 messages/s on this machine, peak memory ≤ 200 MB.
Each run is the command (``followup --db … mail SOURCE --coachee C001 --apply``)
in a child process of its own, against the demo store: its time from the command
line to its last line, and its own peak RSS (``resource.getrusage(RUSAGE_SELF)``,
read by the child as it ends). One message in twenty is from one of C001's
employers; each message carries a 20 kB attachment. The IMAP server is a Dovecot
started for the run (tests/imap_server.py, the tests' own), read over TLS, the
messages delivered into its Maildir.

    .venv/bin/python benchmarks/bench_mail.py [N]
"""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from _common import BIN

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' Dovecot, one copy

SENDERS = ["priya.natarajan@northwind.example", "marcus.hale@bluefin.example", "news@shop.example"]
RATE_GOAL, MEMORY_GOAL_MB = 1_000, 200

# The child: the command run by the CLI's own main, then its peak RSS written down.
CHILD = """
import json, resource, sys, time
start = time.perf_counter()
from followup_lib.faces.cli import main
code = main(sys.argv[2:])
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
open(sys.argv[1], "w").write(json.dumps({"code": code, "seconds": seconds, "cpu": cpu, "peak_mb": peak}))
"""


def messages(n: int) -> Iterator[bytes]:
    """``n`` messages as a mail client writes them: one built with ``email``, the
    others copies of its bytes with their own sender, day, number and Message-ID."""
    m = EmailMessage()
    m["From"] = SENDERS[2]
    m["To"] = "maya.lindqvist@example.com"
    m["Subject"] = "Message 987654321"
    m["Date"] = "Tue, 01 Oct 2026 10:00:00 +0000"
    m["Message-ID"] = "<bench-987654321@mail.example>"
    m.set_content("Body of message 987654321.\n" * 20)
    m.add_attachment(b"x" * 20_000, maintype="application", subtype="octet-stream", filename="a.bin")
    template = m.as_bytes()
    date_line = re.search(rb"(?m)^Date: .*$", template).group(0)
    days = [b"Date: " + format_datetime(dt.datetime(2026, 10, d, 10, tzinfo=dt.UTC)).encode() for d in range(1, 29)]
    for i in range(n):
        sender = SENDERS[0 if i % 40 == 0 else 1 if i % 40 == 1 else 2]
        yield (
            template.replace(b"987654321", str(i).encode())
            .replace(date_line, days[i % 28])
            .replace(SENDERS[2].encode(), sender.encode())
        )


def write_mbox(path: Path, n: int) -> None:
    box = mailbox.mbox(path)
    box.lock()
    try:
        for raw in messages(n):
            box.add(raw)
        box.flush()
    finally:
        box.unlock()
        box.close()


CORPUS = ROOT / "tests" / "fixtures" / "mail"


def corpus_scores() -> tuple[float, float, int]:
    """Precision and recall of what `followup mail` would log on the labelled corpus
    (tests/fixtures/mail: real clients' shapes, out-of-office replies, bounces, ATS,
    calendar invitations), against the demo practice's C001."""
    import csv

    from followup_lib.data.demo import load_demo
    from followup_lib.data.store import open_store
    from followup_lib.faces.mail import read_mail

    labels = {r["file"]: r["application_id"] for r in csv.DictReader(open(CORPUS / "labels.csv", encoding="utf-8"))}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'demo.db'}")
        load_demo(store, shift=False)
        result, _ = read_mail(store, "C001", CORPUS / "corpus")
        store.engine.dispose()
    logged = {p.where: p.application_id for p in result.proposals if p.writes}
    right = sum(1 for f, app in logged.items() if labels.get(f) == app)
    to_log = sum(1 for app in labels.values() if app)
    return right / max(1, len(logged)), right / max(1, to_log), len(labels)


def run_mail(tmp: Path, source: str, env: dict | None = None) -> dict:
    """``followup mail SOURCE --apply`` into a fresh demo store, in a child of its own."""
    db = str(tmp / f"demo-{time.monotonic_ns()}.db")
    subprocess.run([str(BIN / "followup"), "--db", db, "demo", "--no-shift"], check=True, stdout=subprocess.DEVNULL)
    out = tmp / "child.json"
    argv = ["--db", db, "mail", source, "--coachee", "C001", "--apply"]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CHILD, str(out), *argv],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    result = json.loads(out.read_text())
    result["wall"] = time.perf_counter() - start
    assert result["code"] == 0, result
    return result


def report(label: str, n: int, r: dict) -> bool:
    rate = n / r["seconds"]
    ok = rate >= RATE_GOAL and r["peak_mb"] <= MEMORY_GOAL_MB
    print(
        f"{label}: {n} messages in {r['seconds']:.1f} s ({r['wall']:.1f} s with Python's start; "
        f"{r['cpu']:.1f} s of CPU), {rate:,.0f} messages/s (goal ≥ {RATE_GOAL:,}; {n / r['cpu']:,.0f} per CPU "
        f"second, what a loaded machine still shows), peak RSS {r['peak_mb']:.0f} MB "
        f"(goal ≤ {MEMORY_GOAL_MB}) — {'met' if ok else 'NOT MET'}"
    )
    return ok


def main(n: int = 20_000) -> int:
    from imap_server import dovecot_path, start_dovecot

    precision, recall, size = corpus_scores()
    print(f"labelled corpus: {size} messages, precision {precision:.2f}, recall {recall:.2f}")
    ok = True
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        mbox = tmp / "big.mbox"
        write_mbox(mbox, n)
        print(f"mbox: {n} messages, {mbox.stat().st_size / 1e6:.0f} MB, one in twenty job mail")
        ok &= report("followup mail FILE.mbox --apply", n, run_mail(tmp, str(mbox)))
        mbox.unlink()

        if dovecot_path() is None:
            print("IMAP: not run, dovecot is not installed (Debian: apt-get install dovecot-imapd)")
            return 0 if ok else 1
        server = start_dovecot()
        try:
            start = time.perf_counter()
            server.deliver(messages(n), "Bench")
            server.index("Bench")  # as when the server has taken in the mail it received
            print(
                f"IMAP: {n} messages delivered into Dovecot's Maildir and indexed in {time.perf_counter() - start:.0f} s"
            )
            flags = server.flags("Bench")
            r = run_mail(tmp, server.url("Bench"), server.env())
            ok &= report("followup mail imaps://…/Bench --apply", n, r)
            assert server.flags("Bench") == flags, "the run changed flags on the server"
        finally:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
