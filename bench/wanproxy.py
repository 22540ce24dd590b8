#!/usr/bin/env python3
"""A wide-area link between the tools and the two servers, for `bench/run --wan`.

One listening port per server (`--upstream NAME=PORT`, on 127.0.0.1). Every
chunk read from either end of a connection is written to the other end a fixed
one-way delay later, in order and without waiting for anything else: requests
and answers in flight overlap as they would on a long link, so a client that
pipelines gains what it would gain there, and a client that waits for each
answer pays a round trip per wait. A new connection reaches the server one and
a half round trips after the client connected (the TCP handshake, then the
greeting's own half), so each connection costs what it costs on a real link.

`--rate BYTES_PER_SEC` caps each server's link: all connections to that server
share it, each way, as a queue (a chunk leaves when the link has sent what came
before it). Each connection holds at most `--window` bytes in flight each way,
like a TCP window: the reader stops until the far end has them.

Counts, per server: connections, bytes each way, and round trips: a round trip
is the server answering after the client spoke (the direction of the traffic
on one connection turning from client→server to server→client), summed over
connections. Parallel connections overlap in time, so the sum is the work, and
the wall time says how much of it overlapped.

A control port answers a line `stats` with one JSON line of the counts since
the last `stats` and resets them. Prints `{"ports": {...}, "control": P}` on
its first line of output once it listens. Stdlib only.

  wanproxy.py --one-way-ms 25 --upstream src=11143 --upstream dst=12143
"""
import argparse
import asyncio
import json
import socket

CHUNK = 64 * 1024


class Link:
    """One server's link: the delay, the shared rate each way, and the counts."""

    def __init__(self, name, port, delay, rate, trace=None):
        self.name, self.port, self.delay, self.rate, self.trace = name, port, delay, rate, trace
        self.serial = 0
        self.free_at = {"up": 0.0, "down": 0.0}  # when the link has sent what is queued
        self.reset()

    def reset(self):
        self.connections = 0
        self.round_trips = 0
        self.bytes = {"up": 0, "down": 0}

    def stats(self):
        return {"connections": self.connections, "round_trips": self.round_trips,
                "bytes_up": self.bytes["up"], "bytes_down": self.bytes["down"]}

    def due(self, way, size, now):
        """When a chunk of `size` bytes read now arrives at the far end."""
        if not self.rate:
            return now + self.delay
        start = max(now, self.free_at[way])
        self.free_at[way] = start + size / self.rate
        return self.free_at[way] + self.delay


class Pipe:
    """One direction of one connection: chunks with the time each is due."""

    def __init__(self, window):
        self.queue = asyncio.Queue()
        self.in_flight = 0
        self.window = window
        self.room = asyncio.Event()
        self.room.set()
        self.last_due = 0.0


class Connection:
    def __init__(self, link, window):
        self.link = link
        link.serial += 1
        self.id = f"{link.name}{link.serial}"
        self.last = None  # the way the last chunk went
        self.pipes = {"up": Pipe(window), "down": Pipe(window)}
        self.writers = []  # both ends, closed at once when one fails

    def abort(self):
        for w in self.writers:
            w.close()

    def saw(self, way):
        if way == "down" and self.last == "up":
            self.link.round_trips += 1
        self.last = way

    async def read(self, reader, way):
        pipe = self.pipes[way]
        loop = asyncio.get_running_loop()
        try:
            while True:
                await pipe.room.wait()
                data = await reader.read(CHUNK)
                now = loop.time()
                if not data:
                    break
                self.saw(way)
                if self.link.trace:
                    head = data[:120].split(b"\r\n", 1)[0].decode("latin-1")
                    print(f"{now:.3f} {self.id} {'>' if way == 'up' else '<'} {len(data)} {head}",
                          file=self.link.trace, flush=True)
                self.link.bytes[way] += len(data)
                pipe.in_flight += len(data)
                if pipe.in_flight >= pipe.window:
                    pipe.room.clear()
                pipe.last_due = self.link.due(way, len(data), now)
                pipe.queue.put_nowait((pipe.last_due, data))
        except (ConnectionError, OSError):
            pass
        # The end, after what came before.
        pipe.queue.put_nowait((max(pipe.last_due, loop.time() + self.link.delay), None))

    async def write(self, writer_ready, way):
        pipe = self.pipes[way]
        loop = asyncio.get_running_loop()
        writer = None
        try:
            while True:
                due, data = await pipe.queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if writer is None:
                    writer = await writer_ready
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    break
                writer.write(data)
                await writer.drain()
                pipe.in_flight -= len(data)
                if pipe.in_flight < pipe.window:
                    pipe.room.set()
        except (ConnectionError, OSError):
            self.abort()


