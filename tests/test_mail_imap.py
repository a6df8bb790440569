"""`followup mail imap://USER@HOST[:PORT]/FOLDER`: the client's mail read straight
from a real IMAP server — Debian's Dovecot, started by the test in a folder of its
own (tests/imap_server.py) with a self-signed certificate the client trusts through
FOLLOWUP_IMAP_CAFILE — read-only, over TLS, and matched exactly as the same
messages in an mbox file are.

The messages are the labelled corpus (tests/fixtures/mail: real clients' shapes).
Outside CI these tests skip when dovecot is not installed; with CI=true they fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import mailbox
import os
import re
import secrets
import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from followup_lib.data import imap
from followup_lib.data.mailbox import open_mailbox
from followup_lib.errors import UserError
from followup_lib.faces.mail import read_mail

from builders import FIXTURES, data_contents, db_path
from imap_server import dovecot_path, start_dovecot

CORPUS = FIXTURES / "mail"
FILES = sorted((CORPUS / "corpus").glob("*.eml"))
_folders = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def dovecot():
    if dovecot_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dovecot is not installed: .ci/run installs dovecot-imapd")
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    server = start_dovecot()
    yield server
    server.stop()


@pytest.fixture
def imap_env(dovecot, monkeypatch):
    """The password and the certificate's trust, as a user would set them."""
    for k, v in dovecot.env().items():
        monkeypatch.setenv(k, v)
    return dovecot.env()


def corpus_bytes() -> list[bytes]:
    return [p.read_bytes() for p in FILES]


def new_folder(server, messages: list[bytes], seen: set[int] = frozenset()) -> str:
    """A folder of its own for one test, holding ``messages``."""
    name = f"Test{next(_folders)}"
    server.append(messages, name, seen)
    return name


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    for raw in messages:
        box.add(email.message_from_bytes(raw, policy=email.policy.compat32))
    box.flush()
    box.close()
    return path


def seen_as(p) -> tuple:
    """A proposal as the user sees and the store gets it, wherever it was read."""
    return (p.status, p.what, p.on, p.subject, p.why, p.application_id, p.company, tuple(p.candidates), p.row,
            p.sender, p.kind, p.ref, p.draft.action_ids if p.draft else None)  # fmt: skip


def mail(followup, store, url, *extra, env=None):
    return followup("mail", url, "--coachee", "C001", *extra, db=store.url, env=env)


def messages_rows(store) -> list[tuple]:
    conn = sqlite3.connect(db_path(store))
    try:
        return conn.execute("SELECT * FROM messages ORDER BY message_id").fetchall()
    finally:
        conn.close()


# ------------------------------------------------------------------ the same as a file


@pytest.mark.parametrize("starttls", [False, True], ids=["imaps", "starttls"])
def test_the_server_gives_the_proposals_an_mbox_gives(dovecot, imap_env, demo_store, tmp_path, starttls):
    raws = corpus_bytes()
    folder = new_folder(dovecot, raws)
    from_file, file_summary = read_mail(demo_store, "C001", write_mbox(tmp_path / "corpus.mbox", raws))
    from_server, server_summary = read_mail(demo_store, "C001", dovecot.url(folder, starttls=starttls))
    assert [seen_as(p) for p in from_server.proposals] == [seen_as(p) for p in from_file.proposals]
    assert from_server.counts() == from_file.counts() and from_server.ignored == from_file.ignored
    assert server_summary.startswith(f"read {len(raws)} messages from the IMAP folder {folder} of maya on 127.0.0.1")
    assert file_summary.split(";", 1)[1] == server_summary.split(";", 1)[1]
    # And the labelled corpus comes out as a careful person would log it.
    labels = {r["file"]: r["application_id"] for r in csv.DictReader(open(CORPUS / "labels.csv", encoding="utf-8"))}
    uid_file = {f"{folder} UID {n}": p.name for n, p in enumerate(FILES, 1)}
    logged = {uid_file[p.where]: p.application_id for p in from_server.proposals if p.writes}
    assert logged == {f: a for f, a in labels.items() if a}


