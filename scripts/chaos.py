#!/usr/bin/env python3
"""The driver of scripts/chaos (run that, not this): a crash loop against aponod --dev.

Workload threads keep creating short requests, approving, rejecting and revoking them and
fetching access details against a real PostgreSQL target, while the main thread kills aponod
with SIGKILL at random moments, restarts it on the same data dir and port, and checks the
invariants after every restart:
  (a) every request whose creation got a 2xx is still in the store, with a status from the
      documented set, fields that fit it, and no status ever seen going backwards;
  (b) no request ACTIVE more than 2 s of broker up-time past its end (so: the end, plus any
      downtime in between, plus 2 s);
  (c) no apono_ role at the target for an ended grant, none for a request the store does not
      know, none left for a due grant past that same deadline;
  (d) each request's audit trail starts with its creation, its status changes follow the
      lifecycle's edges, end as the revoke's cause says, and contain every status the client
      saw, in the order it saw them;
  (e) exactly-once: per request at most one of each status change (an action with the status
      it records: request.created PENDING, request.revoked REVOKING, request.revoked REVOKED,
      ...), per unit at most one unit.granted and one unit.revoked; here on the audit as the
      API gives it.
The client keeps its own record of everything it saw: each observation carries the times the
call was sent and answered, so two observations are ordered only when their calls did not
overlap.
`scripts/chaos --replicas N` runs scripts/chaos_replicas.py instead, which builds on this file:
the same workload and checks against N replicas on a PostgreSQL store (the hooks below marked
"one broker or several" are what it overrides).
Python 3 standard library only.
"""
import argparse
import datetime
import http.client
import json
import os
import random
import re
import signal
import ssl
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback

STATUSES = {"PENDING", "GRANTING", "ACTIVE", "REVOKING", "EXPIRED", "REVOKED", "REJECTED", "FAILED"}
FINAL = {"EXPIRED", "REVOKED", "REJECTED", "FAILED"}
LIVE = {"GRANTING", "ACTIVE", "REVOKING"}  # may hold a role at the target
# One status change in the audit trail: the lifecycle of docs/api.md.
EDGES = {
    "PENDING": {"GRANTING", "REJECTED", "REVOKED", "FAILED"},
    "GRANTING": {"ACTIVE", "REVOKING"},
    "ACTIVE": {"REVOKING"},
    "REVOKING": {"EXPIRED", "REVOKED", "FAILED"},
}
for s in FINAL:
    EDGES[s] = set()


def _closure():
    reach = {}
    for s in STATUSES:
        seen, todo = {s}, [s]
        while todo:
            for n in EDGES[todo.pop()]:
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        reach[s] = seen
    return reach


REACH = _closure()  # statuses a request may show later, itself included
# What a REVOKING step says the end will be.
CAUSE_END = {"request.expiring": "EXPIRED", "request.revoked": "REVOKED",
             "request.grant_abandoned": "FAILED"}
ROLE_RE = re.compile(r"^apono_ar(\d+)_[a-z0-9]{6}$")
ID_RE = re.compile(r"^AR-0*(\d+)$")
# An error line of aponod's log ("2026-11-23T10:00:00.000Z error aponod: message"): the prefix.
LOG_ERROR_RE = re.compile(r"^\S+Z (?:error|critical)\s+\S+: ")
GRACE = 2.0  # seconds of broker up-time allowed past a grant's end
# Exactly-once: audit actions a request may have at most once per status they record, and unit
# steps a unit may have at most once.
ONCE = {"request.created", "request.approved", "request.rejected", "request.active",
        "request.expiring", "request.revoked", "request.expired", "request.grant_abandoned",
        "request.pending_timeout", "request.failed"}
ONCE_PER_UNIT = {"unit.granted", "unit.revoked"}
DUPLICATED = ("request.expired", "unit.revoked")  # what APONO_CHAOS_INJECT=dup repeats
LIST_CAP = 1000  # the checks list at most this many requests, newest first


def ts(text):
    if text is None:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rid(text):
    m = ID_RE.match(text or "")
    return int(m.group(1)) if m else None


def fmt_id(n):
    return "AR-%05d" % n


def stats(xs):
    if not xs:
        return "n/a"
    return "median %.2f s, max %.2f s" % (statistics.median(xs), max(xs))


def clear_api_url(data_dir):
    """Sets api_url to null in DATA_DIR/dev-credentials.json (0600, replaced atomically), so
    that the file naming a URL again means the aponod just started is ready."""
    creds = os.path.join(data_dir, "dev-credentials.json")
    if not os.path.exists(creds):
        return
    with open(creds) as f:
        doc = json.load(f)
    doc["api_url"] = None
    tmp = creds + ".chaos"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, creds)


class Down(Exception):
    """The broker did not answer (killed, restarting). `sent` is False when the connection was
    refused, so the call never reached a broker; otherwise its outcome is unknown."""

    def __init__(self, msg, sent):
        super().__init__(msg)
        self.sent = sent


