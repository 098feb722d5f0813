#!/usr/bin/env python3
"""Writes the seed corpora of duration_fuzz, ssh_cert_fuzz, config_fuzz and api_json_fuzz
into fuzz/corpus/{duration,ssh_cert,config,api_json}/, replacing what is there. The config
seeds are the YAML examples of docs/configuration.md, the YAML strings of
tests/broker/config_test.cpp and a config like `aponod --dev`'s. Run from anywhere."""
import base64
import hashlib
import pathlib
import re
import struct

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"


def write(name, seeds):
    out = corpus / name
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    for seed_name, data in seeds.items():
        (out / seed_name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- duration_fuzz: the text a user types ---

write("duration", {
    "hours_decimal": "0.75",
    "seconds": "90s",
    "minutes": "45m",
    "hours_minutes": "1h30m",
    "all_units": "1d2h3m4s",
    "max": "366d",
    "over_max": "8785h",
    "spaces": "  2h  ",
    "fraction_units": "1.5h0.25m",
    "zero": "0s",
    "unit_twice": "1h1h",
    "wrong_order": "5m1h",
    "long_number": "123456789012345678901234h",
    "exponent": "1e3",
    "raw_seconds": b"\x00\x00\x00\x00\x00\x01\x51\x80",
})


# --- ssh_cert_fuzz: u8 flags, str line, 32 bytes key, str comment, u64 serial, str key_id,
#     u8 n + str principals, u8 n + str extensions, u8 n + (str, str) options, i32, i32 ---

def s(b):
    b = b if isinstance(b, bytes) else b.encode()
    assert len(b) < 256
    return bytes([len(b)]) + b


def ssh_string(b):
    return struct.pack("!I", len(b)) + b


key = bytes(range(1, 33))
key_line = b"ssh-ed25519 " + base64.b64encode(ssh_string(b"ssh-ed25519") + ssh_string(key))


def cert(flags, line, comment=b"", serial=1, key_id=b"AR-00012 alice deploy@web-1",
         principals=(b"deploy",), extensions=(b"permit-pty",), options=(), after=0,
         length=3_600_000):
    out = bytes([flags]) + s(line) + key + s(comment) + struct.pack("!Q", serial) + s(key_id)
    out += bytes([len(principals)]) + b"".join(s(p) for p in principals)
    out += bytes([len(extensions)]) + b"".join(s(e) for e in extensions)
    out += bytes([len(options)]) + b"".join(s(n) + s(v) for n, v in options)
    return out + struct.pack("!ii", after, length)


write("ssh_cert", {
    "line_key": cert(0, key_line + b" alice@laptop"),
    "built_key": cert(1, b"", b"user@host", serial=2**64 - 1),
    "options": cert(1, b"", options=((b"source-address", b"127.0.0.1/32"), (b"force-command", b""))),
    "many": cert(1, b"", principals=(b"a", b"b", b"a"),
                 extensions=(b"permit-pty", b"permit-agent-forwarding", b"permit-pty")),
    "empty_key_id": cert(1, b"", key_id=b""),
    "control_key_id": cert(1, b"", key_id=b"AR-1\nforged"),
    "no_principals": cert(1, b"", principals=()),
    "backwards": cert(1, b"", length=-1000),
    "before_1970": cert(3, b"", after=-5, length=10),
    "rsa": cert(0, b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ user@host"),
    "certificate": cert(0, b"ssh-ed25519-cert-v01@openssh.com AAAA user"),
    "pem": cert(0, b"-----BEGIN OPENSSH PRIVATE KEY-----"),
    "bad_base64": cert(0, b"ssh-ed25519 AAAA*AAA"),
    "trailing": cert(0, b"ssh-ed25519 " + base64.b64encode(
        ssh_string(b"ssh-ed25519") + ssh_string(key) + b"x")),
    "two_lines": cert(0, key_line + b"\n" + key_line),
})


# --- config_fuzz: YAML ---

def raw_strings(text):
    return re.findall(r'R"\((.*?)\)"', text, re.S)


configs = {}
docs = (root / "docs" / "configuration.md").read_text()
for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", docs, re.S)):
    configs[f"docs_{i}"] = block
tests = (root / "tests" / "broker" / "config_test.cpp").read_text()
pieces = raw_strings(tests)
base = pieces[0]  # the test's `base`: users, groups and one integration
for i, piece in enumerate(pieces):
    configs[f"test_{i}"] = piece
    if i:
        configs[f"test_base_{i}"] = base + piece


def hash_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


dev_users = ["admin", "approver", "alice", "bob"]
# As prepare_dev in broker/dev.cpp writes it (with --ssh-target), tokens and passwords fixed.
dev = "server:\n  listen: 127.0.0.1:0\n  data_dir: /tmp/apono-dev\nusers:\n"
for u in dev_users:
    dev += (f"  - name: {u}\n    email: {u}@example.com\n    admin: {str(u == 'admin').lower()}\n"
            f"    token_sha256: [{hash_hex('token-' + u)}]\n"
            "    password_hash: pbkdf2-sha256$100000$c2FsdHNhbHRzYWx0c2FsdA==$"
            + base64.b64encode(hashlib.sha256(u.encode()).digest()).decode() + "\n")
dev += """groups:
  - name: engineers
    members: [alice, bob]
  - name: approvers
    members: [approver]
integrations:
  - id: pg-local
    name: Local PostgreSQL
    type: postgresql
    admin_url: "postgresql://postgres:secret@127.0.0.1:5432/postgres"
    host: 127.0.0.1
    port: 5432
    sslmode: prefer
    resources: [postgres, appdb]
    permissions:
      read_only: default
      read_write: default
      admin: default
  - id: ssh-local
    name: Local SSH
    type: ssh
    resources:
      - name: local-sshd
        address: 127.0.0.1
        port: 2222
        host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
    permissions:
      - name: root
        principal: apono-root
access_flows:
  - name: engineers-ssh
    requestors: {users: [], groups: [engineers]}
    targets:
      - integration: ssh-local
        resources: ["*"]
        permissions: ["*"]
    approval: automatic
    max_duration: 8h
    default_duration: 1h
    justification_required: true
  - name: engineers-read-only
    requestors: {users: [], groups: [engineers]}
    targets:
      - integration: pg-local
        resources: ["*"]
        permissions: [read_only]
    approval: automatic
    max_duration: 8h
    default_duration: 1h
    justification_required: true
  - name: engineers-write
    requestors: {users: [], groups: [engineers]}
    targets:
      - integration: pg-local
        resources: ["*"]
        permissions: [read_write, admin]
    approval: manual
    approvers: {users: [], groups: [approvers]}
    max_duration: 4h
    default_duration: 1h
    justification_required: true
bundles:
  - name: all-databases-read-only
    targets:
      - integration: pg-local
        resources: [postgres, appdb]
        permissions: [read_only]
"""
configs["dev"] = dev
configs["empty"] = ""
configs["bad_yaml"] = "users: [alice\n"
# Found by config_fuzz: a key with control characters made a message of several lines.
configs["regression_control_key"] = "accet\x01\rgets: [{integration: pg-local}]\n"
configs["regression_control_name"] = 'users:\n  - name: "a\\nb"\n  - name: "a\\nb"\n'
write("config", configs)


# --- api_json_fuzz: requests separated by `%%` lines ---

def req(method, target, auth="", content_type="", body=""):
    return f"{method} {target}\n{auth}\n{content_type}\n{body}"


def seq(*requests):
    return "\n%%\n".join(requests)


J = "application/json"
pg_read = ('{"integration":"pg-local","resource_type":"database","resources":["appdb"],'
           '"permissions":["read_only"],"duration":"1h","justification":"ticket 42"}')
pg_write = ('{"integration":"pg-local","resources":"appdb","permissions":["read_write"],'
            '"duration_seconds":1800,"justification":"migration"}')
ssh_req = ('{"integration":"ssh-local","resources":["local-sshd"],"permissions":["root"],'
           '"duration":0.5,"justification":"debug"}')
cloud_req = ('{"integration":"aws-prod","resources":["123456789012"],"permissions":["read-only"]}')
k8s_req = '{"integration":"k8s-prod","resources":["team-a"],"permissions":["edit"]}'
ssh_key = key_line.decode()

write("api_json", {
    "read_only_lifecycle": seq(
        req("POST", "/api/v1/access-requests", "alice", J, pg_read),
        req("GET", "/api/v1/access-requests/AR-00001", "alice"),
        req("GET", "/api/v1/access-sessions/AR-00001/access-details", "alice"),
        req("POST", "/api/v1/access-requests/ar-1/reset-credentials", "alice", J, "{}"),
        req("POST", "/api/v1/access-requests/1/revoke", "alice", J, '{"reason":"done"}'),
        req("POST", "/api/v1/access-requests/AR-00001/request-again", "alice", J,
            '{"justification":"again","duration":"30m"}')),
    "manual_approval": seq(
        req("POST", "/api/v1/access-requests", "bob", J, pg_write),
        req("GET", "/api/v1/access-requests?scope=approvable", "approver"),
        req("POST", "/api/v1/access-requests/AR-00001/approve", "approver", J, '{"comment":"ok"}'),
        req("GET", "/api/v1/access-sessions", "bob"),
        "TICK 45",
        req("GET", "/api/v1/access-requests/AR-00001", "bob")),
    "reject": seq(
        req("POST", "/api/v1/access-requests", "alice", J, pg_write),
        req("POST", "/api/v1/access-requests/AR-00001/reject", "approver", J, '{"reason":"no"}'),
        req("POST", "/api/v1/access-requests/AR-00001/approve", "alice", J, "")),
    "ssh_certificate": seq(
        req("POST", "/api/v1/access-requests", "alice", J, ssh_req),
        req("POST", "/api/v1/access-sessions/AR-00001/ssh-certificate", "alice", J,
            '{"public_key":"' + ssh_key + ' me@laptop","resource":"local-sshd","permission":"root"}'),
        req("GET", "/api/v1/access-sessions/AR-00001/access-details", "alice")),
    "cloud": seq(
        req("POST", "/api/v1/access-requests", "alice", J, cloud_req),
        req("POST", "/api/v1/access-requests", "bob", J, k8s_req),
        req("GET", "/api/v1/access-sessions/AR-00001/access-details", "alice"),
        req("GET", "/api/v1/access-sessions/AR-00002/access-details", "bob"),
        req("POST", "/api/v1/access-requests/AR-00002/reset-credentials", "bob", J, "")),
    "bundle_dry_run": seq(
        req("POST", "/api/v1/access-requests", "alice", J,
            '{"bundle":"all-databases-read-only","justification":"x","dry_run":true}'),
        req("POST", "/api/v1/access-requests", "alice", J,
            '{"bundle":"all-databases-read-only","justification":"x","duration":"2h"}')),
    "admin_views": seq(
        req("POST", "/api/v1/access-requests", "alice", J, pg_read),
        req("GET", "/api/v1/access-requests?scope=all&days=7", "admin"),
        req("GET", "/api/v1/audit?after=0&limit=10&request=AR-00001", "admin"),
        req("GET", "/api/v1/events?after=0&timeout=0", "bob"),
        req("GET", "/metrics")),
    "catalog": seq(
        req("GET", "/api/v1/session", "approver"),
        req("GET", "/api/v1/integrations", "alice"),
        req("GET", "/api/v1/integrations/pg-local/resource-types", "alice"),
        req("GET", "/api/v1/resources?integration=pg-local&resource_type=database", "bob"),
        req("GET", "/api/v1/permissions?integration=ssh-local", "alice"),
        req("GET", "/api/v1/bundles", "alice"),
        req("POST", "/api/v1/session/revoke", "alice", J, "{}")),
    "public": seq(
        req("GET", "/healthz"), req("GET", "/readyz"), req("GET", "/api/v1/ssh/ca"),
        req("GET", "/api/v1/../healthz")),
    "login": seq(
        req("GET", "/login?response_type=code&client_id=apono-cli&redirect_uri="
            "http%3A%2F%2F127.0.0.1%3A4242%2Fcallback&code_challenge="
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=xyz"),
        req("POST", "/login", "", "application/x-www-form-urlencoded",
            "response_type=code&client_id=apono-cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A4242"
            "%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            "&code_challenge_method=S256&state=xyz&username=alice&password=nope"),
        req("POST", "/oauth/token", "", J,
            '{"grant_type":"authorization_code","client_id":"apono-cli","code":"abc",'
            '"redirect_uri":"http://127.0.0.1:4242/callback","code_verifier":"'
            'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}'),
        req("POST", "/oauth/token", "", "application/x-www-form-urlencoded",
            "grant_type=authorization_code&client_id=apono-cli&code=abc")),
    # Found by api_json_fuzz: invalid UTF-8 in an error message (a percent-decoded path, or
    # one cut at 200 bytes inside a character) made the error body invalid JSON.
    "regression_utf8": seq(
        req("GET", "/api/v1/integrations/%FF%C3/resource-types", "alice"),
        req("GET", "/api/v9x/" + "%C3%A9" * 120, "alice"),
        req("GET", "/api/v1/resources?integration=%E9t%E9", "bob")),
    "errors": seq(
        req("POST", "/api/v1/access-requests", "alice", J, '{"integration":'),
        req("POST", "/api/v1/access-requests", "alice", J, '[1,2]'),
        req("POST", "/api/v1/access-requests", "alice", J, '{"unknown":1}'),
        req("POST", "/api/v1/access-requests", "alice", J,
            '{"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],'
            '"duration":"9d","justification":"x"}'),
        req("GET", "/api/v1/access-requests/AR-99999", "bob"),
        req("GET", "/api/v1/session", "Bearer nope"),
        req("GET", "/api/v1/session"),
        req("DELETE", "/api/v1/integrations", "alice"),
        req("GET", "/api/v1/audit", "alice"),
        req("GET", "/%zz", "alice")),
    # The web portal: its pages, sign-in (no password works here), a browser session's calls
    # from the portal's page, the same from another site's, a plan, sign-out.
    "portal": seq(
        req("GET", "/"),
        req("GET", "/requests/AR-00001"),
        req("HEAD", "/assets/app-0123abcd.js"),
        req("GET", "/assets/app-00000000.js"),
        req("POST", "/api/v1/browser-session", "portal:alice", J,
            '{"username":"alice","password":"nope"}'),
        req("GET", "/api/v1/session", "portal:alice"),
        req("POST", "/api/v1/access-requests/plan", "portal:alice", J,
            '{"integration":"pg-local","resources":["appdb"],'
            '"permissions":["read_only","read_write"],"justification":"x"}'),
        req("POST", "/api/v1/access-requests", "portal:alice", J, pg_write),
        req("POST", "/api/v1/access-requests/AR-00001/revoke", "cookie:alice", J,
            '{"reason":"forged"}'),
        req("POST", "/api/v1/access-requests/AR-00001/approve", "portal:approver", J, "{}"),
        req("DELETE", "/api/v1/browser-session", "portal:alice"),
        req("GET", "/api/v1/session", "portal:alice")),
})
