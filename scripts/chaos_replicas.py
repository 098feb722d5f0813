#!/usr/bin/env python3
"""The driver of `scripts/chaos --replicas N` (run that, not this): chaos.py's crash loop
against N aponod replicas on one PostgreSQL store.

The workload, the checks and the faults are chaos.py's; what changes:
  - N replicas of one dev broker (shared users, SSH CA and store key; a TLS CA each) on a
    PostgreSQL store of their own, and every workload client talks to one replica, as behind a
    load balancer, moving on to another when its replica refuses connections;
  - each round kills one replica, several, or all of them (kill -9) at moments of their own,
    restarts each on its data dir and port, and in about one round in five crashes the store
    (an immediate stop) and starts it again;
  - (b) and the deadlines of (c) count only time when at least one replica was ready AND the
    store was up: a grant may outlive its end by the time no replica was alive, plus the store's
    downtime, plus 2 s;
  - exactly-once, read from the store's audit table with psql: per request at most one of each
    status change (the action with the status it records), per unit at most one unit.granted
    and one unit.revoked;
  - while the store is down (and for 2 s after it is back) a 503 is the documented answer, not a
    violation: it counts as a call without an answer. A replica started while the store is down
    exits ("store unavailable"); it is started again 0.3 s later, as a supervisor would. Any
    other exit is a crash.
Python 3 standard library only.
"""
import http.client
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time

from chaos import (DUPLICATED, GRACE, ONCE, ONCE_PER_UNIT, Chaos, Down, arguments, clear_api_url,
                   stats)

AUDIT_LOCK_KEY = 0x41504F4E0002  # postgres_store.cpp's audit_lock_key: ids commit in order
RESPAWN_DELAY = 0.3  # a supervisor's pause before starting a replica that exited


class Replica:
    """One aponod of the set, always restarted on the same data dir and port."""

    def __init__(self, i, data_dir, port, log_file, pid_file):
        self.i, self.name = i, "r%d" % (i + 1)
        self.data_dir, self.port, self.log_file, self.pid_file = data_dir, port, log_file, pid_file
        self.log = None
        self.proc = None
        self.gen = 0  # +1 at every kill
        self.tls = None  # trusts this replica's own CA (ca.pem in its data dir)
        self.state = "down"  # "starting" (spawned, not ready yet) or "up" (ready)
        self.spawned = None  # when the current process was started
        self.down_since = None  # when it was killed (first kill of a restart)
        self.log_offset = 0  # where the current process's lines begin in the log
        self.respawn_at = None  # when the supervisor starts it again after an exit
        self.answers = 0
        self.kills = 0