class Client:
    """One keep-alive HTTPS connection as one user; used by one thread. With replicas it talks
    to one of them, as through a load balancer, and moves on to another when its replica
    refuses connections."""

    def __init__(self, chaos, user):
        self.chaos, self.user, self.conn, self.gen = chaos, user, None, 0
        self.next_cursor = None  # the X-Next-Cursor of the last answer
        self.balancer = chaos.balancer(user)  # None with one broker
        self.rep = self.balancer.randrange(chaos.replica_count()) if self.balancer else 0

    def connect(self):
        """Opens a connection to this client's replica or, when it refuses, to another one;
        raises ConnectionRefusedError when every one refuses."""
        c = self.chaos
        order = [self.rep]
        if self.balancer:
            others = [i for i in range(c.replica_count()) if i != self.rep]
            order += self.balancer.sample(others, len(others))
        for i, rep in enumerate(order):
            host, port, tls = c.endpoint(rep)
            self.gen = c.gen_of(rep)
            conn = http.client.HTTPSConnection(host, port, context=tls, timeout=15)
            try:
                conn.connect()
            except ConnectionRefusedError:
                conn.close()
                if i + 1 == len(order):
                    raise
                continue
            self.rep, self.conn = rep, conn
            return

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method, path, body=None, expect=(200,)):
        """Returns (status, json, sent, received); raises Down when there was no answer."""
        c = self.chaos
        headers = {"Authorization": "Bearer " + c.tokens[self.user]}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.gen != c.gen_of(self.rep):
            # A connection to a killed process fails on first use, and that failure would look
            # like a call cut by the kill: "no answer" is kept for calls really in flight.
            self.close()
        post = method == "POST"
        kind = path.rsplit("/", 1)[-1] if post else None
        sent = time.time()
        try:
            if self.conn is None:
                self.connect()
            self.conn.request(method, path, body=data, headers=headers)
            if post and c.kill_armed:
                c.kill_now(self.rep)
            resp = self.conn.getresponse()
            raw = resp.read()
            if resp.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            reached = not isinstance(e, ConnectionRefusedError)
            if post and reached:
                with c.lock:
                    c.cut[kind] = c.cut.get(kind, 0) + 1
            raise Down(str(e), reached) from None
        received = time.time()
        c.answered(self.rep)
        self.next_cursor = resp.getheader("X-Next-Cursor")
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        if resp.status >= 500 and c.excused(resp, sent, received):
            # Documented while the store is down: like no answer, the outcome of a write is
            # unknown (a commit may have lost its connection).
            with c.lock:
                c.unavailable[kind or "read"] = c.unavailable.get(kind or "read", 0) + 1
            raise Down("%s %s answered %d while the store was down" % (method, path, resp.status),
                       True)
        if resp.status >= 500:
            c.violation("5xx", None, "%s %s as %s answered %d: %s" %
                        (method, path, self.user, resp.status, raw[:300]))
        elif resp.status not in expect:
            c.violation("api", None, "%s %s as %s answered %d (expected %s): %s" %
                        (method, path, self.user, resp.status, expect, raw[:300]))
        return resp.status, doc, sent, received


class Obs:
    __slots__ = ("status", "sent", "recv", "src")

    def __init__(self, status, sent, recv, src):
        self.status, self.sent, self.recv, self.src = status, sent, recv, src


class Req:
    """What the client saw of one request."""

    def __init__(self, n, requester):
        self.id, self.requester = n, requester
        self.acked = None  # when its creation was answered 2xx
        self.adopted = False  # first seen in a list, not in its creation's answer
        self.obs = []
        self.latest = None  # the request JSON answered last
        self.latest_recv = 0.0
        self.logins = set()  # from access details