class Proxy:
    def __init__(self, links, window):
        self.links, self.window = links, window

    async def serve(self, link, client_r, client_w):
        link.connections += 1
        conn = Connection(link, self.window)
        loop = asyncio.get_running_loop()
        upstream = loop.create_future()
        client_ready = loop.create_future()
        client_ready.set_result(client_w)
        set_nodelay(client_w)
        conn.writers.append(client_w)

        async def connect():
            # SYN to the server and the client's ACK: the server accepts (and
            # greets) a round trip and a half after the client connected.
            await asyncio.sleep(3 * link.delay)
            try:
                r, w = await asyncio.open_connection("127.0.0.1", link.port)
            except OSError:
                return None
            set_nodelay(w)
            conn.writers.append(w)
            upstream.set_result(w)
            return r

        tasks = []
        try:
            server_r = await connect()
            if server_r is None:
                return
            tasks = [asyncio.create_task(conn.read(client_r, "up")),
                     asyncio.create_task(conn.write(upstream, "up")),
                     asyncio.create_task(conn.read(server_r, "down")),
                     asyncio.create_task(conn.write(client_ready, "down"))]
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            conn.abort()

    async def control(self, reader, writer):
        try:
            while line := await reader.readline():
                if line.strip() == b"stats":
                    out = {name: link.stats() for name, link in self.links.items()}
                    for link in self.links.values():
                        link.reset()
                    writer.write(json.dumps(out).encode() + b"\n")
                    await writer.drain()
        finally:
            writer.close()


def set_nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def main():
    ap = argparse.ArgumentParser(description="a delaying, counting link to local IMAP servers")
    ap.add_argument("--one-way-ms", type=float, required=True, help="delay each way, in ms")
    ap.add_argument("--upstream", action="append", required=True, metavar="NAME=PORT",
                    help="a server on 127.0.0.1 to put behind the link (repeat)")
    ap.add_argument("--rate", type=float, default=0, help="bytes a second each way per server (0: no cap)")
    ap.add_argument("--trace", help="write each chunk's time, connection, direction, size and first line here")
    ap.add_argument("--window", type=int, default=4 << 20, help="bytes in flight per connection each way")
    args = ap.parse_args()
    trace = open(args.trace, "w") if args.trace else None
    links = {}
    for spec in args.upstream:
        name, port = spec.split("=", 1)
        links[name] = Link(name, int(port), args.one_way_ms / 1000, args.rate, trace)
    proxy = Proxy(links, args.window)
    ports = {}
    servers = []
    for name, link in links.items():
        srv = await asyncio.start_server(lambda r, w, link=link: proxy.serve(link, r, w), "127.0.0.1", 0)
        ports[name] = srv.sockets[0].getsockname()[1]
        servers.append(srv)
    ctl = await asyncio.start_server(proxy.control, "127.0.0.1", 0)
    print(json.dumps({"ports": ports, "control": ctl.sockets[0].getsockname()[1]}), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers), ctl.serve_forever())


def stats(control_port: int) -> dict:
    """The counts since the last call, from a running proxy's control port."""
    with socket.create_connection(("127.0.0.1", control_port), timeout=10) as s:
        s.sendall(b"stats\n")
        f = s.makefile("rb")
        return json.loads(f.readline())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
