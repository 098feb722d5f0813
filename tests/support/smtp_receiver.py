"""An SMTP server on loopback for the email notification tests: Debian's aiosmtpd (a server
nobody here wrote), with STARTTLS, implicit TLS and AUTH when asked, answering RCPT TO per a
scripted plan. Each message is saved and parsed as MIME with Python's email package (also not
ours); every event is one JSON line on stdout, the first {"listening": PORT}.

Run with Debian's /usr/bin/python3 (python3-aiosmtpd). SMTP_CONFIG is a JSON object:
  dir        where messages are saved (NNN.eml)
  tls_cert, tls_key   PEM files: offer STARTTLS and require it before MAIL (or, with
                      "implicit": true, speak TLS from the first byte)
  auth       {"user": ..., "password": ...}: require AUTH with these (PLAIN and LOGIN offered,
             minus "exclude_auth": ["PLAIN"])
  rcpt       {address: [answers used in turn, the last repeating]}, e.g. ["451 4.3.0 later",
             "250 OK"]; other addresses get 250
"""
import asyncio
import email
import email.policy
import email.utils
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

config = json.loads(os.environ["SMTP_CONFIG"])
turns = {}
count = 0


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parsed(raw):
    """The message as the tests check it: headers decoded, each part's decoded text."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = {
        "content_type": msg.get_content_type(),
        "headers": {k: str(v) for k, v in msg.items()},
        "defects": [repr(d) for d in msg.defects],
        "parts": [],
        "max_line": max((len(line) for line in raw.split(b"\r\n")), default=0),
        "ascii": all(b < 128 for b in raw),
    }
    try:
        out["date_parses"] = email.utils.parsedate_to_datetime(msg["Date"]) is not None
    except (TypeError, ValueError):
        out["date_parses"] = False
    if msg.is_multipart():
        for part in msg.iter_parts():
            out["parts"].append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "encoding": part.get("Content-Transfer-Encoding", ""),
                "text": part.get_content(),
                "defects": [repr(d) for d in part.defects],
            })
    return out


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        plan = config.get("rcpt", {}).get(address)
        answer = "250 OK"
        if plan:
            n = turns.get(address, 0)
            turns[address] = n + 1
            answer = plan[min(n, len(plan) - 1)]
        emit({"event": "rcpt", "to": address, "answer": answer})
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        raw = envelope.original_content or envelope.content
        path = os.path.join(config["dir"], "%03d.eml" % count)
        with open(path, "wb") as f:
            f.write(raw)
        emit({
            "event": "message",
            "file": path,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or bool(config.get("implicit")),
            "auth": session.auth_data.decode() if isinstance(session.auth_data, bytes) else None,
            "parsed": parsed(raw),
        })
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    want = config.get("auth") or {}
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == want.get("user")
          and auth_data.password.decode() == want.get("password"))
    emit({"event": "auth", "mechanism": mechanism, "ok": ok})
    # handled=False: aiosmtpd itself answers 535 to a refused login.
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


async def main():
    loop = asyncio.get_running_loop()
    tls = None
    if config.get("tls_cert"):
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(config["tls_cert"], config["tls_key"])
    implicit = bool(config.get("implicit"))
    kwargs = {"hostname": "smtp.test", "enable_SMTPUTF8": False, "decode_data": False}
    if tls and not implicit:
        kwargs.update(tls_context=tls, require_starttls=True)
    if config.get("auth"):
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=bool(tls),
                      auth_exclude_mechanism=config.get("exclude_auth", []))

    def factory():
        return SMTP(Handler(), loop=loop, **kwargs)

    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=tls if implicit else None)
    emit({"listening": server.sockets[0].getsockname()[1]})
    await asyncio.Event().wait()


asyncio.run(main())