def test_each_record_is_the_one_the_mbox_gives(dovecot, imap_env, tmp_path):
    raws = corpus_bytes()
    folder = new_folder(dovecot, raws)
    from_file = list(open_mailbox(write_mbox(tmp_path / "corpus.mbox", raws)).records())
    from_server = list(imap.open_imap(dovecot.url(folder)).records())
    assert len(from_server) == len(raws)
    assert [{**r, "where": ""} for r in from_server] == [{**r, "where": ""} for r in from_file]


def test_small_batches_read_the_same_records(dovecot, imap_env, monkeypatch):
    folder = new_folder(dovecot, corpus_bytes())
    whole = list(imap.open_imap(dovecot.url(folder)).records())
    monkeypatch.setattr(imap, "HEADER_BATCH", 4)
    monkeypatch.setattr(imap, "BODY_BATCH", 3)
    sessions = len(dovecot.sessions())
    box = imap.open_imap(dovecot.url(folder))
    keep = [r["key"] for r in whole][::2]
    batched = list(box.records(keep=lambda r: r["key"] in keep))
    assert batched == [r for r in whole if r["key"] in keep] and len(batched) == len(keep) > 3
    assert box.stats.read == len(FILES) and box.stats.kept == len(keep) and box.stats.let_go == len(FILES) - len(keep)
    assert box.closed
    # Every message's headers were fetched, only the kept ones whole; nothing deleted.
    fetched = dovecot.session_after(sessions)
    assert (fetched["hdr_count"], fetched["body_count"]) == (len(FILES), len(keep)), fetched
    assert fetched["deleted"] == fetched["expunged"] == 0


def test_a_message_over_the_size_limit_is_named_and_never_fetched(dovecot, imap_env, monkeypatch):
    raws = corpus_bytes()[:3]
    folder = new_folder(dovecot, raws)
    monkeypatch.setattr(imap, "MAX_MESSAGE_BYTES", len(raws[1]) - 1)
    monkeypatch.setattr(imap, "BODY_BATCH_BYTES", 1)  # one message per FETCH: each still read
    small = {i for i, r in enumerate(raws) if len(r) < len(raws[1])}
    sessions = len(dovecot.sessions())
    box = imap.open_imap(dovecot.url(folder))
    got = list(box.records())
    assert len(got) == len(small) and box.stats.skipped == {imap.TOO_LARGE: 3 - len(small)}
    assert f"skipped {folder} UID 2: {imap.TOO_LARGE}" in box.stats.skipped_lines()
    assert dovecot.session_after(sessions)["body_count"] == len(small)


# ------------------------------------------------------------------ the command


def half_a_month_earlier() -> list[bytes]:
    """The corpus (all of 17 Nov), every other message dated (and received) 20 Oct."""
    return [
        re.sub(rb"(?m)^Date: [^\r\n]+", b"Date: Tue, 20 Oct 2026 10:00:00 +0000", r, count=1) if i % 2 else r
        for i, r in enumerate(corpus_bytes())
    ]


def test_since_on_a_mailbox_file_lets_the_older_messages_go(demo_store, tmp_path):
    raws = half_a_month_earlier()
    mbox = write_mbox(tmp_path / "half.mbox", raws)
    everything, _ = read_mail(demo_store, "C001", mbox)
    result, summary = read_mail(demo_store, "C001", mbox, since=dt.date(2026, 11, 1))
    assert summary.startswith(f"read {len(raws)} messages from the mbox")
    assert any(p.on < dt.date(2026, 11, 1) for p in everything.proposals)
    later = [seen_as(p) for p in everything.proposals if p.on >= dt.date(2026, 11, 1)]
    assert result.proposals and [seen_as(p) for p in result.proposals] == later