class Chaos:
    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.lock = threading.Lock()
        self.reqs = {}
        self.nonfinal = set()
        self.violations = []
        self.reported = set()
        self.stop = threading.Event()
        self.round = 0
        self.downs = []  # (killed, ready) of every downtime, in order
        self.proc = None
        self.gen = 0  # +1 at every kill
        self.cut = {}  # POSTs without an answer, by their last path segment
        self.unavailable = {}  # 503s excused while the store was down, by path segment
        self.kills_in_post = 0
        self.kills_in_start = 0
        self.kill_armed = False  # the next write sent kills aponod
        self.kill_done = threading.Event()
        self.kill_time = None
        self.log = None
        self.tokens = {}
        self.host, self.port, self.tls = "127.0.0.1", a.port, None
        self.audit_cursor = 0
        self.audit = {}  # request id -> its audit events, oldest first
        self.audit_last_id = 0
        self.orphan_pids = {}  # pid -> first time its role was seen gone
        self.holders = []  # psql sessions kept open as grantees
        self.counts = dict(created=0, unacked=0, adopted=0, revokes=0, approvals=0, rejections=0,
                           details=0, sessions=0, crashes=0)
        self.cut_from_restart = []  # restart -> no due grant ACTIVE or with a role
        self.cut_from_ready = []
        self.ended_from_ready = []  # ready -> every due grant in its end status
        self.downtimes = []
        self.starts = []
        self.due_total = 0
        self.due_words = ("restart", "restart", "ready")  # how the summary names the moments

    # ------------------------------------------------------------------ one broker or several
    # scripts/chaos_replicas.py overrides these for several replicas on a PostgreSQL store.
    def replica_count(self):
        return 1

    def endpoint(self, rep):
        """(host, port, TLS context) of replica `rep`."""
        return self.host, self.port, self.tls

    def gen_of(self, rep):
        """Counts the kills of replica `rep`: a connection made before the last one is dead."""
        return self.gen

    def balancer(self, user):
        """A random source for `user`'s choice of replica, None with one broker."""
        return None

    def excused(self, resp, sent, recv):
        """True for a 5xx the documentation allows at that moment (a store outage)."""
        return False

    def answered(self, rep):
        """Replica `rep` answered a call (any status)."""

    def aponod_extra(self):
        """Arguments a mode adds to aponod's command line (scripts/chaos_notify.py)."""
        return []

    # ------------------------------------------------------------------ bookkeeping
    def say(self, *args):
        print(*args, file=sys.stderr, flush=True)

    def violation(self, kind, key, msg):
        with self.lock:
            k = (kind, key) if key is not None else None
            if k is not None and k in self.reported:
                return
            if k is not None:
                self.reported.add(k)
            self.violations.append((self.round, kind, msg))
        self.say("VIOLATION (%s) round %d: %s" % (kind, self.round, msg))

    def driver_error(self, e):
        self.violation("driver", None, "driver error: %s\n%s" % (e, traceback.format_exc()))

    def deadline(self, t):
        """When something due at `t` must be done: after GRACE seconds of broker up-time."""
        need, cur = GRACE, t
        for killed, ready in self.downs:
            if ready <= cur:
                continue
            if killed > cur:
                if killed - cur >= need:
                    return cur + need
                need -= killed - cur
            cur = max(cur, ready)
        return cur + need

    def observe(self, doc, sent, recv, src):
        """Records a request as answered by the broker and checks it."""
        n = rid(doc.get("id"))
        if n is None:
            self.violation("a", None, "%s: request without a valid id: %s" % (src, doc))
            return None
        st = doc.get("status")
        with self.lock:
            r = self.reqs.get(n)
            if r is None:
                r = self.reqs[n] = Req(n, doc.get("requester"))
                if src != "create":
                    r.adopted = True
                    self.counts["adopted"] += 1
            elif src == "create" and r.adopted:  # a list saw it before its answer was read
                r.adopted = False
                self.counts["adopted"] -= 1
            problems = self.add_obs(r, Obs(st, sent, recv, src))
            if src == "create":
                r.acked = recv
            if recv >= r.latest_recv:
                r.latest, r.latest_recv = doc, recv
                if st in FINAL:
                    self.nonfinal.discard(n)
                else:
                    self.nonfinal.add(n)
        for p in problems:
            self.violation("a", (n, p), "%s: went back: %s" % (fmt_id(n), p))
        self.check_fields(n, doc, recv, src)
        return r

    @staticmethod
    def add_obs(r, new):
        """Checks `new` against what was seen before (call with the lock held). Only a change of
        status is stored: a repeat adds nothing to later checks and the lists would grow by
        one entry per request and round."""
        problems = []
        for o in r.obs:
            if o.recv < new.sent and new.status not in REACH.get(o.status, ()):
                problems.append("%s seen (%s) and later %s (%s)" % (o.status, o.src, new.status,
                                                                  new.src))
            if new.recv < o.sent and o.status not in REACH.get(new.status, ()):
                problems.append("%s seen (%s) and later %s (%s)" % (new.status, new.src, o.status,
                                                                  o.src))
        if not r.obs or r.obs[-1].status != new.status:
            r.obs.append(new)
        return problems

    def observe_status(self, n, st, sent, recv, src):
        with self.lock:
            r = self.reqs.get(n)
            if r is None:
                return
            problems = self.add_obs(r, Obs(st, sent, recv, src))
        for p in problems:
            self.violation("a", (n, p), "%s: went back: %s" % (fmt_id(n), p))

    def check_fields(self, n, d, recv, src):
        st = d.get("status")
        bad = []
        if st not in STATUSES:
            bad.append("status %r is not documented" % st)
        units = d.get("units") or []
        if not units:
            bad.append("no units")
        ustates = {u.get("status") for u in units}
        created, updated = ts(d.get("created_at")), ts(d.get("updated_at"))
        start, end = ts(d.get("active_from")), ts(d.get("ends_at"))
        if created is None or updated is None or updated < created:
            bad.append("created_at %s / updated_at %s" % (d.get("created_at"), d.get("updated_at")))
        if st in FINAL and ustates != {st}:
            bad.append("ended %s with units %s" % (st, sorted(map(str, ustates))))
        if st == "ACTIVE" and ustates != {"ACTIVE"}:
            bad.append("ACTIVE with units %s" % sorted(map(str, ustates)))
        if st == "PENDING" and (ustates != {"PENDING"} or start is not None):
            bad.append("PENDING with units %s, active_from %s" % (sorted(map(str, ustates)),
                                                                  d.get("active_from")))
        if st in ("ACTIVE", "EXPIRED"):
            if start is None or end is None:
                bad.append("%s without active_from/ends_at" % st)
            elif abs(end - start - d.get("duration_seconds", -1)) > 0.002:
                bad.append("ends_at - active_from != duration_seconds")
        want_reason = {"EXPIRED": "expired", "REVOKED": "revoked", "FAILED": "failed"}.get(st)
        if want_reason and d.get("end_reason") != want_reason:
            bad.append("%s with end_reason %r" % (st, d.get("end_reason")))
        if st == "REVOKING" and d.get("end_reason") not in ("expired", "revoked", "failed"):
            bad.append("REVOKING with end_reason %r" % d.get("end_reason"))
        if st == "EXPIRED" and end is not None:
            if end > recv:
                bad.append("EXPIRED but its end %s is still ahead" % d.get("ends_at"))
            if updated is not None and updated < end:
                bad.append("EXPIRED at %s, before its end %s" % (d.get("updated_at"),
                                                                   d.get("ends_at")))
        if st == "REJECTED" and not d.get("reason"):
            bad.append("REJECTED without a reason")
        for b in bad:
            self.violation("a", (n, b), "%s: %s (seen in %s, answered at %s)" % (
                fmt_id(n), b, src, datetime.datetime.fromtimestamp(
                    recv, datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]))

    # ------------------------------------------------------------------ target side
    def psql(self, sql):
        out = subprocess.run(
            ["psql", "-X", "-q", "-tA", "-h", self.a.pg_host, "-p", str(self.a.pg_port), "-U",
             "postgres", "-d", "postgres", "-c", sql],
            capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("psql: " + out.stderr.strip())
        return [line for line in out.stdout.splitlines() if line]

    def target_roles(self):
        """(sent, apono_ role names) at the target."""
        sent = time.time()
        return sent, self.psql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'apono\\_%'")

    def orphan_sessions(self):
        """Client sessions whose role is gone; each must vanish within GRACE of being seen."""
        now = time.time()
        rows = self.psql(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND usesysid IS NOT NULL AND usesysid NOT IN (SELECT oid FROM pg_roles)")
        pids = {int(p) for p in rows}
        for p in list(self.orphan_pids):
            if p not in pids:
                del self.orphan_pids[p]
        for p in pids:
            first = self.orphan_pids.setdefault(p, now)
            if now - first > GRACE:
                self.violation("c", ("session", p), "backend %d still runs for a dropped role "
                               "%.1f s after it was first seen" % (p, now - first))

    def hold_session(self, details):
        """Keeps a session open as the grantee, so revokes must end live sessions too."""
        with self.lock:
            self.holders = [h for h in self.holders if h.poll() is None]
            if len(self.holders) >= 3:
                return False
        u = details["units"][0]
        env = dict(os.environ, PGPASSWORD=u["password"], PGCONNECT_TIMEOUT="3", PGSSLMODE="disable")
        p = subprocess.Popen(["psql", "-X", "-q", "-h", u["host"], "-p", str(u["port"]), "-U",
                              u["username"], "-d", u["database"], "-c", "SELECT pg_sleep(30)"],
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        with self.lock:
            self.holders.append(p)
            self.counts["sessions"] += 1
        return True

    # ------------------------------------------------------------------ workload
    def create(self, c, rnd, manual):
        perms = (rnd.choice([["read_write"], ["admin"], ["read_write", "admin"]]) if manual
                 else ["read_only"])
        body = {"integration": "pg-local", "resource_type": "database", "resources": [self.a.db],
                "permissions": perms, "duration": "%ds" % rnd.randint(2, 8),
                "justification": "chaos round %d" % self.round}
        try:
            st, doc, s, r = c.call("POST", "/api/v1/access-requests", body, expect=(201,))
        except Down as e:
            if e.sent:
                with self.lock:
                    self.counts["unacked"] += 1
            raise
        if st == 201 and isinstance(doc, dict):
            with self.lock:
                self.counts["created"] += 1
            self.observe(doc, s, r, "create")

    def get(self, c, n, src, expect=(200,)):
        """The request as the broker has it now, or None when it answers 404."""
        st, doc, s, r = c.call("GET", "/api/v1/access-requests/%s" % fmt_id(n), expect=expect)
        if st == 200:
            self.observe(doc, s, r, src)
            return doc
        return None

    def revoke(self, c, n):
        st, doc, s, r = c.call("POST", "/api/v1/access-requests/%s/revoke" % fmt_id(n),
                               {"reason": "chaos"}, expect=(200, 409))
        if st == 200:
            with self.lock:
                self.counts["revokes"] += 1
            self.observe(doc, s, r, "revoke by " + c.user)

    def details(self, c, n, rnd):
        """Fetches the access details; True when it left a session open as the grantee."""
        st, doc, s, r = c.call(
            "GET", "/api/v1/access-sessions/%s/access-details" % fmt_id(n), expect=(200, 409))
        if st != 200:
            return False
        with self.lock:
            self.counts["details"] += 1
        self.observe_status(n, "ACTIVE", s, r, "access-details")
        for u in doc.get("units", []):
            login = u.get("username", "")
            m = ROLE_RE.match(login)
            if not m or int(m.group(1)) != n:
                self.violation("c", (n, login), "%s: login %r does not follow the naming rule "
                               "apono_ar<id>_xxxxxx" % (fmt_id(n), login))
            with self.lock:
                if n in self.reqs:
                    self.reqs[n].logins.add(login)
        if rnd.random() < 0.2:
            return self.hold_session(doc)
        return False

    def own_live(self, user):
        with self.lock:
            return [(n, self.reqs[n].latest.get("status")) for n in self.nonfinal
                    if self.reqs[n].requester == user]

    def requester_loop(self, user, seed):
        rnd, c = random.Random(seed), Client(self, user)
        while not self.stop.is_set():
            try:
                x = rnd.random()
                if x < 0.5:
                    self.create(c, rnd, manual=False)
                elif x < 0.72:
                    self.create(c, rnd, manual=True)
                else:
                    live = self.own_live(user)
                    if live:
                        n, st = rnd.choice(live)
                        if st == "ACTIVE":
                            # A session just opened is left to the grant's end or a later
                            # revoke, so both must cut live sessions.
                            if not self.details(c, n, rnd) and rnd.random() < 0.3:
                                self.revoke(c, n)
                        elif st == "PENDING" and rnd.random() < 0.3:
                            self.revoke(c, n)
                        elif st == "GRANTING" and rnd.random() < 0.2:
                            self.revoke(c, n)
                        else:
                            self.get(c, n, "get by " + user)
            except Down:
                self.stop.wait(0.05)
                continue
            except Exception as e:  # a bug here must not pass silently
                self.driver_error(e)
            self.stop.wait(rnd.uniform(0.2, 0.7))
        c.close()

    def approver_loop(self, seed):
        rnd, c = random.Random(seed), Client(self, "approver")
        while not self.stop.is_set():
            try:
                st, doc, s, r = c.call("GET", "/api/v1/access-requests?scope=approvable")
                for d in doc if st == 200 else []:
                    self.observe(d, s, r, "approvable list")
                    if d.get("status") != "PENDING":
                        self.violation("a", None, "%s in the approvable list as %s" %
                                       (d.get("id"), d.get("status")))
                for d in doc if st == 200 else []:
                    x = rnd.random()
                    path = "/api/v1/access-requests/%s/" % d["id"]
                    if x < 0.75:
                        st2, d2, s2, r2 = c.call("POST", path + "approve", {}, expect=(200, 409))
                        key = "approvals"
                    elif x < 0.9:
                        st2, d2, s2, r2 = c.call("POST", path + "reject",
                                                 {"reason": "chaos says no"}, expect=(200, 409))
                        key = "rejections"
                    else:
                        continue
                    if st2 == 200:
                        with self.lock:
                            self.counts[key] += 1
                        self.observe(d2, s2, r2, key)
            except Down:
                self.stop.wait(0.05)
                continue
            except Exception as e:
                self.driver_error(e)
            self.stop.wait(rnd.uniform(0.2, 0.6))
        c.close()

    def admin_loop(self, seed):
        rnd, c = random.Random(seed), Client(self, "admin")
        while not self.stop.is_set():
            try:
                with self.lock:
                    live = list(self.nonfinal)
                if live:
                    n = rnd.choice(live)
                    if rnd.random() < 0.25:
                        self.revoke(c, n)
                    else:
                        self.get(c, n, "get by admin")
            except Down:
                self.stop.wait(0.05)
                continue
            except Exception as e:
                self.driver_error(e)
            self.stop.wait(rnd.uniform(0.3, 1.0))
        c.close()

    # ------------------------------------------------------------------ aponod
    def spawn(self):
        # The file keeps the last run's URL; cleared so readiness means this process.
        clear_api_url(self.a.data_dir)
        self.log.write("==== chaos: start at %.3f (round %d)\n" % (time.time(), self.round))
        self.log.flush()
        t = time.time()
        self.proc = subprocess.Popen(
            [self.a.aponod, "--dev", "--data-dir", self.a.data_dir, "--listen",
             "127.0.0.1:%d" % self.a.port, "--pg-target", self.a.pg_url] + self.aponod_extra(),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        with open(self.a.pid_file, "w") as f:
            f.write("%d\n" % self.proc.pid)
        return t

    def wait_ready(self):
        """Until this process wrote its URL and /readyz answers 200; None if it exited."""
        creds = os.path.join(self.a.data_dir, "dev-credentials.json")
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return None
            try:
                with open(creds) as f:
                    doc = json.load(f)
            except (OSError, ValueError):
                doc = None
            if doc and isinstance(doc.get("api_url"), str):
                if self.tls is None:
                    self.tls = ssl.create_default_context(cafile=doc["ca_file"])
                    self.tokens = {u["name"]: u["token"] for u in doc["users"]}
                try:
                    conn = http.client.HTTPSConnection(self.host, self.port, context=self.tls,
                                                       timeout=5)
                    conn.request("GET", "/readyz")
                    ok = conn.getresponse().status == 200
                    conn.close()
                    if ok:
                        return time.time()
                except (OSError, http.client.HTTPException):
                    pass
            time.sleep(0.02)
        return None

    def crashed(self, when):
        code = self.proc.returncode
        with self.lock:
            self.counts["crashes"] += 1
        self.violation("crash", None, "aponod exited by itself (%s) %s; log tail:\n%s" %
                       (code, when, self.log_tail()))

    def log_tail(self, lines=30):
        try:
            with open(self.a.log_file, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def start(self):
        for _ in range(3):
            t_spawn = self.spawn()
            t_ready = self.wait_ready()
            if t_ready is not None:
                return t_spawn, t_ready
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                self.violation("crash", None, "aponod not ready after 60 s:\n" + self.log_tail())
            else:
                self.crashed("while starting")
        raise SystemExit("chaos: aponod does not start; giving up")

    # ------------------------------------------------------------------ checks
    def list_all(self, c):
        """The newest LIST_CAP requests, page by page; times are the first page's sending and
        the last page's answer (everything acknowledged before the first is in some page)."""
        base = "/api/v1/access-requests?scope=all&limit=500"
        path, first = base, None
        snap = {}
        while True:
            st, doc, s, r = c.call("GET", path)
            if st != 200:
                raise RuntimeError("list answered %d" % st)
            first = s if first is None else first
            for d in doc:
                self.observe(d, s, r, "list")
                snap[rid(d["id"])] = d
            if not c.next_cursor or len(snap) >= LIST_CAP:
                return snap, first, r
            path = base + "&cursor=" + c.next_cursor

    def check_roles(self, c, status_of, t_pg, roles, fetch=True):
        """(c): each apono_ role must belong to a request that may still hold access, or be
        within its deadline. `status_of` maps ids to request JSON read before `t_pg`, so a
        request PENDING or GRANTING there may have been granted since."""
        per_request = {}
        for name in roles:
            m = ROLE_RE.match(name)
            if m:
                per_request.setdefault(int(m.group(1)), []).append(name)
        for n, names in per_request.items():
            # A grant retried after a crash must reuse the login it stored first, never add one.
            with self.lock:
                r = self.reqs.get(n)
                units = len(r.latest.get("units") or []) if r else None
                logins = set(r.logins) if r else set()
            if units is not None and len(names) > units:
                self.violation("c", ("extra", n), "%s has %d unit(s) but %d roles at the target: %s"
                               % (fmt_id(n), units, len(names), ", ".join(sorted(names))))
            if logins and len(logins) >= units and set(names) - logins:
                self.violation("c", ("unknown login", n), "%s: role(s) %s at the target are not "
                               "the logins its access details gave (%s)" % (
                                   fmt_id(n), ", ".join(sorted(set(names) - logins)),
                                   ", ".join(sorted(logins))))
        for name in roles:
            m = ROLE_RE.match(name)
            if not m:
                self.violation("c", ("name", name), "role %r at the target does not follow the "
                               "naming rule" % name)
                continue
            n = int(m.group(1))
            d = status_of.get(n)
            if d is None and not fetch:
                continue
            if d is None:  # newer than the snapshot, or older than the list's newest 1000
                d = self.get(c, n, "role check", expect=(200, 404))
                if d is None:
                    self.violation("c", ("orphan", name), "role %s belongs to no request" % name)
                    continue
            st = d["status"]
            if st in FINAL:
                self.violation("c", ("ended", name), "role %s is at the target though %s is %s" %
                               (name, d["id"], st))
            elif st == "ACTIVE" and self.deadline(ts(d["ends_at"])) < t_pg:
                self.violation("c", ("overdue", name), "role %s of %s still there %.2f s after "
                               "its end (ends_at %s)" % (name, d["id"], t_pg - ts(d["ends_at"]),
                                                          d["ends_at"]))
            elif st == "REVOKING":
                # An expiry is due at the end, a revoke when it was asked for (updated_at).
                since = ts(d["ends_at"] if d.get("end_reason") == "expired" else d["updated_at"])
                if self.deadline(since) < t_pg:
                    self.violation("c", ("stuck", name), "role %s of %s still there %.2f s after "
                                   "%s (REVOKING since %s)" % (
                                       name, d["id"], t_pg - since,
                                       "its end" if d.get("end_reason") == "expired"
                                       else "revoking began", d["updated_at"]))

    def check_overdue(self, snap, sent):
        """(b): nothing ACTIVE past its deadline when the snapshot was asked for."""
        for n, d in snap.items():
            if d["status"] == "ACTIVE" and self.deadline(ts(d["ends_at"])) < sent:
                self.violation("b", ("active", n), "%s is ACTIVE %.2f s after its end %s" %
                               (d["id"], sent - ts(d["ends_at"]), d["ends_at"]))

    def window(self, c, t_spawn, t_ready):
        """After a restart: polls until no grant that came due is ACTIVE or has its role at
        the target (the invariants), and until all of them reached their end status.
        Returns (due count, seconds from ready to the first, to the second)."""
        snap, s, _ = self.list_all(c)
        self.check_overdue(snap, s)
        due = {n for n, d in snap.items()
               if d["status"] == "REVOKING"
               or (d["status"] == "ACTIVE" and ts(d["ends_at"]) <= t_ready)}
        if not due:
            return 0, None, None
        state = dict(snap)
        limit = t_ready + 15
        cut = None  # when access was gone: nothing ACTIVE, no role
        while True:
            for n in due:
                if state[n]["status"] not in FINAL:
                    sent = time.time()
                    d = self.get(c, n, "window")
                    if d is not None:
                        state[n] = d
                        self.check_overdue({n: d}, sent)
            t_pg, roles = self.target_roles()
            self.check_roles(c, state, t_pg, roles)
            with_role = {int(m.group(1)) for m in map(ROLE_RE.match, roles) if m} & due
            now = time.time()
            if cut is None and not with_role and \
                    not any(state[n]["status"] == "ACTIVE" for n in due):
                cut = now
                self.cut_from_restart.append(now - t_spawn)
                self.cut_from_ready.append(now - t_ready)
            if cut is not None and all(state[n]["status"] in FINAL for n in due):
                self.ended_from_ready.append(now - t_ready)
                self.due_total += len(due)
                if now - t_ready > GRACE:
                    self.explain_late(c, due, t_ready)
                return len(due), cut - t_ready, now - t_ready
            if now > limit:
                left = {n for n in due if state[n]["status"] not in FINAL} | with_role
                self.violation("b", None, "%d due grant(s) not ended 15 s after ready: %s" % (
                    len(left), ", ".join("%s %s%s" % (fmt_id(n), state[n]["status"],
                                                      " (role at the target)" if n in with_role
                                                      else "") for n in sorted(left))))
                self.explain_late(c, due, t_ready)
                return len(due), None if cut is None else cut - t_ready, None
            time.sleep(0.05)

    def explain_late(self, c, due, t_ready):
        """Prints the audit trail of due grants that took longer than GRACE, relative to ready."""
        self.fetch_audit(c)
        for n in sorted(due):
            evs = [e for e in self.audit.get(n, []) if ts(e["at"]) >= t_ready - 10]
            self.say("chaos: round %d: %s: %s" % (self.round, fmt_id(n), ", ".join(
                "%s %+.2f s" % (e["action"], ts(e["at"]) - t_ready) for e in evs)))

    def fetch_audit(self, c):
        while True:
            st, doc, s, r = c.call("GET", "/api/v1/audit?after=%d&limit=1000" % self.audit_cursor)
            if st != 200:
                raise RuntimeError("audit answered %d" % st)
            for ev in doc:
                if ev["id"] <= self.audit_last_id:
                    self.violation("d", ("order", ev["id"]), "audit ids not increasing at %d" %
                                   ev["id"])
                self.audit_last_id = max(self.audit_last_id, ev["id"])
                n = rid(ev.get("request_id"))
                if n is not None:
                    self.audit.setdefault(n, []).append(ev)
            if doc:
                self.audit_cursor = doc[-1]["id"]
            if len(doc) < 1000:
                return s

    def check_audit(self, n, r, fetched):
        """(d) for one request, against the audit read by a call sent at `fetched`."""
        with self.lock:
            seen = sorted((o for o in r.obs if o.recv < fetched), key=lambda o: o.sent)
        if not seen:
            return  # created after the audit was read (or not seen yet): next round
        evs = self.audit.get(n, [])
        chain = [e for e in evs if e.get("status")]
        name = fmt_id(n)
        if not chain or chain[0]["action"] != "request.created" or \
                chain[0]["status"] not in ("PENDING", "GRANTING"):
            self.violation("d", (n, "created"), "%s: audit trail does not start with its "
                           "creation: %s" % (name, [(e["action"], e["status"]) for e in chain[:3]]))
            return
        if any(e["action"] == "request.created" for e in evs[1:]):
            self.violation("d", (n, "created2"), "%s: created twice in the audit trail" % name)
        index = {}
        for i, e in enumerate(chain):
            index.setdefault(e["status"], i)
            if i and e["status"] not in EDGES[chain[i - 1]["status"]]:
                self.violation("d", (n, "edge", i), "%s: audit goes %s -> %s (%s)" % (
                    name, chain[i - 1]["status"], e["status"], e["action"]))
            if i and ts(e["at"]) < ts(chain[i - 1]["at"]):
                self.violation("d", (n, "time", i), "%s: audit time goes back at %s" %
                               (name, e["action"]))
        cause = next((e["action"] for e in chain if e["status"] == "REVOKING"), None)
        last = chain[-1]["status"]
        if cause and last in FINAL and CAUSE_END.get(cause) != last:
            self.violation("d", (n, "cause"), "%s: began REVOKING by %s but ended %s" %
                           (name, cause, last))
        if last in ("EXPIRED", "REVOKED", "FAILED"):
            granted = {e["detail"].get("unit") for e in evs if e["action"] == "unit.granted"}
            revoked = {e["detail"].get("unit") for e in evs if e["action"] == "unit.revoked"}
            if granted - revoked:
                self.violation("d", (n, "units"), "%s: ended %s but units %s were granted and "
                               "never revoked in the audit" % (name, last,
                                                               sorted(granted - revoked)))
        if "ACTIVE" in index and not any(e["action"] == "unit.granted" for e in evs):
            self.violation("d", (n, "granted"), "%s: ACTIVE without unit.granted" % name)
        for o in seen:
            if o.status not in index:
                self.violation("d", (n, "missing", o.status), "%s: %s was seen (%s) but is not in "
                               "the audit trail %s" % (name, o.status, o.src,
                                                       [e["status"] for e in chain]))
        for j, b in enumerate(seen):
            for a in seen[:j]:
                if a.recv < b.sent and index.get(a.status, -1) > index.get(b.status, 99):
                    self.violation("d", (n, "order", a.status, b.status),
                                   "%s: saw %s (%s) before %s (%s), the audit has them the "
                                   "other way" % (name, a.status, a.src, b.status, b.src))

    def full_check(self, c, every=False):
        snap, s, _ = self.list_all(c)
        t_pg, roles = self.target_roles()
        self.check_overdue(snap, s)
        self.check_roles(c, snap, t_pg, roles)
        self.orphan_sessions()
        # (a): the list holds the newest LIST_CAP; older requests are asked for
        # one by one, the live ones every round and the ended ones in turns (all at the end).
        capped = len(snap) >= LIST_CAP
        oldest = min(snap) if snap else 0
        with self.lock:
            acked = {n: r.acked for n, r in self.reqs.items() if r.acked is not None}
            live = set(self.nonfinal)
        ask = []
        for n, at in sorted(acked.items()):
            if n in snap:
                continue
            if at < s and (not capped or n > oldest):
                self.violation("a", ("missing", n), "%s was created (2xx) but is not listed"
                               % fmt_id(n))
                ask.append(n)
            elif capped and n < oldest and (every or n in live or n % 20 == self.round % 20):
                ask.append(n)
        for n in ask:
            if self.get(c, n, "check", expect=(200, 404)) is None:
                self.violation("a", ("gone", n), "%s was created (2xx) but is gone" % fmt_id(n))
        fetched = self.fetch_audit(c)
        with self.lock:
            reqs = list(self.reqs.values())
        for r in reqs:
            self.check_audit(r.id, r, fetched)
        self.check_once()
        statuses = {}
        for d in snap.values():
            statuses[d["status"]] = statuses.get(d["status"], 0) + 1
        return snap, statuses

    def check_once(self):
        """Exactly-once, on the audit as the API gave it (replicas read their store instead)."""
        counts = {}
        for n, evs in self.audit.items():
            for e in evs:
                action = e["action"]
                if action in ONCE:
                    key = (n, action, "status %s" % e.get("status"))
                elif action in ONCE_PER_UNIT:
                    key = (n, action, "unit %s" % (e.get("detail") or {}).get("unit"))
                else:
                    continue
                counts[key] = counts.get(key, 0) + 1
        self.report_once(k + (v,) for k, v in counts.items() if v > 1)

    def report_once(self, dups):
        """`dups`: (request id, action, "status X" or "unit N", count) of each repeated step."""
        for n, action, what, count in dups:
            self.violation("once", (n, action, what), "%s: %s (%s) %d times in the audit" %
                           (fmt_id(n), action, what, count))

    # ------------------------------------------------------------------ the run
    def restart(self, t_kill):
        self.admin.close()
        time.sleep(self.rnd.uniform(0.0, 1.0))  # let grants come due while down
        if self.rnd.random() < 0.1:
            # Killed again while starting: recovery itself must survive a crash.
            self.spawn()
            time.sleep(self.rnd.uniform(0.0, 0.6))
            if self.proc.poll() is None:
                self.gen += 1
                self.proc.kill()
                self.proc.wait()
                self.kills_in_start += 1
            else:
                self.crashed("while starting")
        t_spawn, t_ready = self.start()
        self.downs.append((t_kill, t_ready))
        self.downtimes.append(t_ready - t_kill)
        self.starts.append(t_ready - t_spawn)
        return t_spawn, t_ready

    def kill_now(self, rep):
        """Called by a workload thread right after sending a write to replica `rep`, when
        armed."""
        with self.lock:
            if not self.kill_armed:
                return
            self.kill_armed = False
        time.sleep(random.uniform(0, 0.002))  # before, during or after the commit
        self.gen += 1
        self.kill_time = time.time()
        self.proc.kill()
        self.kills_in_post += 1
        self.kill_done.set()

    def inject(self, what):
        """Plants one fault the checks must report, to show that they can fail."""
        self.say("chaos: injecting %s in round %d" % (what, self.round))
        if what == "role":  # (c): a role no request owns
            self.psql("CREATE ROLE apono_ar999999_zzzzzz NOLOGIN")
        elif what == "stall":  # (c): grants come due while the broker is frozen, not down
            self.list_all(self.admin)  # the ends of the ACTIVE grants, for the checks
            self.proc.send_signal(signal.SIGSTOP)
            try:
                until = time.time() + 4
                while time.time() < until:
                    self.target_check()
                    time.sleep(0.5)
            finally:
                self.proc.send_signal(signal.SIGCONT)
        elif what == "audit":  # (d): a status change vanishes from the trail (broker down)
            db = sqlite3.connect(os.path.join(self.a.data_dir, "apono.db"))
            with db:
                db.execute("DELETE FROM audit WHERE id = (SELECT max(id) FROM audit WHERE id > ? "
                           "AND action = 'request.expiring')", (self.audit_cursor,))
            db.close()
        elif what == "dup":  # exactly-once: an expiry and a unit's revoke recorded twice
            db = sqlite3.connect(os.path.join(self.a.data_dir, "apono.db"))
            with db:
                for action in DUPLICATED:
                    db.execute("INSERT INTO audit(at, actor, action, request_id, status, detail) "
                               "SELECT at, actor, action, request_id, status, detail FROM audit "
                               "WHERE id = (SELECT max(id) FROM audit WHERE action = ?)",
                               (action,))
            db.close()

    def target_check(self):
        """While aponod runs: the target against what the client last saw, no API call."""
        with self.lock:
            latest = {n: r.latest for n, r in self.reqs.items()}
        t_pg, roles = self.target_roles()
        self.check_roles(None, latest, t_pg, roles, fetch=False)
        self.orphan_sessions()

    def one_round(self, admin):
        up = self.rnd.uniform(0.2, 3.0)
        now = time.time()
        end, next_check = now + up, now + 0.5
        while time.time() < end and self.proc.poll() is None:
            if time.time() >= next_check:
                self.target_check()
                next_check = time.time() + 0.5
            time.sleep(0.05)
        if self.round == 3 and "stall" in self.a.inject:
            self.inject("stall")
        t_kill = None
        if self.proc.poll() is None and self.rnd.random() < 0.3:
            # A third of the kills hit a write (creation, approval, rejection, revoke) just sent,
            # where a commit may have no answer; the rest fall wherever they fall.
            self.kill_done.clear()
            with self.lock:
                self.kill_armed = True
            fired = self.kill_done.wait(3)
            if not fired:
                with self.lock:
                    taken = not self.kill_armed  # a thread is about to kill
                    self.kill_armed = False
                fired = taken and self.kill_done.wait(2)
            if fired:
                self.proc.wait()
                t_kill = self.kill_time
        if t_kill is None:
            t_kill = time.time()
            if self.proc.poll() is not None:
                self.crashed("while serving")
            else:
                self.gen += 1
                self.proc.kill()
                self.proc.wait()
        self.gen += 1
        if self.round == 4 and "audit" in self.a.inject:
            self.inject("audit")
        if self.round == 5 and "dup" in self.a.inject:
            self.inject("dup")
        if self.round == 2 and "role" in self.a.inject:
            self.inject("role")
        t_spawn, t_ready = self.restart(t_kill)
        try:
            due, cut, ended = self.window(admin, t_spawn, t_ready)
            _, statuses = self.full_check(admin)
        except Down as e:
            if self.proc.poll() is None:
                self.violation("api", None, "no answer from a running aponod: %s" % e)
            else:
                self.crashed("during the checks")
                self.restart(time.time())
            return
        with self.lock:
            created, unacked = self.counts["created"], self.counts["unacked"]
        print("round %3d/%d: up %.2f s, down %.2f s (start %.2f s), due %d%s; "
              "requests %d (+%d unanswered), now %s; violations %d" % (
                  self.round, self.a.rounds, up, t_ready - t_kill, t_ready - t_spawn, due,
                  ", access gone %s s and ended %s s after ready" % (
                      "%.2f" % cut if cut is not None else "?",
                      "%.2f" % ended if ended is not None else "?") if due else "",
                  created, unacked, " ".join("%s=%d" % kv for kv in sorted(statuses.items())),
                  len(self.violations)), flush=True)

    def start_all(self):
        self.log = open(self.a.log_file, "a")
        print("chaos: seed %d, %d rounds, aponod %s, data dir %s, port %d" %
              (self.a.seed, self.a.rounds, self.a.aponod, self.a.data_dir, self.a.port), flush=True)
        self.start()

    def stop_all(self):
        """SIGTERM at the end: aponod must exit 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            code = None
            self.proc.kill()
            self.proc.wait()
        if code != 0:
            self.crashed("on SIGTERM (exit %s)" % code)

    def kill_all(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def run(self):
        a = self.a
        self.start_all()
        admin = self.admin = Client(self, "admin")
        threads = [threading.Thread(target=self.requester_loop, args=("alice", self.rnd.random())),
                   threading.Thread(target=self.requester_loop, args=("bob", self.rnd.random())),
                   threading.Thread(target=self.approver_loop, args=(self.rnd.random(),)),
                   threading.Thread(target=self.admin_loop, args=(self.rnd.random(),))]
        for t in threads:
            t.daemon = True
            t.start()
        began = time.time()
        try:
            for self.round in range(1, a.rounds + 1):
                self.one_round(admin)
            self.round += 1
            loop_secs = time.time() - began
            # Drain: no new work; every grant ends by itself, then nothing may be left.
            self.stop.set()
            for t in threads:
                t.join(timeout=30)
            drained = False
            until = time.time() + 30
            while time.time() < until:
                snap, _, _ = self.list_all(admin)
                with self.lock:
                    live = [n for n in self.nonfinal if n not in snap]
                for n in live:
                    self.get(admin, n, "drain")
                with self.lock:
                    busy = [n for n in self.nonfinal
                            if self.reqs[n].latest.get("status") in LIVE]
                if not busy:
                    drained = True
                    break
                time.sleep(0.2)
            if not drained:
                self.violation("b", None, "grants still live 30 s after the workload stopped: %s" %
                               ", ".join(fmt_id(n) for n in sorted(busy)))
            self.full_check(admin, every=True)
            statuses = {}
            with self.lock:
                for r in self.reqs.values():  # all fresh: every one was just read
                    st = r.latest.get("status")
                    statuses[st] = statuses.get(st, 0) + 1
            t_pg, roles = self.target_roles()
            if drained and roles:
                self.violation("c", None, "roles left at the target after every grant ended: %s" %
                               ", ".join(roles))
            self.stop_all()
        finally:
            self.stop.set()
            self.kill_all()
            with self.lock:
                holders = list(self.holders)
            for h in holders:
                if h.poll() is None:
                    h.kill()
                h.wait()
        self.summary(loop_secs, statuses)
        return 1 if self.violations else 0

    def log_files(self):
        return [self.a.log_file]

    def data_dirs(self):
        return [self.a.data_dir]

    def summary_extra(self):
        """Lines a mode adds to the summary."""
        return []

    def summary(self, loop_secs, statuses):
        k = self.counts
        log = []
        for name in self.log_files():
            with open(name, errors="replace") as f:
                log += f.readlines()
        errors = [line for line in log if LOG_ERROR_RE.match(line)]
        revoke_failed = sum("REVOKE FAILED" in line for line in log)
        by_kind = {}
        for _, kind, _ in self.violations:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        print("")
        print("summary (seed %d):" % self.a.seed)
        print("  rounds: %d kill -9 + restart in %.0f s" % (self.a.rounds, loop_secs))
        print("  crashes (aponod exiting other than by our kill): %d" % k["crashes"])
        print("  invariant violations: %d%s" % (len(self.violations), " (%s)" % ", ".join(
            "%s: %d" % kv for kv in sorted(by_kind.items())) if by_kind else ""))
        print("  kills aimed at a write just sent: %d; kills during a restart: %d; writes cut by a "
              "kill: %s" % (self.kills_in_post, self.kills_in_start,
                            " ".join("%s=%d" % kv for kv in sorted(self.cut.items())) or "none"))
        print("  requests created: %d answered 201, %d creations cut by a kill (%d of those found "
              "in the store); %d approvals, %d rejections, %d revokes, %d access-details fetches, "
              "%d sessions held open" % (k["created"], k["unacked"], k["adopted"],
                                         k["approvals"], k["rejections"], k["revokes"],
                                         k["details"], k["sessions"]))
        print("  final statuses: %s" % " ".join("%s=%d" % kv for kv in sorted(statuses.items())))
        print("  grants due at a %s: %d in %d rounds; %s to all of them expired at the "
              "target (none ACTIVE, no role left): %s; the same from %s: %s; %s to all of "
              "them in their end status: %s" % (
                  self.due_words[0], self.due_total, len(self.cut_from_restart),
                  self.due_words[1], stats(self.cut_from_restart), self.due_words[2],
                  stats(self.cut_from_ready), self.due_words[2], stats(self.ended_from_ready)))
        print("  downtime (kill to ready): %s; start (exec to ready): %s" %
              (stats(self.downtimes), stats(self.starts)))
        for line in self.summary_extra():
            print("  " + line)
        print("  aponod log: %d error lines (%d REVOKE FAILED)" % (len(errors), revoke_failed))
        leftovers = [os.path.join(os.path.basename(d), f) if len(self.data_dirs()) > 1 else f
                     for d in self.data_dirs() for f in os.listdir(d) if ".tmp." in f]
        if leftovers:
            print("  temporary files left in the data dir by killed writes: %s" %
                  ", ".join(sorted(leftovers)))
        for line in sorted(set(LOG_ERROR_RE.sub("", e.strip()) for e in errors))[:10]:
            print("    " + line[:200])


def arguments(description):
    """The options both drivers take (scripts/chaos passes them)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--aponod", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pg-url", required=True)
    p.add_argument("--pg-host", required=True)
    p.add_argument("--pg-port", type=int, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--log-file", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--inject", default="", help="comma-separated faults: role,stall,audit,dup")
    return p


def main():
    a = arguments(__doc__.split("\n")[0]).parse_args()
    # SIGTERM from the wrapper's trap: unwind through `finally`, which kills aponod.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(Chaos(a).run())


if __name__ == "__main__":
    main()