class ReplicaChaos(Chaos):
    def __init__(self, a):
        super().__init__(a)
        base = a.data_dir
        self.replicas = [Replica(i, "%s-%d" % (base, i + 1), port,
                                 "%s-%d.log" % (os.path.splitext(a.log_file)[0], i + 1),
                                 "%s-%d.pid" % (os.path.splitext(a.pid_file)[0], i + 1))
                         for i, port in enumerate(a.ports)]
        self.track_lock = threading.Lock()
        self.up = set()  # names of ready replicas
        self.store_up = True
        self.outage_since = None  # no replica ready, or the store down, since then
        self.store_downs = []  # [down, up or None] of every store crash
        self.store_starter = None  # `dev-postgres start` while it runs
        self.outages = []  # seconds of each outage
        self.kill_target = None
        self.kill_sizes = {}  # replicas killed in a round -> rounds
        self.store_restarts = 0
        self.refused_starts = 0  # exits at start because the store was down
        self.audit_rows = 0
        self.ready_after_store = []  # store back -> /readyz 200 again, per replica that lived
        self.recovering = []  # the replicas that lived through the store's crash, not ready yet
        self.due_words = ("round's end", "first kill", "all back")

    # ------------------------------------------------------------------ the hooks of Chaos
    def replica_count(self):
        return len(self.replicas)

    def endpoint(self, rep):
        r = self.replicas[rep]
        return self.host, r.port, r.tls

    def gen_of(self, rep):
        return self.replicas[rep].gen

    def balancer(self, user):
        return random.Random("%d/%s" % (self.a.seed, user))

    def excused(self, resp, sent, recv):
        if resp.status != 503:
            return False
        with self.track_lock:
            return any(down <= recv and (up is None or sent <= up + GRACE)
                       for down, up in self.store_downs)

    def answered(self, rep):
        with self.lock:
            self.replicas[rep].answers += 1

    def log_files(self):
        return [r.log_file for r in self.replicas]

    def data_dirs(self):
        return [r.data_dir for r in self.replicas]

    def log_tail(self, lines=30):
        return "".join(self.replica_tail(r, lines // len(self.replicas) + 1) for r in self.replicas)

    # ------------------------------------------------------------------ when the service was out
    def track(self, t):
        """Call with track_lock held after a change: opens or closes an outage (no replica ready
        or the store down); closed ones go to self.downs, which deadline() reads."""
        available = self.store_up and bool(self.up)
        if not available and self.outage_since is None:
            self.outage_since = t
        elif available and self.outage_since is not None:
            self.downs.append((self.outage_since, t))
            self.outages.append(t - self.outage_since)
            self.outage_since = None

    def mark(self, r, up, t):
        with self.track_lock:
            (self.up.add if up else self.up.discard)(r.name)
            self.track(t)

    def mark_store(self, up, t):
        with self.track_lock:
            self.store_up = up
            if up:
                self.store_downs[-1][1] = t
            else:
                self.store_downs.append([t, None])
            self.track(t)

    def store_was_down(self, since, until):
        with self.track_lock:
            return any(down <= until and (up is None or up >= since)
                       for down, up in self.store_downs)

    def in_outage(self):
        with self.track_lock:
            return self.outage_since is not None

    # ------------------------------------------------------------------ replicas
    def spawn_replica(self, r):
        # The file keeps the last run's URL (or the first replica's); cleared so readiness
        # means this process.
        clear_api_url(r.data_dir)
        r.log.write("==== chaos: start at %.3f (round %d)\n" % (time.time(), self.round))
        r.log.flush()
        r.log_offset = r.log.tell()
        r.spawned = time.time()
        r.proc = subprocess.Popen(
            [self.a.aponod, "--dev", "--data-dir", r.data_dir, "--listen",
             "127.0.0.1:%d" % r.port, "--pg-target", self.a.pg_url, "--store", self.a.store_url],
            stdin=subprocess.DEVNULL, stdout=r.log, stderr=subprocess.STDOUT)
        with open(r.pid_file, "w") as f:
            f.write("%d\n" % r.proc.pid)
        r.state, r.respawn_at = "starting", None

    def ready(self, r):
        """True once this process wrote its URL and /readyz answers 200 (one quick look)."""
        creds = os.path.join(r.data_dir, "dev-credentials.json")
        try:
            with open(creds) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return False
        if not isinstance(doc.get("api_url"), str):
            return False
        if r.tls is None:
            r.tls = ssl.create_default_context(cafile=doc["ca_file"])
        if not self.tokens:
            self.tokens = {u["name"]: u["token"] for u in doc["users"]}
        try:
            conn = http.client.HTTPSConnection(self.host, r.port, context=r.tls, timeout=2)
            conn.request("GET", "/readyz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except (OSError, http.client.HTTPException):
            return False

    def replica_tail(self, r, lines=30):
        try:
            with open(r.log_file, errors="replace") as f:
                return "".join("%s| %s" % (r.name, line) for line in f.readlines()[-lines:])
        except OSError:
            return ""

    def since_spawn(self, r):
        try:
            with open(r.log_file, errors="replace") as f:
                f.seek(r.log_offset)
                return f.read()
        except OSError:
            return ""

    def kill_replica(self, r, t=None):
        """kill -9; True when there was a process to kill."""
        if r.proc is None or r.proc.poll() is not None:
            return False
        r.gen += 1
        t = time.time() if t is None else t
        r.proc.kill()
        r.proc.wait()
        self.settle_kill(r, t)
        return True

    def settle_kill(self, r, t):
        if r.state == "up":
            self.mark(r, False, t)
        if r.down_since is None:
            r.down_since = t
        r.state, r.respawn_at = "down", None
        r.kills += 1

    def kill_now(self, rep):
        """Called by a workload thread right after sending a write to replica `rep`, when
        armed; the main thread settles the kill."""
        with self.lock:
            if not self.kill_armed:
                return
            self.kill_armed = False
        time.sleep(random.uniform(0, 0.002))  # before, during or after the commit
        r = self.replicas[rep]
        r.gen += 1
        self.kill_time = time.time()
        self.kill_target = r
        r.proc.kill()
        self.kills_in_post += 1
        self.kill_done.set()

    def supervise(self):
        """One look at every replica and the store: readiness, exits, starts due."""
        now = time.time()
        if self.store_starter is not None and self.store_starter.poll() is not None:
            code = self.store_starter.wait()
            self.store_starter = None
            if code == 0:
                back = time.time()
                self.mark_store(True, back)
                self.recovering = [(r, back) for r in self.replicas if r.state == "up"]
            else:
                self.violation("store", None, "the store did not start again (exit %d)" % code)
                self.start_store()
        still = []
        for r, back in self.recovering:
            if r.state != "up":
                continue  # killed since
            if self.ready(r):
                self.ready_after_store.append(time.time() - back)
            else:
                still.append((r, back))
        self.recovering = still
        for r in self.replicas:
            if r.state == "down" and r.respawn_at is not None and now >= r.respawn_at:
                self.spawn_replica(r)
            elif r.state in ("starting", "up") and r.proc.poll() is not None:
                code = r.proc.returncode
                if r.state == "starting" and "store unavailable" in self.since_spawn(r) and \
                        self.store_was_down(r.spawned, now):
                    self.refused_starts += 1  # documented: no store, no start
                else:
                    with self.lock:
                        self.counts["crashes"] += 1
                    self.violation("crash", None, "%s exited by itself (%s) while %s; log tail:\n%s"
                                   % (r.name, code, "starting" if r.state == "starting"
                                      else "serving", self.replica_tail(r)))
                    if r.state == "up":
                        self.mark(r, False, now)
                        r.down_since = now
                r.state, r.respawn_at = "down", now + RESPAWN_DELAY
            elif r.state == "starting" and self.ready(r):
                t = time.time()
                r.state = "up"
                self.mark(r, True, t)
                self.downtimes.append(t - r.down_since)
                self.starts.append(t - r.spawned)
                r.down_since = None

    def all_up(self):
        return self.store_up and self.store_starter is None and \
            all(r.state == "up" for r in self.replicas)

    def start_all(self):
        a = self.a
        for r in self.replicas:
            r.log = open(r.log_file, "a")
        print("chaos: seed %d, %d rounds, %d replicas of aponod %s on ports %s, data dirs %s-N, "
              "store %s" % (a.seed, a.rounds, len(self.replicas), a.aponod,
                            ",".join(str(r.port) for r in self.replicas), a.data_dir,
                            a.store_url.rsplit("@", 1)[-1]), flush=True)
        first = self.replicas[0]
        for r in self.replicas:
            if r is not first:
                # Replicas of one dev broker share its users, SSH CA and store key.
                os.makedirs(r.data_dir, mode=0o700, exist_ok=True)
                for name in ("dev-credentials.json", "ssh_user_ca.pem", "store.key"):
                    shutil.copy2(os.path.join(first.data_dir, name),
                                 os.path.join(r.data_dir, name))
            r.down_since = time.time()
            self.spawn_replica(r)
            until = time.time() + 60
            while r.state != "up":
                if time.time() > until or (r.proc.poll() is not None and r.state == "starting"):
                    raise SystemExit("chaos: %s does not start; giving up:\n%s" %
                                     (r.name, self.replica_tail(r)))
                self.supervise()
                time.sleep(0.02)
        self.downtimes.clear()
        self.starts.clear()

    def stop_all(self):
        for r in self.replicas:
            r.proc.send_signal(signal.SIGTERM)
        for r in self.replicas:
            try:
                code = r.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                code = None
                r.proc.kill()
                r.proc.wait()
            if code != 0:
                with self.lock:
                    self.counts["crashes"] += 1
                self.violation("crash", None, "%s on SIGTERM (exit %s); log tail:\n%s" %
                               (r.name, code, self.replica_tail(r)))

    def kill_all(self):
        for r in self.replicas:
            if r.proc is not None and r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait()
        if self.store_starter is not None:  # so that the wrapper's stop finds it running
            self.store_starter.wait()

    # ------------------------------------------------------------------ the store
    def dev_postgres(self, *args):
        return [os.path.join(os.path.dirname(os.path.abspath(__file__)), "dev-postgres")] + \
            list(args)

    def crash_store(self):
        self.mark_store(False, time.time())
        subprocess.run(self.dev_postgres("crash", self.a.store_host), check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        self.store_restarts += 1

    def start_store(self):
        """In the background (the round goes on); supervise() sees it finish."""
        self.store_starter = subprocess.Popen(
            self.dev_postgres("start", self.a.store_host, str(self.a.store_port)),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def store_psql(self, sql):
        out = subprocess.run(
            ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", self.a.store_host, "-p",
             str(self.a.store_port), "-U", "postgres", "-d", self.a.store_db, "-c", sql],
            capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("psql (store): " + out.stderr.strip())
        return [line for line in out.stdout.splitlines() if line]

    def check_once(self):
        """Exactly-once, on the store's own audit table."""
        def quoted(names):
            return ", ".join("'%s'" % n for n in sorted(names))

        rows = self.store_psql(
            "SELECT request_id, action, 'status ' || coalesce(status, '-'), count(*) FROM audit "
            "WHERE action IN (%s) GROUP BY 1, 2, 3 HAVING count(*) > 1 UNION ALL "
            "SELECT request_id, action, 'unit ' || (detail::json->>'unit'), count(*) FROM audit "
            "WHERE action IN (%s) GROUP BY 1, 2, 3 HAVING count(*) > 1 UNION ALL "
            "SELECT 0, 'rows', '', count(*) FROM audit" % (quoted(ONCE), quoted(ONCE_PER_UNIT)))
        dups = []
        for line in rows:
            n, action, what, count = line.split("|")
            if action == "rows":
                self.audit_rows = int(count)
            else:
                dups.append((int(n), action, what, int(count)))
        self.report_once(dups)

    def inject(self, what):
        if what == "role":
            return super().inject(what)
        self.say("chaos: injecting %s in round %d" % (what, self.round))
        if what == "stall":  # grants come due while every replica is frozen, not down
            self.list_all(self.admin)
            frozen = [r for r in self.replicas if r.proc.poll() is None]
            for r in frozen:
                r.proc.send_signal(signal.SIGSTOP)
            try:
                until = time.time() + 4
                while time.time() < until:
                    self.target_check()
                    time.sleep(0.5)
            finally:
                for r in frozen:
                    r.proc.send_signal(signal.SIGCONT)
        elif what == "audit":  # (d): a status change vanishes from the trail
            self.store_psql("DELETE FROM audit WHERE id = (SELECT max(id) FROM audit WHERE id > %d "
                            "AND action = 'request.expiring')" % self.audit_cursor)
        elif what == "dup":  # exactly-once: an expiry and a unit's revoke recorded twice
            self.store_psql("SELECT pg_advisory_xact_lock(%d); " % AUDIT_LOCK_KEY + " ".join(
                "INSERT INTO audit(at, actor, action, request_id, status, detail) SELECT at, "
                "actor, action, request_id, status, detail FROM audit WHERE id = (SELECT max(id) "
                "FROM audit WHERE action = '%s');" % action for action in DUPLICATED))

    # ------------------------------------------------------------------ a round
    def one_round(self, admin):
        n = len(self.replicas)
        up = self.rnd.uniform(0.2, 3.0)
        now = time.time()
        end, next_check = now + up, now + 0.5
        while time.time() < end:
            self.supervise()
            if time.time() >= next_check and not self.in_outage():
                self.target_check()
                next_check = time.time() + 0.5
            time.sleep(0.05)
        if self.round == 3 and "stall" in self.a.inject:
            self.inject("stall")
        # The round's plan, drawn in one order so that a seed replays it: how many replicas die
        # (one, some, all), whether the first kill hits a write just sent, in which order, when,
        # how soon each comes back, which restarts are killed again, and the store's crash.
        x = self.rnd.random()
        k = n if x < 0.2 else (self.rnd.randint(2, n - 1) if x < 0.45 and n > 2 else 1)
        aimed = self.rnd.random() < 0.3
        order = self.rnd.sample(range(n), n)
        kill_at = [0.0] + sorted(self.rnd.uniform(0, 1.5) for _ in range(k - 1))
        back_after = [self.rnd.uniform(0, 1.0) for _ in range(k)]
        rekill = [self.rnd.uniform(0, 0.6) if self.rnd.random() < 0.1 else None
                  for _ in range(k)]
        store = self.rnd.random() < 0.2
        store_at, store_for = self.rnd.uniform(0, 1.5), self.rnd.uniform(0.2, 2.0)
        outages_before = len(self.outages)

        first, hit = None, False
        if aimed and all(r.state == "up" for r in self.replicas):
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
                first, t0, hit = self.kill_target, self.kill_time, True
                first.proc.wait()
                self.settle_kill(first, t0)
        if first is None:
            first = self.replicas[order[0]]
            t0 = time.time()
            self.kill_replica(first, t0)
        victims = [first] + [self.replicas[i] for i in order if self.replicas[i] is not first]
        victims = victims[:k]
        events = []  # (when, sequence, what, replica)
        for j, r in enumerate(victims):
            if j:
                events.append((t0 + kill_at[j], len(events), "kill", r))
            # When all die, each comes back only after the last one is dead: the service is out.
            back = t0 + (kill_at[-1] if k == n else kill_at[j]) + back_after[j]
            events.append((back, len(events), "start", r))
            if rekill[j] is not None:  # killed again while starting: recovery must survive
                events.append((back + rekill[j], len(events), "kill in start", r))
        if store:
            events.append((t0 + store_at, len(events), "crash store", None))
            events.append((t0 + store_at + store_for, len(events), "start store", None))
        events.sort(key=lambda e: e[:2])
        if self.round == 2 and "role" in self.a.inject:
            self.inject("role")

        next_check = time.time() + 0.5
        limit = time.time() + 120
        while True:
            while events and events[0][0] <= time.time():
                _, _, what, r = events.pop(0)
                if what == "kill":
                    self.kill_replica(r)
                elif what == "start" and r.state == "down":
                    self.spawn_replica(r)
                elif what == "kill in start":
                    if self.kill_replica(r):
                        self.kills_in_start += 1
                    if r.state == "down":
                        self.spawn_replica(r)
                elif what == "crash store":
                    self.crash_store()
                elif what == "start store":
                    self.start_store()
            self.supervise()
            if not events and self.all_up():
                break
            if time.time() > limit:
                self.violation("crash", None, "not every replica ready 120 s into round %d: %s" % (
                    self.round, ", ".join("%s %s" % (r.name, r.state) for r in self.replicas)))
                raise SystemExit("chaos: the replicas do not come back; giving up")
            if time.time() >= next_check and not self.in_outage():
                self.target_check()
                next_check = time.time() + 0.5
            time.sleep(0.02)
        t_ready = time.time()
        # The replicas that lived through a store crash find it again by themselves.
        until = time.time() + 30
        while self.recovering and time.time() < until:
            self.supervise()
            time.sleep(0.02)
        if self.recovering:
            self.violation("store", None, "/readyz of %s not 200 30 s after the store was back" %
                           " ".join(r.name for r, _ in self.recovering))
            self.recovering = []
        self.kill_sizes[k] = self.kill_sizes.get(k, 0) + 1
        if self.round == 4 and "audit" in self.a.inject:
            self.inject("audit")
        if self.round == 5 and "dup" in self.a.inject:
            self.inject("dup")
        try:
            due, cut, ended = self.window(admin, t0, t_ready)
            _, statuses = self.full_check(admin)
        except Down as e:
            self.supervise()
            if self.all_up():
                self.violation("api", None, "no answer from running replicas: %s" % e)
            return
        with self.lock:
            created, unacked = self.counts["created"], self.counts["unacked"]
        print("round %3d/%d: up %.2f s, killed %s%s%s, out %.2f s; due %d%s; requests %d "
              "(+%d unanswered), now %s; violations %d" % (
                  self.round, self.a.rounds, up, " ".join(r.name for r in victims),
                  " (%s at a write)" % first.name if hit else "",
                  ", store down %.2f s" % (self.store_downs[-1][1] - self.store_downs[-1][0])
                  if store else "", sum(self.outages[outages_before:]), due,
                  ", access gone %s s and ended %s s after all were back" % (
                      "%.2f" % cut if cut is not None else "?",
                      "%.2f" % ended if ended is not None else "?") if due else "",
                  created, unacked, " ".join("%s=%d" % kv for kv in sorted(statuses.items())),
                  len(self.violations)), flush=True)

    def summary_extra(self):
        kills = sum(r.kills for r in self.replicas)
        return [
            "replicas: %d; kill -9 per replica: %s (%d in all); rounds by replicas killed: %s" % (
                len(self.replicas), " ".join("%s=%d" % (r.name, r.kills) for r in self.replicas),
                kills, " ".join("%s=%d" % ("all" if k == len(self.replicas) else k, v)
                                for k, v in sorted(self.kill_sizes.items()))),
            "store crashes (immediate stop) and restarts: %d, down %s; store back to /readyz 200 "
            "again on the replicas that lived through it: %s; starts refused while the store was "
            "down: %d" % (
                self.store_restarts, stats([up - down for down, up in self.store_downs
                                            if up is not None]),
                stats(self.ready_after_store), self.refused_starts),
            "service out (no replica ready, or the store down): %d times, %s, %.1f s in all" % (
                len(self.outages), stats(self.outages), sum(self.outages)),
            "answers per replica: %s; 503 while the store was down (counted above as calls "
            "without an answer): %s" % (
                " ".join("%s=%d" % (r.name, r.answers) for r in self.replicas),
                " ".join("%s=%d" % kv for kv in sorted(self.unavailable.items())) or "none"),
            "exactly-once: %d audit rows in the store at the end, %d repeated steps" % (
                self.audit_rows, sum(1 for _, kind, _ in self.violations if kind == "once")),
        ]


def main():
    p = arguments(__doc__.split("\n")[0])
    p.add_argument("--ports", required=True, help="one per replica, comma-separated")
    p.add_argument("--store-url", required=True)
    p.add_argument("--store-host", required=True, help="the store's dev-postgres dir (socket)")
    p.add_argument("--store-port", type=int, required=True)
    p.add_argument("--store-db", required=True)
    a = p.parse_args()
    a.ports = [int(x) for x in a.ports.split(",")]
    # SIGTERM from the wrapper's trap: unwind through `finally`, which kills the replicas.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(ReplicaChaos(a).run())


if __name__ == "__main__":
    main()