def test_apply_logs_once_and_the_server_is_left_as_it_was(dovecot, followup, demo_store):
    raws = corpus_bytes()
    folder = new_folder(dovecot, raws, seen={0, 3, 5})
    flags = dovecot.flags(folder)
    assert sum("\\Seen" in f for f in flags.values()) == 3
    before = messages_rows(demo_store)

    first = mail(followup, demo_store, dovecot.url(folder), "--apply", env=dovecot.env())
    assert first.returncode == 0, first.stderr
    to_log = sum(1 for r in csv.DictReader(open(CORPUS / "labels.csv", encoding="utf-8")) if r["application_id"])
    after = messages_rows(demo_store)
    assert len(after) > len(before)
    assert f"read {len(raws)} messages from the IMAP folder {folder}" in first.stdout
    logged = first.stdout.splitlines()[-1]
    assert logged.startswith("logged ") and int(logged.split()[1]) >= to_log - 1, logged

    second = mail(followup, demo_store, dovecot.url(folder), "--apply", env=dovecot.env())
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[-1] == "logged 0 messages and 0 sent drafts"
    assert messages_rows(demo_store) == after
    # EXAMINE and BODY.PEEK: not one flag changed, nothing gone.
    assert dovecot.flags(folder) == flags


def test_since_reads_only_what_the_server_received_from_that_day(dovecot, imap_env, followup, demo_store):
    raws = half_a_month_earlier()
    folder = new_folder(dovecot, raws)
    later = sum(1 for r in raws if imap.header_record(r, "x")["date"] >= dt.date(2026, 11, 1))
    assert later == (len(raws) + 1) // 2
    ran = mail(followup, demo_store, dovecot.url(folder), "--since", "2026-11-01", env=dovecot.env())
    assert ran.returncode == 0, ran.stderr
    assert f"read {later} messages from the IMAP folder {folder}" in ran.stdout
    everything, _ = read_mail(demo_store, "C001", dovecot.url(folder))
    assert any(p.on < dt.date(2026, 11, 1) for p in everything.proposals)  # there was something before the day
    result, _ = read_mail(demo_store, "C001", dovecot.url(folder), since=dt.date(2026, 11, 1))
    assert result.proposals and all(p.on >= dt.date(2026, 11, 1) for p in result.proposals)


def test_an_untrusted_certificate_is_refused(dovecot, followup, demo_store):
    env = {"FOLLOWUP_IMAP_PASSWORD": dovecot.password, "FOLLOWUP_IMAP_CAFILE": ""}
    for url in (dovecot.url(), dovecot.url(starttls=True)):
        ran = mail(followup, demo_store, url, env=env)
        assert ran.returncode == 1
        assert "certificate is not trusted" in ran.stderr and "FOLLOWUP_IMAP_CAFILE" in ran.stderr
        assert dovecot.password not in ran.stderr + ran.stdout


def test_a_folder_that_is_not_there_is_named(dovecot, followup, demo_store):
    ran = mail(followup, demo_store, dovecot.url("Nowhere"), env=dovecot.env())
    assert ran.returncode == 2
    assert "no folder 'Nowhere' for maya on 127.0.0.1" in ran.stderr and "INBOX" in ran.stderr


# ------------------------------------------------------------------ refused before any server is asked


@pytest.mark.parametrize(
    "url, said",
    [
        ("imap://", "names no server"),
        ("imap://imap.example.com/INBOX", "names no user"),
        ("imap://maya@imap.example.com:99999/INBOX", "port is not a number"),
        ("imap://maya@imap.example.com:port/INBOX", "port is not a number"),
        ("imap://maya:hunter2-secret@imap.example.com/INBOX", "a password does not belong in the IMAP address"),
        ("imap://maya@imap.example.com/INBOX?x=1", "holds more than a folder"),
        ("pop3://maya@mail.example.com", "pop3:// is not read"),
    ],
)
def test_a_malformed_address_is_refused_with_exit_2(followup, demo_store, url, said):
    ran = mail(followup, demo_store, url, env={"FOLLOWUP_IMAP_PASSWORD": "x"})
    assert ran.returncode == 2, ran.stderr
    assert said in ran.stderr and "Traceback" not in ran.stderr
    assert "hunter2-secret" not in ran.stderr + ran.stdout


