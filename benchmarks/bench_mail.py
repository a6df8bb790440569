"""`followup mail` over a 20,000-message mbox: peak memory and messages per second.

Also prints the precision and recall of what it would log on the labelled corpus
(issue 23). Goal (issue 14): bounded memory — the mailbox is read one message at a time, so
the peak stays near that of a small mailbox whatever the file's size. Runs the
command in a child process (its own peak RSS, from ``resource``) against the demo
store; one in twenty messages is from one of C001's employers, each message
carries a 20 kB attachment.
"""

from __future__ import annotations

import mailbox
import resource
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from _common import BIN

SENDERS = ["priya.natarajan@northwind.example", "marcus.hale@bluefin.example", "news@shop.example"]


def write_mbox(path: Path, n: int) -> None:
    box = mailbox.mbox(path)
    box.lock()
    try:
        for i in range(n):
            m = EmailMessage()
            m["From"] = SENDERS[0 if i % 40 == 0 else 1 if i % 40 == 1 else 2]
            m["To"] = "maya.lindqvist@example.com"
            m["Subject"] = f"Message {i}"
            m["Date"] = f"Tue, {1 + i % 28:02} Oct 2026 10:00:00 +0000"
            m["Message-ID"] = f"<bench-{i}@mail.example>"
            m.set_content(f"Body of message {i}.\n" * 20)
            m.add_attachment(b"x" * 20_000, maintype="application", subtype="octet-stream", filename="a.bin")
            box.add(m)
        box.flush()
    finally:
        box.unlock()
        box.close()


CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mail"


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


def main(n: int = 20_000) -> None:
    precision, recall, size = corpus_scores()
    print(f"labelled corpus: {size} messages, precision {precision:.2f}, recall {recall:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        db, mbox = str(Path(tmp) / "demo.db"), Path(tmp) / "big.mbox"
        followup = str(BIN / "followup")
        subprocess.run([followup, "--db", db, "demo", "--no-shift"], check=True, stdout=subprocess.DEVNULL)
        write_mbox(mbox, n)
        start = time.perf_counter()
        subprocess.run(
            [followup, "--db", db, "mail", str(mbox), "--coachee", "C001", "--apply"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        size_mb = mbox.stat().st_size / 1e6
    print(f"mbox: {n} messages, {size_mb:.0f} MB")
    print(f"followup mail --apply: {seconds:.1f} s, {n / seconds:,.0f} messages/s, peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
