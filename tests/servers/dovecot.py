"""A throwaway Dovecot IMAP server on a free loopback port, for tests and the benchmark.

Facts that shaped it: Dovecot's login process refuses to run as root, so when we are root the
whole instance runs as `nobody` (with `chroot =` emptied for imap-login and anvil, which would
otherwise need root to chroot); its directory lives outside pytest's 0700 temp root so that
user can reach it. Users come from a passwd-file with plain passwords; mail is Maildir.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = 0
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
imap_idle_notify_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    """A running instance; `users` maps user name to password."""

    root: Path
    port: int
    ssl_port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    @classmethod
    def start(cls, users: dict[str, str] | None = None) -> Dovecot:
        root = Path(tempfile.mkdtemp(prefix="heard-dovecot-", dir="/tmp"))
        server = cls(
            root=root,
            port=free_port(),
            ssl_port=free_port(),
            users=dict(users or {"support": "secret"}),
        )
        try:
            server._launch()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def _runs_as(self) -> pwd.struct_passwd:
        return pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())

    def _launch(self) -> None:
        who = self._runs_as
        self.root.chmod(0o755)
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        (self.root / "passwd").write_text(
            "".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items())
        )
        tls = Path(__file__).parent / "tls"
        for name in ("cert.pem", "key.pem"):
            shutil.copy(tls / name, self.root / name)
        (self.root / "dovecot.conf").write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                ssl_port=self.ssl_port,
                user=who.pw_name,
                group=_group_name(who.pw_gid),
                uid=who.pw_uid,
                gid=who.pw_gid,
            )
        )
        if os.geteuid() == 0:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, who.pw_uid, who.pw_gid)
        user, group, groups = self._identity()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=user,
            group=group,
            extra_groups=groups,
        )
        self._wait_ready(deadline=time.monotonic() + 20)

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited: {err}\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start listening\n{self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def client(self, user: str = "support") -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(user, self.users[user])
        return client

    def append(self, raw: bytes, folder: str = "INBOX", user: str = "support") -> None:
        client = self.client(user)
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def append_many(
        self,
        raws: list[bytes],
        folder: str = "INBOX",
        user: str = "support",
        received: datetime | None = None,
    ) -> None:
        """APPEND each mail; `received` sets its INTERNALDATE (the server's arrival time)."""
        client = self.client(user)
        try:
            for raw in raws:
                client.append(folder, raw, msg_time=received)
        finally:
            client.logout()

    def doveadm(self, *args: str) -> str:
        user, group, groups = self._identity()
        done = subprocess.run(
            [DOVEADM, "-c", str(self.root / "dovecot.conf"), *args],
            capture_output=True,
            check=False,
            timeout=30,
            user=user,
            group=group,
            extra_groups=groups,
        )
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr.decode()}")
        return str(done.stdout.decode())

    def _identity(self) -> tuple[int | None, int | None, list[int] | None]:
        """Who the server processes run as: `nobody` when we are root (see module docstring)."""
        if os.geteuid() != 0:
            return None, None, None
        who = self._runs_as
        return who.pw_uid, who.pw_gid, []

    def set_uidvalidity(self, value: int, folder: str = "INBOX", user: str = "support") -> None:
        """Force a new UIDVALIDITY, as a restored or rebuilt mailbox gets."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def available() -> str | None:
    """None when Dovecot can run here, else why not."""
    if not Path(DOVECOT).exists():
        return "dovecot is not installed (Debian package dovecot-imapd)"
    return None
