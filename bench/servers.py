"""Two throw-away Dovecot servers on 127.0.0.1 for the benchmark.

The source stores mail as Maildir++ (hierarchy separator "."), the destination
as Maildir with LAYOUT=fs (separator "/"), so every tool has to translate the
folder hierarchy. Both run in the foreground (`dovecot -F`) as children of the
bench, so they are stopped by the PID we started and by nothing else. Mail is
owned by uid/gid 65534 (nobody/nogroup). Plain IMAP only: the benchmark is
about copying, and TLS on loopback would only add the same cost to every tool.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

MAIL_UID = 65534
MAIL_GID = 65534
USER = "alice"
PASSWORD = "bench-alice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, root: str, name: str, separator: str, fsync: str, compress: bool = False):
        self.name = name
        self.compress = compress  # offer COMPRESS=DEFLATE (imap_zlib), as Gmail does
        self.dir = os.path.join(root, name)
        self.home = os.path.join(self.dir, "home", USER)
        self.separator = separator
        self.fsync = fsync  # Dovecot's mail_fsync: optimized (its default) or never
        self.port = free_port()
        self.proc = None
        self.start_hook = None  # run in the child before exec (e.g. die with the parent)
        layout = "maildir:~/Maildir" if separator == "." else "maildir:~/Maildir:LAYOUT=fs"
        self.mail_location = layout

    @property
    def conf(self) -> str:
        return os.path.join(self.dir, "dovecot.conf")

    @property
    def maildir(self) -> str:
        return os.path.join(self.home, "Maildir")

    def write_config(self):
        for sub in ("run", "state", "home"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "home"), 0o755)
        self.reset_home()
        passwd = os.path.join(self.dir, "users")
        with open(passwd, "w") as f:
            f.write(f"{USER}:{{PLAIN}}{PASSWORD}:{MAIL_UID}:{MAIL_GID}::{self.home}::\n")
        os.chmod(passwd, 0o644)
        specials = "".join(
            f'  mailbox {name} {{\n    special_use = \\{use}\n    auto = subscribe\n  }}\n'
            for name, use in (("Sent", "Sent"), ("Drafts", "Drafts"), ("Trash", "Trash"), ("Junk", "Junk")))
        with open(self.conf, "w") as f:
            f.write(f"""# written by mailferry bench/run: instance {self.name}
instance_name = mailferry-bench-{self.name}-{self.port}
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
mail_location = {self.mail_location}
mail_fsync = {self.fsync}
namespace inbox {{
  inbox = yes
  separator = {self.separator}
  prefix =
{specials}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service imap {{
  process_limit = 100
}}
protocol imap {{
  mail_max_userip_connections = 100
{"  mail_plugins = $mail_plugins imap_zlib" if self.compress else ""}
}}
""")

    def reset_home(self):
        """Empties the user's mail (no session may be open)."""
        if os.path.exists(self.home):
            shutil.rmtree(self.home)
        os.makedirs(self.home)
        os.chown(self.home, MAIL_UID, MAIL_GID)

    def start(self):
        self.write_config()
        log = open(os.path.join(self.dir, "stdout.log"), "wb")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdout=log, stderr=log,
                                     start_new_session=True, preexec_fn=self.start_hook)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot {self.name} exited; see {self.dir}/dovecot.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot {self.name} did not listen on {self.port}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its own children
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def doveadm(self, *args, **kw):
        return subprocess.run(["doveadm", "-c", self.conf, *args], check=True, **kw)

    def cpu_seconds(self) -> float:
        """CPU (user+sys) used so far by this server: the master, the children it
        has reaped, and the children still alive (imap, auth, login, ...)."""
        tick = os.sysconf("SC_CLK_TCK")
        pid = self.proc.pid
        total = 0
        master = _stat(pid)
        if master:
            total += sum(master[11:15])  # utime stime cutime cstime
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            st = _stat(int(entry))
            if st and st[1] == pid:  # ppid
                total += sum(st[11:15])
        return total / tick


def _stat(pid: int):
    """Fields 4.. of /proc/PID/stat as ints (index 1 = ppid, 11..14 = times)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(")") + 2:].split()
    try:
        return [0] + [int(x) for x in rest[1:]]
    except ValueError:
        return None