def test_parsed_addresses():
    u = imap.parse_imap_url("imap://maya%40example.com@IMAP.example.com/Sent%20Items")
    assert (u.user, u.host, u.port, u.folder, u.implicit_tls) == ("maya@example.com", "imap.example.com", 993,
                                                                   "Sent Items", True)  # fmt: skip
    assert imap.parse_imap_url("imap://maya@h:143/").implicit_tls is False
    assert imap.parse_imap_url("imap://maya@h:143/").folder == "INBOX"
    assert imap.parse_imap_url("imaps://maya@h:1993/INBOX").implicit_tls is True
    assert imap.parse_imap_url("imap://maya@[::1]:143/INBOX").loopback
    assert not imap.parse_imap_url("imap://maya@10.0.0.1:143/INBOX").loopback


def test_no_password_and_no_terminal_is_refused(monkeypatch):
    monkeypatch.delenv("FOLLOWUP_IMAP_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    with pytest.raises(UserError, match="set FOLLOWUP_IMAP_PASSWORD"):
        imap.open_imap("imaps://maya@127.0.0.1:1/INBOX")


def test_connection_refused_is_a_failure_named(followup, demo_store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once it is closed
    ran = mail(followup, demo_store, f"imaps://maya@127.0.0.1:{port}/INBOX", env={"FOLLOWUP_IMAP_PASSWORD": "x"})
    assert ran.returncode == 1
    assert ran.stderr.strip() == (
        f"followup mail: could not connect to the IMAP server 127.0.0.1:{port}: connection refused "
        "(is it the IMAP port?)"
    )


class NoTLSServer:
    """A server on loopback that offers no STARTTLS and answers every LOGIN with NO:
    it records what the client sent, to show the password is never sent in clear."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(20)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as f:
                conn.sendall(b"* OK IMAP4rev1 ready\r\n")
                for line in f:
                    self.received.append(line)
                    tag, _, command = line.decode().partition(" ")
                    if command.upper().startswith("CAPABILITY"):
                        conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag.encode() + b" OK done\r\n")
                    elif command.upper().startswith("LOGOUT"):
                        conn.sendall(b"* BYE\r\n" + tag.encode() + b" OK bye\r\n")
                        break
                    else:
                        conn.sendall(tag.encode() + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in the thread
        except OSError:
            pass
        self.sock.close()
        self.thread.join(10)


def test_a_server_without_tls_never_gets_the_password(followup, demo_store):
    server = NoTLSServer()
    secret = "never-in-clear-" + secrets.token_hex(6)
    try:
        url = f"imap://maya@127.0.0.1:{server.port}/INBOX"
        ran = mail(followup, demo_store, url, env={"FOLLOWUP_IMAP_PASSWORD": secret})
        assert ran.returncode == 1
        assert "offers no TLS (STARTTLS) on this port: the password would cross the network in clear" in ran.stderr
        assert not any(secret.encode() in line or b"LOGIN" in line.upper() for line in server.received)
        # On this machine, and only when said so, a server without TLS is used.
        allowed = {"FOLLOWUP_IMAP_PASSWORD": secret, "FOLLOWUP_IMAP_ALLOW_PLAINTEXT_LOOPBACK": "1"}
        ran = mail(followup, demo_store, url, env=allowed)
        assert ran.returncode == 1 and "login failed for maya on 127.0.0.1" in ran.stderr
        assert any(b"LOGIN" in line.upper() for line in server.received)
        assert secret not in ran.stderr + ran.stdout
    finally:
        server.close()


def test_a_wrong_password_is_refused_without_showing_it(dovecot, followup, demo_store):
    # Last of the module: Dovecot slows the next logins from an address that failed one.
    wrong = "wrong-" + secrets.token_hex(8)
    before = data_contents(demo_store)
    ran = mail(followup, demo_store, dovecot.url(), env={**dovecot.env(), "FOLLOWUP_IMAP_PASSWORD": wrong})
    assert ran.returncode == 1
    assert ran.stderr.startswith("followup mail: login failed for maya on 127.0.0.1")
    assert "Traceback" not in ran.stderr
    for secret in (wrong, dovecot.password):
        assert secret not in ran.stdout + ran.stderr
    assert data_contents(demo_store) == before
