#!/usr/bin/env python3
"""The driver of `scripts/chaos --notify [ROUNDS]` (run that, not this): chaos.py's crash loop
with the notifications on, and a Standard Webhooks receiver recording what arrives.

The workload, the kills and chaos.py's checks are unchanged; aponod also gets (--dev-extra) two
webhook endpoints on a receiver on loopback (tests/support/webhook_receiver.mjs, which verifies
each delivery with the `standardwebhooks` npm package and answers 50 ms late): /requests with
`request.*`, /audit with `audit.*`, reminders every second and expiring-soon notices a second
before a grant's end. After
the drain, with aponod still up, it waits until every audit event written by then has arrived,
and checks (kind `n`):
  - none lost: each audit event reached /audit as `audit.<action>`, and /requests as each request
    event the documented mapping makes of it (docs/notifications.md, "Events");
  - none invented: every arrival names an audit event of the trail with the action its type
    comes from, and its webhook-id names that event;
  - in order per request: on each endpoint, the first arrivals about one request follow the audit
    trail's order;
  - a webhook-id that arrives again (sent again after a kill) carries the same body, and every
    signature verifies.
Python 3 standard library only.
"""
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from chaos import Chaos, arguments, ts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTLE = 60.0  # seconds the deliveries may take after the drain
# Audit actions onto request events (docs/notifications.md); request.created and
# request.revoked depend on the row, see request_events.
SIMPLE = {"request.approved": "request.approved", "request.rejected": "request.rejected",
          "request.active": "request.active", "request.expiring": "request.expired",
          "request.grant_abandoned": "request.failed", "request.pending_timeout": "request.failed",
          "request.reminder": "request.reminder", "request.expiring_soon": "request.expiring_soon"}


def request_events(ev):
    """The request events the documented mapping makes of audit row `ev`."""
    a, st = ev["action"], ev.get("status")
    if a == "request.created":
        return ["request.created"] + (["request.pending_approval"] if st == "PENDING" else
                                      ["request.approved"] if st == "GRANTING" else [])
    if a == "request.revoked":
        return [] if ev.get("actor") == "system" else ["request.revoked"]
    return [SIMPLE[a]] if a in SIMPLE else []


def expected_of(ev):
    """(path, audit id, type) of every delivery audit row `ev` must become."""
    out = [("/audit", ev["id"], "audit." + ev["action"])]
    if ev.get("request_id"):
        out += [("/requests", ev["id"], t) for t in request_events(ev)]
    return out


