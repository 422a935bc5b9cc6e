"""abuse_util.py — helpers shared by test_abuse.py and test_audit.py: extra
tokens of any role, configuration files, the audit log read back and the
server's metrics."""

import hashlib
import os
import secrets
import sqlite3
import time
import urllib.parse

import harness

# Every key of the config file that could throttle, off; tests turn on
# the one they exercise.
NO_LIMITS = {
    "per_ip_per_second": "0", "per_token_per_second": "0",
    "storefront_per_second": "0", "per_customer_per_second": "0",
}


def config(limits=None, bruteforce=None, proxy=None, server=None):
    """INI text: every limit off unless given, brute force off unless given."""
    lim = dict(NO_LIMITS)
    lim.update({k: str(v) for k, v in (limits or {}).items()})
    bf = {"failures": "0"}
    bf.update({k: str(v) for k, v in (bruteforce or {}).items()})
    parts = []
    if server:
        parts.append("[server]\n" + "".join("%s = %s\n" % kv for kv in server.items()))
    parts.append("[limits]\n" + "".join("%s = %s\n" % kv for kv in lim.items()))
    parts.append("[bruteforce]\n" + "".join("%s = %s\n" % kv for kv in bf.items()))
    if proxy:
        parts.append("[proxy]\n" + "".join("%s = %s\n" % (k, str(v).lower()) for k, v in proxy.items()))
    return "\n".join(parts)


def start_server(cfg):
    """A fresh server with this config text; the caller stops it."""
    return harness.Server(config=cfg).start()


def db(srv):
    """A connection to the server's SQLite file (WAL: reads never block it)."""
    c = sqlite3.connect(srv.db, timeout=30)
    c.row_factory = sqlite3.Row
    return c


def make_token(srv, role, name=None):
    """A new bearer secret of `role`. Through the API when the server has
    one for tokens, else straight into the tokens table (the server looks
    tokens up on every call, so a row committed now is valid at once)."""
    name = name or "%s-%s" % (role, secrets.token_hex(3))
    r = srv.post("/v1/tokens", {"role": role, "name": name})
    if r.status == 201 and isinstance(r.json, dict):
        for k in ("secret", "token"):
            if isinstance(r.json.get(k), str):
                return r.json[k]
    secret = "promo_test_" + secrets.token_hex(20)
    h = hashlib.blake2b(secret.encode(), digest_size=32).hexdigest()
    harness.db_exec(srv, "INSERT INTO tokens (id, secret_hash, role, name, created_at) VALUES (?,?,?,?,?)",
                    ("tok_test" + secrets.token_hex(8), h, role, name, int(time.time())))
    return secret


def audit_rows(srv, token=None, **filters):
    """Every audit row matching filters (following next_cursor), read with
    `token` (an admin's; default the bootstrap admin)."""
    rows, cursor = [], None
    while True:
        q = dict(filters, limit=1000)
        if cursor:
            q["cursor"] = cursor
        r = srv.get("/v1/audit?" + urllib.parse.urlencode(q), token=token or srv.token)
        assert r.status == 200, "GET /v1/audit: %s" % harness.show(r)
        rows += r.json["data"]
        cursor = r.json["next_cursor"]
        if not cursor:
            return rows


def wait_audit(srv, pred, what, timeout=5.0, token=None, **filters):
    """Audit rows are written asynchronously (a few ms after the answer):
    polls until some row satisfies pred, returns the rows."""
    deadline = time.time() + timeout * harness.time_scale()
    while True:
        rows = audit_rows(srv, token=token, **filters)
        if any(pred(x) for x in rows):
            return rows
        if time.time() > deadline:
            raise AssertionError("no audit row %s within %.0fs; rows: %s" % (what, timeout, rows[-10:]))
        time.sleep(0.05)


def metrics(srv):
    """The /metrics text as {name_with_labels: float}."""
    r = srv.get("/metrics", token=None)
    assert r.status == 200, harness.show(r)
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def validate_body(code, customer=None, order_id=None):
    b = {"code": code, "order": {"amount": 10000, "currency": "KRW"}}
    if order_id:
        b["order"]["id"] = order_id
    if customer:
        b["customer_id"] = customer
    return b


def xff(ip):
    return {"X-Forwarded-For": ip}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def binary():
    return harness.promo_bin()


def tmpfile(srv, name, text):
    p = os.path.join(srv.tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p
