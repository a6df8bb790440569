"""A throwaway IMAP server for the tests and the benchmark: Debian's Dovecot
(``dovecot-imapd``) run in the foreground with a configuration of its own, in a
folder of its own, on 127.0.0.1 on free ports — TLS from the first byte on one,
STARTTLS on the other — with a self-signed certificate made here (trusted by the
client through ``FOLLOWUP_IMAP_CAFILE``), one user from a passwd-file, and its mail
in a Maildir. ``stop`` ends it and checks that no process of it is left.

No system Dovecot is needed or touched: ``.ci/run`` only installs the package.
"""

from __future__ import annotations

import datetime as dt
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

USER = "maya"


def dovecot_path() -> str | None:
    """The dovecot binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, valid two days."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _config(folder: Path, imaps_port: int, imap_port: int, cert: Path, key: Path) -> str:
    if os.geteuid() == 0:
        # Dovecot's own processes run as root, its login processes (chrooted) as
        # dovenull, which the Debian package creates; the mail as nobody: Dovecot
        # refuses UID 0 for mail (so the mail folder is nobody's, under a folder
        # others may pass through).
        internal, login = "root", ("dovenull" if _user("dovenull") else "nobody")
        mail = _user("nobody")
        uid, gid = mail.pw_uid, mail.pw_gid
    else:  # a developer's own account: every process is theirs
        internal = login = pwd.getpwuid(os.geteuid()).pw_name
        uid, gid = os.geteuid(), os.getegid()
    return f"""# Written by tests/imap_server.py for one run; nothing outside {folder} is used.
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = followup-test-{folder.name}
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
auth_mechanisms = plain
# A test logs in wrongly on purpose: answered at once.
auth_failure_delay = 0
disable_plaintext_auth = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%u
}}
mail_location = maildir:~/Maildir
# A throwaway mailbox: no fsync per message (APPEND of 20,000 in the benchmark).
mail_fsync = never
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


@dataclass
class DovecotServer:
    """A running Dovecot: its ports, its user's password, the certificate to trust."""

    folder: Path
    process: subprocess.Popen
    imaps_port: int
    imap_port: int
    password: str
    cafile: Path
    user: str = USER
    host: str = "127.0.0.1"

    def url(self, folder: str = "INBOX", starttls: bool = False) -> str:
        if starttls:
            return f"imap://{self.user}@{self.host}:{self.imap_port}/{folder}"
        return f"imaps://{self.user}@{self.host}:{self.imaps_port}/{folder}"

    def env(self) -> dict[str, str]:
        """What ``followup mail imap://…`` needs: the password, and trust in the certificate."""
        return {"FOLLOWUP_IMAP_PASSWORD": self.password, "FOLLOWUP_IMAP_CAFILE": str(self.cafile)}

    def client(self) -> imaplib.IMAP4_SSL:
        """A plain imaplib connection, logged in: to put messages in and look at flags."""
        ctx = ssl.create_default_context(cafile=str(self.cafile))
        c = imaplib.IMAP4_SSL(self.host, self.imaps_port, ssl_context=ctx, timeout=30)
        c.login(self.user, self.password)
        return c

    def append(self, messages: list[bytes], folder: str = "INBOX", seen: set[int] = frozenset()) -> None:
        """Put ``messages`` into ``folder`` (created if need be), each received on its
        Date: (the server's date, what SINCE compares); those numbered in ``seen`` are read."""
        import email.utils

        c = self.client()
        try:
            if folder != "INBOX":
                c.create(folder)
            for i, raw in enumerate(messages):
                m = re.search(rb"(?im)^Date:[ \t]*(.+?)\r?$", raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0])
                when = email.utils.parsedate_to_datetime(m.group(1).decode()) if m else dt.datetime.now(dt.UTC)
                typ, _ = c.append(folder, "(\\Seen)" if i in seen else None, imaplib.Time2Internaldate(when), raw)
                assert typ == "OK", typ
        finally:
            c.logout()

    def deliver(self, messages, folder: str) -> int:
        """Put ``messages`` straight into ``folder``'s Maildir, as a delivery agent
        does (each file dated its Date:, which Dovecot takes as the day received):
        for many messages, far faster than APPEND. The folder is created first, over
        IMAP. Returns how many."""
        import email.utils

        c = self.client()
        try:
            c.create(folder)
        finally:
            c.logout()
        new = self.folder / "mail" / self.user / "Maildir" / f".{folder}" / "new"
        owner = (new.stat().st_uid, new.stat().st_gid)
        n = 0
        for n, raw in enumerate(messages, 1):
            path = new / f"{1_700_000_000 + n}.M{n}P{os.getpid()}.followup-test"
            path.write_bytes(raw)
            m = re.search(rb"(?im)^Date:[ \t]*(.+?)\r?$", raw.split(b"\n\n", 1)[0])
            if m:
                when = email.utils.parsedate_to_datetime(m.group(1).decode()).timestamp()
                os.utime(path, (when, when))
            if os.geteuid() == 0:
                os.chown(path, *owner)
        return n

    def index(self, folder: str) -> None:
        """Have Dovecot take in what ``deliver`` put in its Maildir, as it does when a
        mail client first opens the folder: the messages moved to cur/, their headers
        in its index and cache."""
        c = self.client()
        try:
            _, data = c.select(folder)
            count = int(data[0])
            for start in range(1, count + 1, 5000):
                c.fetch(f"{start}:{min(count, start + 4999)}", "(FLAGS BODY.PEEK[HEADER])")
        finally:
            c.logout()

    def flags(self, folder: str = "INBOX") -> dict[str, str]:
        """Each message's flags, by UID, as the server keeps them."""
        c = self.client()
        try:
            c.select(folder, readonly=True)
            typ, data = c.uid("FETCH", "1:*", "(UID FLAGS)")
            return {
                re.search(rb"UID (\d+)", d).group(1).decode(): re.search(rb"FLAGS \(([^)]*)\)", d).group(1).decode()
                for d in data
                if isinstance(d, bytes) and b"UID" in d
            }
        finally:
            c.logout()

    def sessions(self, timeout: float = 10) -> list[dict[str, int]]:
        """What each IMAP session of the user fetched, as Dovecot logs it when the
        session ends (``Disconnected: … hdr_count=… body_count=…``), oldest first —
        once every session that logged in has ended and said so."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log().splitlines()
            logins = sum(1 for line in lines if "imap-login: Info: Login: user=<" + self.user + ">" in line)
            ended = [line for line in lines if ": Info: Disconnected" in line and f"imap({self.user})" in line]
            if len(ended) >= logins:
                return [
                    {k: int(v) for k, v in re.findall(r"(\w+_count|\w+_bytes|deleted|expunged)=(\d+)", line)}
                    for line in ended
                ]
            assert time.monotonic() < deadline, f"{logins - len(ended)} IMAP sessions did not end"
            time.sleep(0.05)

    def session_after(self, count: int) -> dict[str, int]:
        """The first session to end after the first ``count``."""
        done = self.sessions()
        assert len(done) > count, f"no IMAP session ended after the first {count}"
        return done[count]

    def log(self) -> str:
        try:
            return (self.folder / "dovecot.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """End Dovecot and every process it started; AssertionError if one is left."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        _, alive = psutil.wait_procs(children, timeout=10)
        for p in alive:
            p.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
        assert not alive, f"Dovecot left {[p.pid for p in alive]} running"
        assert self.process.returncode is not None


