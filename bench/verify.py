#!/usr/bin/env python3
"""Compares the destination with the source after a copy (stdlib only).

Messages are paired by their `X-Bench-Id` header, across all folders. For every
source message: is it at the destination, in the expected folder (the source
name with the hierarchy separator translated), once; are its system flags and
its keywords the same; is its INTERNALDATE the same instant; are its bytes the
same (SHA-256 of BODY[]). A copy whose only difference is an added `X-TUID`
header line (mbsync's marker) is counted as altered, and separately as
"x_tuid_only" so the report can say why. Prints one JSON line.
"""
import argparse
import hashlib
import json
import os
import re
from datetime import datetime

from refcopy import EXISTS, FLAGS, IDATE, Wire, mailboxes, quote

BENCH_ID = re.compile(rb"^X-Bench-Id:[ \t]*(\S+)", re.M | re.I)
X_TUID = re.compile(rb"^X-TUID:[^\r\n]*\r?\n", re.M | re.I)


def instant(quoted: bytes) -> float:
    s = quoted.strip(b'"').decode().strip()
    return datetime.strptime(s, "%d-%b-%Y %H:%M:%S %z").timestamp()


def read_side(conn: Wire):
    names, sep = mailboxes(conn)
    records = {}  # folder -> list of records
    for name in names:
        exists = [0]

        def on_examine(text, _):
            m = EXISTS.match(text)
            if m:
                exists[0] = int(m.group(1))
        conn.run(b"EXAMINE " + quote(name), on_examine)
        recs = records.setdefault(name, [])
        if not exists[0]:
            continue

        def on_fetch(text, literals):
            if not literals or b" FETCH " not in text[:32]:
                return
            body = literals[-1]
            head = body[:body.find(b"\r\n\r\n") + 2]
            m = BENCH_ID.search(head)
            flags = frozenset(f.decode() for f in FLAGS.search(text).group(1).split()
                              if f.lower() != b"\\recent")
            recs.append(dict(
                id=m.group(1).decode() if m else None,
                flags=flags,
                date=instant(IDATE.search(text).group(1)),
                sha=hashlib.sha256(body).digest(),
                sha_no_tuid=hashlib.sha256(X_TUID.sub(b"", head, count=1) + body[len(head):]).digest(),
            ))
        conn.run(b"UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])", on_fetch)
    return records, sep


def compare(src_port, dst_port, user, password, folder_map=None):
    s = Wire(src_port, user, password)
    d = Wire(dst_port, user, password)
    src, src_sep = read_side(s)
    dst, dst_sep = read_side(d)
    s.run(b"LOGOUT", must_succeed=False)
    d.run(b"LOGOUT", must_succeed=False)

    def expected(name: bytes) -> bytes:
        if folder_map and name in folder_map:
            return folder_map[name]
        return dst_sep.join(name.split(src_sep)) if src_sep and dst_sep else name

    where = {}
    for folder, recs in dst.items():
        for r in recs:
            where.setdefault(r["id"], []).append((folder, r))
    c = dict(source=0, destination=sum(len(v) for v in dst.values()), missing=0, misplaced=0,
             duplicates=0, flags=0, keywords=0, dates=0, altered=0, x_tuid_only=0, extra=0)
    src_ids = set()
    for folder, recs in src.items():
        want = expected(folder)
        for r in recs:
            c["source"] += 1
            src_ids.add(r["id"])
            copies = where.get(r["id"], [])
            if not copies:
                c["missing"] += 1
                continue
            c["duplicates"] += len(copies) - 1
            here = [x for f, x in copies if f == want]
            if not here:
                c["misplaced"] += 1
            got = (here or [copies[0][1]])[0]
            sys_s = {f for f in r["flags"] if f.startswith("\\")}
            sys_d = {f for f in got["flags"] if f.startswith("\\")}
            c["flags"] += sys_s != sys_d
            c["keywords"] += (r["flags"] - sys_s) != (got["flags"] - sys_d)
            c["dates"] += r["date"] != got["date"]
            if r["sha"] != got["sha"]:
                c["altered"] += 1
                c["x_tuid_only"] += r["sha"] == got["sha_no_tuid"]
    c["extra"] = sum(len(v) for k, v in where.items() if k not in src_ids)
    c["ok"] = all(c[k] == 0 for k in ("missing", "misplaced", "duplicates", "flags", "keywords",
                                      "dates", "altered", "extra")) and c["source"] == c["destination"]
    return c


def summary(c) -> str:
    """One short cell for the table: "5000/5000 ok" or what is wrong."""
    present = c["source"] - c["missing"]
    text = f"{present}/{c['source']}"
    if c["ok"]:
        return text + " ok"
    bad = []
    for key, label in (("duplicates", "dup"), ("extra", "extra"), ("misplaced", "misplaced"),
                       ("flags", "flags≠"), ("keywords", "keywords≠"), ("dates", "date≠")):
        if c[key]:
            bad.append(f"{c[key]} {label}")
    if c["altered"]:
        why = " (X-TUID)" if c["x_tuid_only"] == c["altered"] else ""
        bad.append(f"{c['altered']} altered{why}")
    return text + ", " + ", ".join(bad)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src-port", type=int, required=True)
    ap.add_argument("--dst-port", type=int, required=True)
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password-env", default="BENCH_PASSWORD")
    a = ap.parse_args()
    c = compare(a.src_port, a.dst_port, a.user, os.environ[a.password_env])
    print(json.dumps(c), "#", summary(c))


if __name__ == "__main__":
    main()
