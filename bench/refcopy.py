#!/usr/bin/env python3
"""The single-connection reference copier: about the least IMAP work that moves
a mailbox, as a yardstick for the other tools (stdlib only).

One connection per side. Per folder: EXAMINE and one `UID FETCH 1:* (FLAGS
INTERNALDATE BODY.PEEK[])` at the source; while that answer streams in, the
messages go out to the destination as MULTIAPPEND commands of up to
--batch-bytes each, with non-synchronising literals (LITERAL+), pipelined: no
waiting for a reply before the next batch. Flags, keywords and INTERNALDATE are
passed through; the folder hierarchy is translated to the destination's
separator. Prints one JSON line.

  refcopy.py --src-port P --dst-port Q --user U --password-env VAR
  refcopy.py --src-port P --read-only      # only read the source (warm-up / read cost)
"""
import argparse
import json
import os
import re
import socket
import time

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Wire:
    """A bare IMAP connection: tagged commands, responses read with their literals."""

    def __init__(self, port: int, user: str, password: str):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rd = self.sock.makefile("rb", buffering=256 * 1024)
        self.counter = 0
        self.rd.readline()  # greeting
        self.run(b"LOGIN " + quote(user.encode()) + b" " + quote(password.encode()))

    def next_tag(self) -> bytes:
        self.counter += 1
        return b"r%d" % self.counter

    def response(self):
        """One response line with any literals: (text parts joined, [literals])."""
        parts, literals = [], []
        while True:
            line = self.rd.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            m = LITERAL_AT_END.search(line)
            if not m:
                parts.append(line)
                return b"".join(parts), literals
            parts.append(line[:m.start()])
            literals.append(self.rd.read(int(m.group(1))))

    def finish(self, tag: bytes, untagged=None, must_succeed=True) -> bytes:
        while True:
            text, literals = self.response()
            if text.startswith(tag + b" "):
                status = text[len(tag) + 1:]
                if must_succeed and not status.startswith(b"OK"):
                    raise RuntimeError(f"{tag.decode()} failed: {status.decode(errors='replace').strip()}")
                return status
            if untagged:
                untagged(text, literals)

    def run(self, command: bytes, untagged=None, must_succeed=True) -> bytes:
        tag = self.next_tag()
        self.sock.sendall(tag + b" " + command + b"\r\n")
        return self.finish(tag, untagged, must_succeed)


def quote(s: bytes) -> bytes:
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


LIST_LINE = re.compile(rb'^\* LIST \(([^)]*)\) (?:"((?:\\.|[^"\\]))"|NIL) (.*)\r\n$')


def mailboxes(conn: Wire):
    """Selectable mailbox names (raw, modified UTF-7) and the hierarchy separator."""
    names, sep = [], [None]

    def on(text, literals):
        m = LIST_LINE.match(text + (b'""\r\n' if literals else b""))
        if not m:
            return
        if m.group(2):
            sep[0] = m.group(2).replace(b"\\", b"") or m.group(2)
        name = literals[0] if literals else m.group(3)
        if name.startswith(b'"'):
            name = name[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        if b"\\noselect" not in m.group(1).lower() and b"\\nonexistent" not in m.group(1).lower():
            names.append(name)
    conn.run(b'LIST "" "*"', on)
    return names, sep[0]


FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
IDATE = re.compile(rb'INTERNALDATE ("[^"]*")')
EXISTS = re.compile(rb"^\* (\d+) EXISTS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src-port", type=int, required=True)
    ap.add_argument("--dst-port", type=int)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password-env", default="BENCH_PASSWORD")
    ap.add_argument("--batch-bytes", type=int, default=16 << 20)
    ap.add_argument("--read-only", action="store_true")
    a = ap.parse_args()
    password = os.environ[a.password_env]
    started = time.perf_counter()
    src = Wire(a.src_port, a.user, password)
    dst = None if a.read_only else Wire(a.dst_port, a.user, password)
    names, src_sep = mailboxes(src)
    dst_sep = mailboxes(dst)[1] if dst else None
    messages = total_bytes = appends = 0
    for name in sorted(names):
        exists = [0]

        def on_examine(text, _):
            m = EXISTS.match(text)
            if m:
                exists[0] = int(m.group(1))
        src.run(b"EXAMINE " + quote(name), on_examine)
        target = dst_sep.join(name.split(src_sep)) if dst and src_sep and dst_sep else name
        if dst:
            dst.run(b"CREATE " + quote(target), must_succeed=False)  # exists already: fine
        if not exists[0]:
            continue
        batch, batch_bytes, pending = [], 0, []

        def send_batch():
            nonlocal batch, batch_bytes
            if dst and batch:
                tag = dst.next_tag()
                dst.sock.sendall(b"".join([tag, b" APPEND ", quote(target)] + batch + [b"\r\n"]))
                pending.append(tag)
            batch, batch_bytes = [], 0

        def on_fetch(text, literals):
            nonlocal batch_bytes, messages, total_bytes
            if not literals or b" FETCH " not in text[:32]:
                return
            body = literals[-1]
            flags = b" ".join(f for f in FLAGS.search(text).group(1).split() if f.lower() != b"\\recent")
            messages += 1
            total_bytes += len(body)
            if not dst:
                return
            batch.extend([b" (", flags, b") ", IDATE.search(text).group(1), b" {%d+}\r\n" % len(body), body])
            batch_bytes += len(body)
            if batch_bytes >= a.batch_bytes:
                send_batch()
        src.run(b"UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])", on_fetch)
        send_batch()
        for tag in pending:
            dst.finish(tag)
        appends += len(pending)
    src.run(b"LOGOUT", must_succeed=False)
    if dst:
        dst.run(b"LOGOUT", must_succeed=False)
    print(json.dumps(dict(mode="read" if a.read_only else "copy", folders=len(names), messages=messages,
                          bytes=total_bytes, append_commands=appends,
                          seconds=round(time.perf_counter() - started, 3))))


if __name__ == "__main__":
    main()