def start_dovecot(binary: str | None = None, timeout: float = 30) -> DovecotServer:
    """Dovecot started with a configuration of its own in a new folder; returns
    once both ports answer (RuntimeError with its log if it does not start)."""
    binary = binary or dovecot_path()
    if binary is None:
        raise RuntimeError("dovecot is not installed (Debian: apt-get install dovecot-imapd)")
    # Not under pytest's tmp folders (only root may pass through them): Dovecot's
    # mail processes run as another user, who must reach the mail folder.
    folder = Path(tempfile.mkdtemp(prefix="followup-dovecot-"))
    folder.chmod(0o711)
    for sub in ("run", "state"):
        (folder / sub).mkdir(mode=0o700)
    (folder / "mail").mkdir(mode=0o700)
    cert, key = _certificate(folder)
    cafile = folder / "ca.pem"
    shutil.copy(cert, cafile)
    cafile.chmod(0o644)
    password = secrets.token_urlsafe(12)
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{password}::::::\n")
    (folder / "passwd").chmod(0o600)
    imaps_port, imap_port = _free_port(), _free_port()
    conf = folder / "dovecot.conf"
    conf.write_text(_config(folder, imaps_port, imap_port, cert, key))
    if os.geteuid() == 0:
        mail = _user("nobody")
        os.chown(folder / "mail", mail.pw_uid, mail.pw_gid)
    with open(folder / "stderr.txt", "wb") as err:
        process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    server = DovecotServer(folder, process, imaps_port, imap_port, password, cafile)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            err = (folder / "stderr.txt").read_text(errors="replace")
            log = server.log()
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"dovecot stopped at once ({process.returncode}):\n{err}\n{log}")
        if all(_answers(port) for port in (imaps_port, imap_port)):
            return server
        if time.monotonic() > deadline:
            log = server.log()
            server.stop()
            raise RuntimeError(f"dovecot did not listen within {timeout} s:\n{log}")
        time.sleep(0.1)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
