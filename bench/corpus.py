"""The benchmark's mailbox: deterministic for a given (n, seed).

Messages go straight into the source server's Maildir++ files (the fast way to
make thousands of them): INTERNALDATE is the file's mtime, flags are the
Maildir info letters, the keyword `$Project` is Maildir keyword letter `a`.
Every message carries `X-Bench-Id: <seed>.<index>`, which is how the verifier
pairs source and destination copies; ~1 in 400 has no Message-ID.
"""
import imaplib
import math
import os
import random
import re

from servers import MAIL_GID, MAIL_UID

KEYWORD = "$Project"

# (folder with "/" as separator, weight)
FOLDERS = [
    ("INBOX", 28), ("Sent", 12), ("Drafts", 2), ("Trash", 4), ("Junk", 3),
    ("Archive", 4), ("Archive/2022", 9), ("Archive/2023", 8),
    ("Customers", 2), ("Customers/Acme", 6), ("Customers/Acme/Orders", 4),
    ("Customers/Globex", 4), ("Lists", 6), ("Lists/rust-users", 3),
    ("Réunions", 2), ("Personal", 3),
]

VOCAB = ("a the and of to in for on with at by from order invoice shipment meeting agenda notes "
         "quarter budget forecast review contract renewal support ticket server backup restore "
         "mailbox folder migration schedule monday thursday office lunch travel flight hotel "
         "please thanks regards attached below above draft final version update status delay "
         "Köln Genève façade Ærø smörgåsbord déjà-vu").split()

MIB = 1 << 20
BASE_DATE = 1262304000  # 2010-01-01T00:00:00Z
LAST_DATE = 1704067200  # 2024-01-01: every date stays in the past (Dovecot replaces future APPEND dates)


