#!/usr/bin/env python3
"""Writes the seed corpus of pg_codec_fuzz: real protocol messages, each behind the mode byte
the target reads first (0 client stream, 1 server stream, 2 frame tracker, 3 bodies,
4 encoder round trip). Run from anywhere; rewrites fuzz/corpus/pg_codec/."""
import pathlib
import struct

out = pathlib.Path(__file__).resolve().parent / "corpus" / "pg_codec"


def typed(t, body=b""):
    return t + struct.pack("!i", len(body) + 4) + body


def startup(params):
    body = b"".join(k + b"\0" + v + b"\0" for k, v in params) + b"\0"
    return struct.pack("!ii", len(body) + 8, 196608) + body


seeds = {
    "client_startup_password": b"\0" + startup([(b"user", b"alice"), (b"database", b"app")])
    + typed(b"p", b"secret\0"),
    "client_startup_sasl": b"\0" + startup([(b"user", b"bob")])
    + typed(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", 26) + b"n,,n=,r=rOprNGfwEbeRWgbNEk")
    + typed(b"p", b"c=biws,r=abc,p=xyz"),
    "client_ssl_request": b"\0" + struct.pack("!ii", 8, 80877103),
    "client_cancel": b"\0" + struct.pack("!iiii", 16, 80877102, 4242, 99),
    "server_login": b"\x01" + typed(b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0")
    + typed(b"R", struct.pack("!i", 11) + b"r=abc,s=QQ==,i=4096")
    + typed(b"R", struct.pack("!i", 12) + b"v=xyz")
    + typed(b"R", struct.pack("!i", 0))
    + typed(b"S", b"server_version\x0015.4\0")
    + typed(b"K", struct.pack("!ii", 1234, 5678))
    + typed(b"Z", b"I"),
    "server_md5_error": b"\x01" + typed(b"R", struct.pack("!i", 5) + b"\x01\x02\x03\x04")
    + typed(b"E", b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0"),
    "tracker_rows": b"\x02" + b"\x03\x01\x07\x40"
    + typed(b"T", b"\0\x01id\0" + b"\0" * 18)
    + typed(b"D", b"\0\x01\0\0\0\x011")
    + typed(b"C", b"SELECT 1\0")
    + typed(b"Z", b"I"),
    "tracker_bad_length": b"\x02\x00" + typed(b"Z", b"I") + b"D\0\0\0\x02",
    "body_error": b"\x03" + b"SERROR\0C42601\0Msyntax error\0\0",
    "encode_pairs": b"\x04" + b"user\0alice\0Mmessage\0Chello",
}

out.mkdir(parents=True, exist_ok=True)
for old in out.iterdir():
    old.unlink()
for name, data in seeds.items():
    (out / name).write_bytes(data)
