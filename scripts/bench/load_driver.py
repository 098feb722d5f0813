#!/usr/bin/env python3
"""Load clients for scripts/bench/load; standard library only.

  load_driver.py api --creds FILE --clients N --rounds R --database DB --out FILE
      N concurrent API clients, each on its own keep-alive TLS connection to aponod, each
      doing R rounds of "create a request, list my requests". Even clients are alice, odd
      ones bob; a create asks for read_only (automatic approval) or read_write (manual
      approval, stays PENDING), alternating by client and round.

  load_driver.py cut --socket PATH --database DB --user U --sessions N --ends-at EPOCH
                     --request ID --out FILE
      N PostgreSQL sessions through the proxy's unix socket (the proxy asks no password
      there), open and busy in several ways when the grant ends at EPOCH (wall clock,
      seconds), and when each one was cut relative to that.

Both write their figures as JSON to --out and progress to stderr. Timing is taken on the
client's single event-loop thread, so a figure includes any wait for that thread: the
clients share the machine's cores with the servers they measure.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import resource
import socket
import ssl
import struct
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def summary(values):
    """min/p50/p90/p99/max of a list (nearest rank), or None when empty."""
    if not values:
        return None
    v = sorted(values)

    def rank(p):
        return v[min(len(v) - 1, max(0, int(p * len(v) + 0.999999) - 1))]

    return {"n": len(v), "min": v[0], "p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99),
            "max": v[-1], "mean": sum(v) / len(v)}


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ----------------------------------------------------------------------------- the API clients

class http_error(Exception):
    pass


class api_connection:
    """One keep-alive HTTP/1.1 connection over TLS."""

    def __init__(self, host, port, ctx):
        self.host, self.port, self.ctx = host, port, ctx
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.ctx, server_hostname=self.host)

    def close(self):
        if self.writer:
            self.writer.close()
            self.writer = None

    async def call(self, method, target, token, body=None):
        """Returns (status, body bytes, whether the server keeps the connection)."""
        data = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
                f"Content-Length: {len(data)}\r\n")
        if body is not None:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + data)
        self.got_headers = False
        raw = await self.reader.readuntil(b"\r\n\r\n")
        self.got_headers = True
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise http_error("bad status line " + repr(lines[0][:80]))
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            payload = b"".join(chunks)
        else:
            payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
        keep = headers.get("connection", "").lower() != "close"
        return status, payload, keep


async def run_api(a):
    # One or more replicas of one broker (the same users and tokens); client i talks to
    # replica i mod N, as a round-robin load balancer would spread them.
    endpoints = []
    for path in a.creds:
        creds = json.load(open(path))
        hostport = creds["api_url"].split("://", 1)[1].split("/", 1)[0]
        host, port = hostport.rsplit(":", 1)
        endpoints.append((host, int(port), ssl.create_default_context(cafile=creds["ca_file"])))
    tokens = {u["name"]: u["token"] for u in json.load(open(a.creds[0]))["users"]}

    statuses = collections.defaultdict(collections.Counter)  # op -> status -> count
    latency = collections.defaultdict(list)                 # op -> ms
    errors = collections.Counter()                          # transport failures by kind
    error_detail = []                                       # the first few, with timings
    t_run = time.perf_counter()
    flow_mismatch = collections.Counter()
    list_items = []
    list_bytes = []
    reconnects = 0
    connect_ms = []
    go = asyncio.Event()
    conns = [api_connection(*endpoints[i % len(endpoints)]) for i in range(a.clients)]

    async def connect(i, record=True):
        t0 = time.perf_counter()
        try:
            await conns[i].open()
        except Exception as e:  # noqa: BLE001 - every failure is counted, none is fatal
            errors["connect: " + type(e).__name__] += 1
            return False
        if record:
            connect_ms.append((time.perf_counter() - t0) * 1000)
        return True

    async def client(i):
        nonlocal reconnects
        user = "alice" if i % 2 == 0 else "bob"
        token = tokens[user]
        await go.wait()
        for r in range(a.rounds):
            auto = (i + r) % 2 == 0
            body = {"integration": "pg-local", "resource_type": "database",
                    "resources": [a.database], "permissions": ["read_only" if auto else "read_write"],
                    "duration": a.duration, "justification": f"load test client {i} round {r}"}
            for op, method, target, payload in (
                    ("create (automatic)" if auto else "create (manual)", "POST",
                     "/api/v1/access-requests", body),
                    ("list", "GET", "/api/v1/access-requests", None)):
                if conns[i].writer is None:
                    reconnects += 1
                    if not await connect(i, record=False):
                        continue
                t0 = time.perf_counter()
                try:
                    status, data, keep = await asyncio.wait_for(
                        conns[i].call(method, target, token, payload), a.timeout)
                except Exception as e:  # noqa: BLE001
                    errors[f"{op}: {type(e).__name__}"] += 1
                    if len(error_detail) < 20:
                        error_detail.append({
                            "op": op, "error": f"{type(e).__name__}: {e}"[:120],
                            "after_s": round(time.perf_counter() - t0, 3),
                            "at_s": round(time.perf_counter() - t_run, 3),
                            "headers_received": getattr(conns[i], "got_headers", None),
                            "body_bytes_received": len(getattr(e, "partial", b"") or b"")})
                    conns[i].close()
                    continue
                latency[op].append((time.perf_counter() - t0) * 1000)
                statuses[op][status] += 1
                if not keep:
                    conns[i].close()
                if op == "list" and status == 200:
                    list_items.append(data.count(b'"requester":'))
                    list_bytes.append(len(data))
                elif op.startswith("create") and status == 201:
                    got = json.loads(data).get("status")
                    if (got == "PENDING") == auto:
                        flow_mismatch[f"{op} -> {got}"] += 1

    log(f"api: opening {a.clients} TLS connections")
    t_open = time.perf_counter()
    opened = await asyncio.gather(*(connect(i) for i in range(a.clients)))
    open_s = time.perf_counter() - t_open
    log(f"api: {sum(opened)} open in {open_s:.2f} s; {a.rounds} rounds of create + list each")
    tasks = [asyncio.create_task(client(i)) for i in range(a.clients)]
    cpu0 = cpu_seconds()
    t0 = t_run = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    for c in conns:
        c.close()
    await asyncio.sleep(0.2)

    # The same calls from one client alone, right after: the service time without the queue
    # (the lists are as long as at the end of the run; grants may still be under way).
    alone = collections.defaultdict(list)
    solo = api_connection(*endpoints[0])
    await solo.open()
    for r in range(a.alone):
        for op, method, payload in (
                ("create (manual)", "POST", {"integration": "pg-local", "resource_type": "database",
                                             "resources": [a.database], "permissions": ["read_write"],
                                             "duration": a.duration, "justification": "alone"}),
                ("list", "GET", None)):
            t1 = time.perf_counter()
            status, _, _ = await solo.call(method, "/api/v1/access-requests", tokens["alice"], payload)
            alone[op].append((time.perf_counter() - t1) * 1000)
            if status >= 500:
                errors[f"alone {op}: {status}"] += 1
    solo.close()
    total = sum(sum(c.values()) for c in statuses.values())
    out = {
        "clients": a.clients, "rounds": a.rounds, "connected": sum(opened),
        "connect_s": open_s, "connect_ms": summary(connect_ms), "wall_s": wall,
        "client_cpu_s": cpu, "responses": total,
        "statuses": {op: {str(k): v for k, v in sorted(c.items())} for op, c in statuses.items()},
        "latency_ms": {op: summary(v) for op, v in latency.items()},
        "over_30s": {op: sum(1 for x in v if x > 30000) for op, v in latency.items()},
        "alone_ms": {op: summary(v) for op, v in alone.items()},
        "errors": dict(errors), "error_detail": error_detail, "reconnects": reconnects, "flow_mismatch": dict(flow_mismatch),
        "list_items": summary(list_items), "list_bytes": summary(list_bytes),
    }
    json.dump(out, open(a.out, "w"), indent=1)
    log(f"api: {total} responses in {wall:.1f} s ({total / wall:.0f}/s), client CPU {cpu:.1f} s, "
        f"transport errors {sum(errors.values())}")


# ----------------------------------------------------------------------------- the PG sessions

def startup_message(user, database):
    params = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                      for k, v in (("user", user), ("database", database),
                                   ("application_name", "apono-load")))
    body = struct.pack("!i", 196608) + params + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def query_message(sql):
    body = sql.encode() + b"\0"
    return b"Q" + struct.pack("!i", len(body) + 4) + body


def error_fields(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


class pg_session:
    """A client connection that records when the proxy's FATAL and the close arrive.

    Raw non-blocking socket rather than an asyncio transport: a transport whose write fails
    (the proxy already shut the socket) closes at once and drops what is still unread, the
    FATAL among it. libpq keeps reading after a failed send to report the server's error,
    and so does this.
    """

    def __init__(self, loop, user, database):
        self.loop, self.user, self.database = loop, user, database
        self.sock = None
        self.throttle = 0.0      # > 0: stop reading for this long after each read (slow client)
        self.buf = bytearray()
        self.out = bytearray()   # not yet sent
        self.ready = loop.create_future()   # startup done
        self.idle = None                    # a query's ReadyForQuery
        self.closed = loop.create_future()
        self.fatal_at = self.closed_at = None
        self.fatal = None        # the first FATAL seen after startup
        self.errors = []         # other ErrorResponses (severity, code, message)
        self.notices = []
        self.queries = 0
        self.rows = 0
        self.in_query = False
        self.write_failed = False

    async def connect(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        await self.loop.sock_connect(self.sock, path)
        self.loop.add_reader(self.sock.fileno(), self.on_readable)
        self.send(startup_message(self.user, self.database))

    def send(self, data):
        if self.write_failed or self.closed.done():
            return
        self.out += data
        self.flush()

    def flush(self):
        try:
            n = self.sock.send(self.out)
        except BlockingIOError:
            n = 0
        except OSError:  # the other side is gone; what it sent before is still to be read
            self.write_failed = True
            self.out.clear()
            self.loop.remove_writer(self.sock.fileno())
            return
        del self.out[:n]
        if self.out:
            self.loop.add_writer(self.sock.fileno(), self.flush)
        else:
            self.loop.remove_writer(self.sock.fileno())

    def on_readable(self):
        now = time.time()
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.lost(now)
            return
        self.parse(data, now)
        if self.throttle and not self.closed.done():
            self.loop.remove_reader(self.sock.fileno())
            self.loop.call_later(self.throttle, self.resume)

    def resume(self):
        if not self.closed.done():
            self.loop.add_reader(self.sock.fileno(), self.on_readable)

    def parse(self, data, now):
        self.buf += data
        pos = 0
        n = len(self.buf)
        while n - pos >= 5:
            length = struct.unpack_from("!i", self.buf, pos + 1)[0]
            if n - pos < 1 + length:
                break
            kind = self.buf[pos]
            if kind == 0x44:  # 'D': the common case while streaming, nothing else to do
                self.rows += 1
            elif kind == 0x45:  # 'E'
                f = error_fields(bytes(self.buf[pos + 5:pos + 1 + length]))
                if f.get("S") == "FATAL" and self.ready.done():
                    if self.fatal is None:
                        self.fatal, self.fatal_at = f, now
                else:
                    self.errors.append((f.get("S"), f.get("C"), f.get("M")))
                    if not self.ready.done():
                        self.ready.set_exception(RuntimeError(f.get("M", "error at startup")))
            elif kind == 0x4E:  # 'N'
                self.notices.append(error_fields(bytes(self.buf[pos + 5:pos + 1 + length])).get("M"))
            elif kind == 0x52:  # 'R'
                code = struct.unpack_from("!i", self.buf, pos + 5)[0]
                if code != 0 and not self.ready.done():
                    self.ready.set_exception(RuntimeError(f"the proxy asked for auth code {code}"))
            elif kind == 0x5A:  # 'Z'
                if not self.ready.done():
                    self.ready.set_result(True)
                else:
                    self.queries += self.in_query
                    self.in_query = False
                    if self.idle and not self.idle.done():
                        self.idle.set_result(True)
            pos += 1 + length
        del self.buf[:pos]

    def lost(self, now):
        self.closed_at = now
        self.abort()
        for f in (self.ready, self.idle):
            if f and not f.done():
                f.set_exception(ConnectionError("closed"))
        if not self.closed.done():
            self.closed.set_result(True)

    def abort(self):
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.loop.remove_writer(self.sock.fileno())
            self.sock.close()
            self.sock = None

    async def query(self, sql):
        self.idle = self.loop.create_future()
        self.in_query = True
        self.send(query_message(sql))
        await self.idle


async def run_cut(a):
    loop = asyncio.get_running_loop()
    n = a.sessions
    # How the sessions spend the moment the grant ends: mostly idle or running small queries,
    # some inside a long statement, a few streaming a large result (the proxy must find a
    # message boundary for the FATAL there), half of these also sending a query just after
    # the end while the result still comes (the FATAL must not be lost to that).
    n_stream = min(a.streaming, n)
    n_sleep = min(max(0, n // 25), n - n_stream)
    n_busy = (n - n_stream - n_sleep) // 2
    kinds = (["streaming"] * (n_stream - n_stream // 2)
             + ["streaming, sends after the end"] * (n_stream // 2)
             + ["in pg_sleep"] * n_sleep + ["small queries"] * n_busy)
    kinds += ["idle"] * (n - len(kinds))
    sessions = [None] * n
    open_ms = []
    open_errors = collections.Counter()
    gate = asyncio.Semaphore(a.open_concurrency)

    async def open_one(i):
        async with gate:
            t0 = time.perf_counter()
            s = pg_session(loop, a.user, a.database)
            try:
                await s.connect(a.socket)
                await asyncio.wait_for(s.ready, 30)
                await s.query("SELECT 1")
            except Exception as e:  # noqa: BLE001
                open_errors[f"{type(e).__name__}: {e}"] += 1
                s.abort()
                return
            open_ms.append((time.perf_counter() - t0) * 1000)
            sessions[i] = s

    log(f"cut: opening {n} sessions ({a.open_concurrency} at a time)")
    t0 = time.perf_counter()
    await asyncio.gather(*(open_one(i) for i in range(n)))
    open_s = time.perf_counter() - t0
    opened = sum(s is not None for s in sessions)
    left = a.ends_at - time.time()
    log(f"cut: {opened}/{n} open in {open_s:.1f} s; the grant ends in {left:.1f} s")
    if opened < n or left < 2:
        for s in sessions:
            if s:
                s.abort()
        json.dump({"sessions": n, "opened": opened, "open_errors": dict(open_errors),
                   "open_s": open_s, "seconds_left_after_open": left}, open(a.out, "w"))
        return

    async def small_queries(s):
        try:
            while not s.closed.done():
                await s.query("SELECT 1")
                await asyncio.sleep(random.uniform(0.05, 0.5))
        except ConnectionError:
            pass

    async def start_late(s, sql, before, throttle=0.0, poke_after=None):
        await asyncio.sleep(max(0.0, a.ends_at - before - time.time()))
        if not s.closed.done():
            s.idle = None  # nobody waits for the answer
            s.in_query = True
            s.throttle = throttle
            s.send(query_message(sql))
        if poke_after is not None:
            await asyncio.sleep(max(0.0, a.ends_at + poke_after - time.time()))
            s.send(query_message("SELECT 1"))

    stream_sql = "SELECT generate_series(1, 100000000) AS n, repeat('x', 8000) AS pad"
    workers = []
    for s, kind in zip(sessions, kinds):
        if kind == "small queries":
            workers.append(asyncio.create_task(small_queries(s)))
        elif kind == "in pg_sleep":
            workers.append(asyncio.create_task(start_late(s, "SELECT pg_sleep(30)", 3)))
        elif kind == "streaming":
            # Rows of 8 kB read by a slow client (20 ms pause after each read, about 10 MB/s):
            # the proxy's writes to it block now and then, so the FATAL must wait its turn.
            workers.append(asyncio.create_task(start_late(s, stream_sql, 2, 0.02)))
        elif kind == "streaming, sends after the end":
            # Slower still (100 ms pauses), and a query sent 20 ms after the end, while the
            # proxy is still waiting for the client to take the result before the FATAL.
            workers.append(asyncio.create_task(start_late(s, stream_sql, 2, 0.1, 0.02)))
    proxy_exit = None

    proxy_cpu = {}
    hz = os.sysconf("SC_CLK_TCK")

    async def watch_proxy():
        # The proxy exits by itself once access ended; a zombie counts as gone. Its CPU time
        # from shortly before the end to its last reading is what the cut and its exit cost.
        nonlocal proxy_exit
        while True:
            try:
                with open(f"/proc/{a.proxy_pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[0] in ("Z", "X"):
                    break
                ticks = int(fields[11]) + int(fields[12])
                if time.time() < a.ends_at - 0.5:
                    proxy_cpu["before"] = ticks
                proxy_cpu["last"] = ticks
            except (FileNotFoundError, ProcessLookupError):
                break
            await asyncio.sleep(0.01)
        proxy_exit = time.time() - a.ends_at

    if a.proxy_pid:
        workers.append(asyncio.create_task(watch_proxy()))
    # Wait for every close, or until well past the end.
    deadline = a.ends_at + a.wait_after
    pending = [s.closed for s in sessions]
    await asyncio.wait(pending, timeout=max(1.0, deadline - time.time()))
    if a.proxy_pid:
        await asyncio.wait([workers[-1]], timeout=max(0.0, deadline - time.time()))
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    not_cut = 0
    for s in sessions:
        if not s.closed.done():
            not_cut += 1
            s.abort()

    expected_prefix = f"access {a.request} ended at "
    per_kind = collections.defaultdict(lambda: {"closed_s": [], "fatal_s": []})
    closed_s, fatal_s = [], []
    without_message, other_message, in_query_at_cut = 0, collections.Counter(), 0
    rows = 0
    for s, kind in zip(sessions, kinds):
        rows += s.rows
        if s.closed_at is not None and s.closed_at <= deadline:
            closed_s.append(s.closed_at - a.ends_at)
            per_kind[kind]["closed_s"].append(s.closed_at - a.ends_at)
        if s.in_query:
            in_query_at_cut += 1
        if s.fatal is None:
            without_message += 1
        else:
            msg = s.fatal.get("M", "")
            if (s.fatal.get("C") == "57P01" and msg.startswith(expected_prefix)
                    and "the grant expired" in msg):
                fatal_s.append(s.fatal_at - a.ends_at)
                per_kind[kind]["fatal_s"].append(s.fatal_at - a.ends_at)
            else:
                other_message[f"{s.fatal.get('C')} {msg}"[:160]] += 1
    example = next((s.fatal.get("M") for s in sessions if s.fatal), None)
    out = {
        "sessions": n, "opened": opened, "open_s": open_s, "open_ms": summary(open_ms),
        "open_errors": dict(open_errors), "seconds_left_after_open": left,
        "kinds": dict(collections.Counter(kinds)),
        "not_closed": not_cut, "without_message": without_message,
        "other_message": dict(other_message), "in_query_at_cut": in_query_at_cut,
        "closed_s": summary(closed_s), "fatal_s": summary(fatal_s),
        "per_kind": {k: {"closed_s": summary(v["closed_s"]), "fatal_s": summary(v["fatal_s"])}
                     for k, v in per_kind.items()},
        "closed_within_1s": sum(1 for x in closed_s if x <= 1.0),
        "closed_before_end": sum(1 for x in closed_s if x < 0),
        "queries_run": sum(s.queries for s in sessions), "rows_streamed": rows,
        "write_failed": sum(s.write_failed for s in sessions),
        "notices": dict(collections.Counter(m for s in sessions for m in s.notices)),
        "other_errors": dict(collections.Counter(
            f"{e[0]} {e[1]} {e[2]}"[:160] for s in sessions for e in s.errors)),
        "message_example": example, "client_cpu_s": cpu_seconds(), "proxy_exit_s": proxy_exit,
        "proxy_cpu_at_end_s": ((proxy_cpu["last"] - proxy_cpu["before"]) / hz
                               if "before" in proxy_cpu and "last" in proxy_cpu else None),
        "detail": [[k, s.fatal_at and s.fatal_at - a.ends_at, s.closed_at and s.closed_at - a.ends_at]
                   for s, k in zip(sessions, kinds)],
    }
    json.dump(out, open(a.out, "w"), indent=1)
    log(f"cut: {len(closed_s)} closed by end+{a.wait_after:.0f}s, {len(fatal_s)} with the message")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    api = sub.add_parser("api")
    api.add_argument("--creds", required=True, action="append",
                     help="aponod --dev's dev-credentials.json; once per replica to spread clients")
    api.add_argument("--clients", type=int, default=1000)
    api.add_argument("--rounds", type=int, default=5)
    api.add_argument("--database", default="apidb")
    api.add_argument("--duration", default="1h")
    api.add_argument("--timeout", type=float, default=600)
    api.add_argument("--alone", type=int, default=5, help="calls of each kind by one client after")
    api.add_argument("--out", required=True)
    cut = sub.add_parser("cut")
    cut.add_argument("--socket", required=True)
    cut.add_argument("--database", required=True)
    cut.add_argument("--user", required=True)
    cut.add_argument("--sessions", type=int, default=1000)
    cut.add_argument("--streaming", type=int, default=4)
    cut.add_argument("--open-concurrency", type=int, default=32)
    cut.add_argument("--ends-at", type=float, required=True)
    cut.add_argument("--request", required=True)
    cut.add_argument("--wait-after", type=float, default=10)
    cut.add_argument("--proxy-pid", type=int, help="note when this process exits")
    cut.add_argument("--out", required=True)
    a = p.parse_args()
    asyncio.run(run_api(a) if a.cmd == "api" else run_cut(a))


if __name__ == "__main__":
    main()