def date_step(n: int) -> int:
    """Seconds between consecutive messages' INTERNALDATEs (distinct, all in the past)."""
    return max(2, min(6007, (LAST_DATE - BASE_DATE) // (n + 1000)))


def mutf7(name: str) -> str:
    """RFC 3501 modified UTF-7 (for mailbox names outside ASCII)."""
    out, pending = [], []

    def flush():
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            import base64
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()
    for ch in name:
        if " " <= ch <= "~":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


class Generator:
    def __init__(self, seed: int, n: int):
        self.seed = seed
        self.step = date_step(n)
        rng = random.Random(seed)
        # A pool of text lines; bodies are drawn from it (fast and still varied).
        self.lines = []
        for _ in range(4000):
            words, length = [], 0
            while length < 66:
                w = rng.choice(VOCAB)
                words.append(w)
                length += len(w) + 1
            self.lines.append(" ".join(words))

    def message(self, idx: int):
        """(folder, internaldate, flags, message bytes with LF line ends) for message idx."""
        rng = random.Random(f"{self.seed}/{idx}")
        folder = rng.choices([f for f, _ in FOLDERS], [w for _, w in FOLDERS])[0]
        idate = BASE_DATE + idx * self.step + rng.randrange(self.step - 1)
        if rng.random() < 0.01:
            size = rng.randint(MIB, 8 * MIB)
        else:
            size = min(max(int(rng.lognormvariate(math.log(5500), 1.0)), 500), 1536 * 1024)
        flags = set()
        if folder == "Sent" or rng.random() < 0.75:
            flags.add("\\Seen")
        if rng.random() < 0.12:
            flags.add("\\Answered")
        if rng.random() < 0.06:
            flags.add("\\Flagged")
        if folder == "Drafts":
            flags.add("\\Draft")
        if rng.random() < 0.10:
            flags.add(KEYWORD)
        return folder, idate, flags, self._render(rng, idx, folder, idate, size)

    def _render(self, rng, idx, folder, idate, size) -> bytes:
        import base64
        import email.utils
        peer = f"{rng.choice(['jo', 'max', 'li', 'sam', 'kim', 'ana'])}{rng.randrange(300)}@" \
               f"{rng.choice(['example.com', 'example.org', 'example.net'])}"
        me = "alice@bench.example"
        sender, rcpt = (me, peer) if folder in ("Sent", "Drafts") else (peer, me)
        # The Date header is a few minutes off INTERNALDATE on purpose.
        date = email.utils.formatdate(idate - rng.randrange(20, 900), localtime=False)
        head = []
        if folder not in ("Sent", "Drafts"):
            head.append(f"Received: from relay{idx % 5}.example.net ([198.51.100.{idx % 200}])\n"
                        f"\tby mx.bench.example; {date}")
        head += [f"From: {sender}", f"To: {rcpt}",
                 f"Subject: {' '.join(rng.choices(VOCAB, k=rng.randint(2, 8)))}", f"Date: {date}"]
        if idx % 400 != 13:
            head.append(f"Message-ID: <{self.seed}.{idx}.bench@bench.example>")
        head += [f"X-Bench-Id: {self.seed}.{idx}", "MIME-Version: 1.0"]
        head_bytes = sum(len(h.encode()) + 1 for h in head)
        if size >= MIB:
            boundary = f"bench-{self.seed}-{idx}"
            payload = base64.encodebytes(rng.randbytes(max(1, (size - head_bytes - 500) * 3 // 4))).decode()
            text = "\n".join(rng.choices(self.lines, k=5))
            head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
            body = (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
                    f"Content-Transfer-Encoding: 8bit\n\n{text}\n\n"
                    f"--{boundary}\nContent-Type: application/pdf; name=\"scan{idx}.pdf\"\n"
                    f"Content-Disposition: attachment; filename=\"scan{idx}.pdf\"\n"
                    f"Content-Transfer-Encoding: base64\n\n{payload}--{boundary}--\n")
        else:
            head += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
            k = max(1, (size - head_bytes) // 70)
            body = "\n".join(rng.choices(self.lines, k=k)) + "\n"
        return ("\n".join(head) + "\n\n" + body).encode()


LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S"}


def folder_dir(maildir: str, folder: str) -> str:
    if folder == "INBOX":
        return maildir
    return os.path.join(maildir, "." + mutf7(folder).replace("/", "."))


def write_source(src, n: int, seed: int):
    """Writes the corpus into the (stopped or idle) source server's Maildir++."""
    src.reset_home()
    gen = Generator(seed, n)
    made = set()
    total = 0
    for name, _ in FOLDERS:
        d = folder_dir(src.maildir, name)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        if name != "INBOX":
            open(os.path.join(d, "maildirfolder"), "w").close()
        with open(os.path.join(d, "dovecot-keywords"), "w") as f:
            f.write(f"0 {KEYWORD}\n")
        made.add(d)
    for i in range(n):
        folder, idate, flags, msg = gen.message(i)
        info = "".join(sorted(LETTERS[f] for f in flags if f in LETTERS))
        if KEYWORD in flags:
            info += "a"
        vsize = len(msg) + msg.count(b"\n")
        name = f"{idate}.M{i}P1.bench,S={len(msg)},W={vsize}:2,{info}"
        path = os.path.join(folder_dir(src.maildir, folder), "cur", name)
        with open(path, "wb") as f:
            f.write(msg)
        os.utime(path, (idate, idate))
        total += len(msg)
    for dirpath, dirnames, filenames in os.walk(src.home):
        os.chown(dirpath, MAIL_UID, MAIL_GID)
        for fn in filenames:
            os.chown(os.path.join(dirpath, fn), MAIL_UID, MAIL_GID)
    # Let Dovecot assign UIDs and build its indexes now, not during the first tool's run.
    src.doveadm("force-resync", "-u", "alice", "*")
    src.doveadm("index", "-u", "alice", "*", stderr=open(os.devnull, "w"))
    with imaplib.IMAP4("127.0.0.1", src.port) as m:
        m.login("alice", _password())
        for name, _ in FOLDERS:
            m.subscribe(_q(mutf7(name).replace("/", ".")))
        m.logout()
    return total


def _password():
    from servers import PASSWORD
    return PASSWORD


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def apply_delta(src, seed: int, n: int, new: int = 50, flag_changes: int = 200):
    """The "new mail arrived and the user read some" scenario, over IMAP at the
    source: `new` messages APPENDed across the folders and `flag_changes` STOREs."""
    gen = Generator(seed, n)
    rng = random.Random(f"{seed}/delta")
    with imaplib.IMAP4("127.0.0.1", src.port) as m:
        m.login("alice", _password())
        for j in range(new):
            idx = n + 1_000_000 + j
            folder, _, flags, msg = gen.message(idx)
            idate = BASE_DATE + (n + j) * gen.step + 1  # after every corpus date, distinct
            typ, data = m.append(_q(mutf7(folder).replace("/", ".")), "(" + " ".join(sorted(flags)) + ")",
                                 imaplib.Time2Internaldate(idate), msg.replace(b"\n", b"\r\n"))
            assert typ == "OK", data
        msgs = []
        for name, _ in FOLDERS:
            mbox = _q(mutf7(name).replace("/", "."))
            typ, _ = m.select(mbox)
            assert typ == "OK"
            typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
            for line in data:
                if not line:
                    continue
                uid = re.search(rb"UID (\d+)", line).group(1)
                flags = re.search(rb"FLAGS \(([^)]*)\)", line).group(1).decode().split()
                msgs.append((mbox, int(uid), flags))
        picked = sorted(rng.sample(msgs, min(flag_changes, len(msgs))))
        current = None
        for mbox, uid, flags in picked:
            if mbox != current:
                m.select(mbox)
                current = mbox
            flag = rng.choice(["\\Seen", "\\Seen", "\\Flagged", "\\Answered", KEYWORD])
            op = "-FLAGS" if flag in flags else "+FLAGS"
            typ, _ = m.uid("STORE", str(uid), op, f"({flag})")
            assert typ == "OK"
        m.logout()
    return new, len(picked)


def append_big(src, megabytes: int, folder: str = "INBOX") -> int:
    """Appends one message of about `megabytes` MB (a base64 attachment) to
    the source over IMAP: the memory case (peak RSS must stay bounded by the
    message, not grow with the connection count). Returns its size."""
    line = (b"TWFpbEZlcnJ5IGJlbmNoOiBvbmUgbGFyZ2UgYXR0YWNobWVudCwgYnl0ZSBmb3IgYnl0ZS4g" * 2)[:76] + b"\r\n"
    head = (b"From: Big Sender <big@example.net>\r\nTo: alice@example.com\r\n"
            b"Subject: One very large attachment\r\nDate: Mon, 4 Dec 2023 10:00:00 +0000\r\n"
            b"Message-ID: <bench-big@example.net>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream; name=big.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    msg = head + line * (megabytes * 1_000_000 // len(line))
    with imaplib.IMAP4("127.0.0.1", src.port) as m:
        m.login("alice", _password())
        typ, data = m.append(_q(folder), "(\\Seen)", imaplib.Time2Internaldate(LAST_DATE - 86_400), msg)
        assert typ == "OK", data
        m.logout()
    return len(msg)