class NotifyChaos(Chaos):
    def __init__(self, a):
        super().__init__(a)
        self.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        work = os.path.dirname(os.path.abspath(a.data_dir))
        self.extra = os.path.join(work, "notify-extra.yaml")
        self.received_file = os.path.join(work, "webhooks.jsonl")
        self.receiver = None
        self.notes = []

    # ------------------------------------------------------------------ the receiver
    def start_receiver(self):
        env = dict(os.environ, APONO_WEB_DIR=os.path.join(ROOT, "web"),
                   RECEIVER_SECRETS=json.dumps([self.secret]),
                   # Answering 50 ms late widens the window in which a kill finds a delivery
                   # received but not yet recorded: it is sent again, with the same webhook-id.
                   RECEIVER_PLAN=json.dumps({"/requests": ["200;delay=50"],
                                             "/audit": ["200;delay=50"]}))
        out = open(self.received_file, "w")
        self.receiver = subprocess.Popen(
            ["node", os.path.join(ROOT, "tests", "support", "webhook_receiver.mjs")],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        with open(os.path.join(os.path.dirname(self.extra), "receiver.pid"), "w") as f:
            f.write("%d\n" % self.receiver.pid)
        until = time.time() + 30
        while time.time() < until:
            lines = self.received()
            if lines and "listening" in lines[0]:
                port = lines[0]["listening"]
                break
            if self.receiver.poll() is not None:
                with open(self.received_file) as f:
                    raise RuntimeError("the webhook receiver exited: %s" % f.read())
            time.sleep(0.05)
        else:
            raise RuntimeError("the webhook receiver did not start within 30 s")
        with open(self.extra, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # it holds the webhook secret
            f.write("notifications:\n"
                    "  retry: {initial: 1s, max: 2s}\n"
                    "  reminders: {interval: 1s}\n"
                    "  expiring_soon: {before: 1s}\n"
                    "  webhooks:\n")
            for name, events in (("requests", "request.*"), ("audit", "audit.*")):
                f.write("    - name: %s\n"
                        "      url: http://127.0.0.1:%d/%s\n"
                        "      secrets: [%s]\n"
                        "      events: [\"%s\"]\n" % (name, port, name, self.secret, events))

    def received(self):
        """The receiver's lines so far (the first says where it listens)."""
        out = []
        try:
            with open(self.received_file) as f:
                for line in f:
                    if line.endswith("\n"):
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            pass
        except OSError:
            pass
        return out

    def aponod_extra(self):
        return ["--dev-extra", self.extra]

    # ------------------------------------------------------------------ the checks
    def audit_trail(self):
        events, after = [], 0
        while True:
            st, doc, _, _ = self.admin.call("GET", "/api/v1/audit?after=%d&limit=1000" % after)
            if st != 200:
                raise RuntimeError("audit answered %d" % st)
            events += doc
            if len(doc) < 1000:
                return events
            after = doc[-1]["id"]

    @staticmethod
    def key_of(line):
        """(path, audit id, type) an arrival stands for, or None when its body says none."""
        try:
            body = json.loads(line["body"])
            data = body["data"]
            aid = data["id"] if line["path"] == "/audit" else data["audit_id"]
            return (line["path"], int(aid), body["type"])
        except (ValueError, KeyError, TypeError):
            return None

    def settle(self):
        """Waits (aponod up) until every delivery of the audit trail so far arrived; checks."""
        trail = self.audit_trail()
        drained_events = len(trail)
        expected = {}
        for ev in trail:
            for k in expected_of(ev):
                expected[k] = ev
        until = time.time() + SETTLE
        while True:
            arrivals = [x for x in self.received() if "path" in x]
            got = {self.key_of(x) for x in arrivals}
            missing = [k for k in expected if k not in got]
            if not missing or time.time() > until:
                break
            time.sleep(0.2)
        for k in missing[:20]:
            self.violation("n", ("lost",) + k, "lost: %s of audit event %d (%s) never arrived on %s"
                           % (k[2], k[1], expected[k]["action"], k[0]))
        # Notices written since are fine: read the trail again for what may have arrived.
        trail = self.audit_trail()
        by_id = {ev["id"]: ev for ev in trail}
        bodies, firsts, delays, repeats = {}, {}, [], 0
        first_seen = set()
        for x in arrivals:
            k = self.key_of(x)
            wid = x.get("id", "")
            if x.get("verified") != [True]:
                self.violation("n", ("sig", wid), "%s on %s did not verify" % (wid, x["path"]))
            if wid in bodies:
                repeats += 1
                if bodies[wid] != x["body"]:
                    self.violation("n", ("body", wid), "%s arrived again with another body" % wid)
                continue
            bodies[wid] = x["body"]
            ev = by_id.get(k[1]) if k else None
            if ev is None or k not in expected_of(ev) or not wid.startswith("msg_%d_" % k[1]):
                self.violation("n", ("invented", wid), "invented: %s on %s (%s) names no such "
                               "audit event" % (wid, x["path"], k))
                continue
            first_seen.add(k)
            delays.append(x["received_at"] / 1000.0 - ts(ev["at"]))
            rid = ev.get("request_id")
            if rid:
                firsts.setdefault((x["path"], rid), []).append(k[1])
        for (path, rid), ids in firsts.items():
            if ids != sorted(ids):
                self.violation("n", ("order", path, rid), "%s on %s out of the audit's order: %s"
                               % (rid, path, ids))
        kinds = {}
        for k in first_seen:
            if k[0] == "/requests":
                kinds[k[2]] = kinds.get(k[2], 0) + 1
        self.notes = [
            "notifications: %d audit events up to the drain, %d deliveries expected, %d arrived "
            "(%d missing); %d arrivals in all, %d of them a webhook-id again (sent again after a "
            "kill, same body)" % (drained_events, len(expected),
                                  len(expected) - len(missing), len(missing), len(arrivals),
                                  repeats),
            "notification events on /requests: %s" % " ".join(
                "%s=%d" % kv for kv in sorted(kinds.items())),
            "audit event to its first arrival: %s" % (
                "median %.2f s, max %.2f s" % (statistics.median(delays), max(delays))
                if delays else "n/a"),
        ]

    def stop_all(self):
        self.settle()
        super().stop_all()

    def summary_extra(self):
        return self.notes

    def run(self):
        try:
            self.start_receiver()
            return super().run()
        finally:
            if self.receiver and self.receiver.poll() is None:
                self.receiver.kill()
                self.receiver.wait()


def main():
    a = arguments(__doc__.split("\n")[0]).parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(NotifyChaos(a).run())


if __name__ == "__main__":
    main()
