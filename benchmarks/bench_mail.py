"""`followup mail` over a 20,000-message mbox: peak memory and messages per second.

Goal (issue 14): bounded memory — the mailbox is read one message at a time, so
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


def main(n: int = 20_000) -> None:
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
