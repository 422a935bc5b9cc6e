"""harness.py — black-box HTTP harness for promo's acceptance tests.

Python 3 standard library only. A `Server` runs the binary named by
PROMO_BIN (default build/promo, relative to the repository root) on a
fresh database in a temporary directory, on a free local port, with a
random bootstrap admin token, and talks to it over HTTP.

    srv = Server(); srv.start()
    r = srv.request("POST", "/v1/campaigns", {"name": "x", ...})
    r.status, r.json, r.headers["content-type"], r.body
    srv.kill9(); srv.restart(); srv.stop()

Helpers at the bottom create campaigns and codes with sensible defaults.
"""

import http.client
import json
import os
import secrets
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def promo_bin():
    b = os.environ.get("PROMO_BIN", "build/promo")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def time_scale():
    """Multiplier for timeouts: sanitizer builds are 2-4x slower."""
    s = os.environ.get("PROMO_TIME_SCALE")
    if s:
        return float(s)
    return 3.0 if "san" in os.path.basename(os.path.dirname(promo_bin())) or "san" in os.path.basename(promo_bin()) else 1.0


HTTP_TIMEOUT = 60.0 * time_scale()

_DEFAULT = object()  # "use the admin token"
ALL_SERVERS = []     # every Server made, so the runner can stop them all


def timeout(seconds):
    """Decorator: a test's own time limit (scaled for sanitizer builds)."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # dict, lower-case names
        self.body = body                # bytes
        self.json = None
        if body:
            try:
                self.json = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.json = None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        b = self.text
        if len(b) > 600:
            b = b[:600] + "...(%d bytes)" % len(self.body)
        return "<%d %s>" % (self.status, b)

    # --- error-shape helpers -------------------------------------------------
    @property
    def err_code(self):
        try:
            return self.json["error"]["code"]
        except (TypeError, KeyError):
            return None

    @property
    def err_message(self):
        try:
            return self.json["error"]["message"]
        except (TypeError, KeyError):
            return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def _encode_body(body, raw):
    if raw is not None:
        return raw if isinstance(raw, (bytes, bytearray)) else raw.encode("utf-8")
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def _headers_for(srv, body_bytes, headers, token, raw):
    h = {}
    if token is _DEFAULT:
        token = srv.token
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if body_bytes is not None:
        h["Content-Type"] = "application/json"
    for k, v in (headers or {}).items():
        # allow overriding / removing (value None) default headers, any case
        for existing in list(h):
            if existing.lower() == k.lower():
                del h[existing]
        if v is not None:
            h[k] = v
    return h


def _read(conn, method, path, body_bytes, h):
    try:
        conn.request(method, path, body=body_bytes, headers=h)
    except (BrokenPipeError, ConnectionResetError) as e:
        # The server may answer (413...) and close before reading the whole
        # body: read the answer it sent, if any.
        try:
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException):
            raise e
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return Response(resp.status, resp.reason, hdrs, data), resp
    resp = conn.getresponse()
    data = resp.read()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    return Response(resp.status, resp.reason, hdrs, data), resp


# The suite's configuration file unless a test gives its own: rate limits
# and brute-force detection off, so that tests of other features (load,
# races, hostile input full of unknown codes) are never throttled.
# test_abuse.py and test_audit.py start servers with their own.
RELAXED_CONFIG = """[limits]
per_ip_per_second = 0
per_token_per_second = 0
storefront_per_second = 0
per_customer_per_second = 0
[bruteforce]
failures = 0
"""


# --- the store under test ----------------------------------------------------------
# PROMO_TEST_DB=postgres://user@host:port/db (scripts/pg_test.sh sets it): every
# Server gets a fresh PostgreSQL database of its own on that cluster (CREATE
# DATABASE), unless given one to share (Server(db=other.db): two servers, one
# store). Unset: a SQLite file in the server's temporary folder.
TEST_DB = os.environ.get("PROMO_TEST_DB", "")


def on_pg():
    return TEST_DB.startswith("postgres://") or TEST_DB.startswith("postgresql://")


# Test modules of features the PostgreSQL store does not have yet (their
# store functions answer 503 there: src/store/pg_pending.c). run.py skips
# them on PostgreSQL and prints why; a family ported to PostgreSQL leaves
# this table. On SQLite every module runs.
PG_PENDING = {
}


def pg_skip_reason(name):
    """Why the module or "module::test" `name` does not run on this store,
    or None when it runs."""
    return PG_PENDING.get(name) if on_pg() else None


def _psql():
    import shutil
    for p in ("psql", "/usr/lib/postgresql/15/bin/psql"):
        w = shutil.which(p)
        if w:
            return w
    raise RuntimeError("psql not found (PROMO_TEST_DB is a PostgreSQL URL)")


class DbError(Exception):
    """A statement the database refused (db_exec)."""


def _pg_url(dbname):
    base = TEST_DB.split("?", 1)[0]
    return base[:base.rfind("/") + 1] + dbname


def pg_fresh_db():
    """A new, empty database on the test cluster; its URL."""
    name = "promo_" + secrets.token_hex(6)
    r = subprocess.run([_psql(), TEST_DB, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE " + name],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("CREATE DATABASE failed: " + r.stderr)
    return _pg_url(name)


def _sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def db_exec(srv, sql, params=()):
    """Runs one statement (with ? placeholders) straight on the server's
    store, as an operator with SQL access would; raises DbError with the
    database's message when it refuses."""
    if not on_pg():
        import sqlite3
        c = sqlite3.connect(srv.db, timeout=30)
        try:
            c.execute(sql, params)
            c.commit()
        except sqlite3.DatabaseError as e:
            raise DbError(str(e))
        finally:
            c.close()
        return
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError("placeholders and params differ")
    text = parts[0] + "".join(_sql_literal(p) + rest for p, rest in zip(params, parts[1:]))
    r = subprocess.run([_psql(), srv.db, "-v", "ON_ERROR_STOP=1", "-qc", text], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise DbError(r.stderr.strip())


def db_query(srv, sql):
    """Rows of a query run straight on the server's store (values as the
    driver gives them: text on PostgreSQL)."""
    if not on_pg():
        import sqlite3
        c = sqlite3.connect(srv.db, timeout=30)
        try:
            return [tuple(r) for r in c.execute(sql)]
        finally:
            c.close()
    r = subprocess.run([_psql(), srv.db, "-AtX", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise DbError(r.stderr.strip())
    return [tuple(line.split("\x1f")) for line in r.stdout.splitlines()]


class Server:
    """One promo server process on its own database and port."""

    def __init__(self, bin=None, token=None, extra_env=None, extra_args=None, ssl_context=None, config=None,
                 db=None):
        """extra_args: more `promo serve` arguments (["--tls-cert", f, ...]);
        ssl_context: talk HTTPS, verified by this ssl.SSLContext;
        config: the INI text given as --config (None: RELAXED_CONFIG; "": no
        file, the server's defaults). Written anew at every start, so a test
        may change srv.config and restart."""
        self.config = RELAXED_CONFIG if config is None else config
        self.bin = bin or promo_bin()
        self.tmp = tempfile.mkdtemp(prefix="promo-api-")
        self.db = db or (pg_fresh_db() if on_pg() else os.path.join(self.tmp, "promo.db"))
        self.port = free_port()
        self.host = "127.0.0.1"
        self.token = token or ("t" + secrets.token_hex(20))
        self.extra_env = dict(extra_env or {})
        self.extra_args = list(extra_args or [])
        self.ssl_context = ssl_context
        self.bootstrap = True  # False: start without PROMO_BOOTSTRAP_TOKEN
        self.proc = None
        self.expected_dead = False
        self.starts = 0
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        ALL_SERVERS.append(self)

    # --- process control -----------------------------------------------------
    def start(self, timeout=None):
        if not os.path.exists(self.bin):
            raise RuntimeError("server binary %s does not exist (set PROMO_BIN or run make)" % self.bin)
        timeout = timeout if timeout is not None else 20.0 * time_scale()
        env = dict(os.environ)
        env.pop("PROMO_BOOTSTRAP_TOKEN", None)
        if self.bootstrap:
            env["PROMO_BOOTSTRAP_TOKEN"] = self.token
        env.pop("PROMO_DB", None)
        env.pop("PROMO_LISTEN", None)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.pop("PROMO_CONFIG", None)
        if self.config:
            env["PROMO_CONFIG"] = os.path.join(self.tmp, "promo.ini")
            with open(env["PROMO_CONFIG"], "w") as f:
                f.write(self.config)
        env.update(self.extra_env)
        self.starts += 1
        errf = open(self.stderr_path, "ab")
        outf = open(self.stdout_path, "ab")
        errf.write(("\n===== start #%d =====\n" % self.starts).encode())
        errf.flush()
        self.proc = subprocess.Popen(
            [self.bin, "serve", "--db", self.db, "--listen", "%s:%d" % (self.host, self.port)] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=outf, stderr=errf, env=env, cwd=self.tmp)
        errf.close()
        outf.close()
        self.expected_dead = False
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s during start; stderr:\n%s"
                                   % (self.proc.returncode, self.stderr_tail()))
            try:
                r = self.request("GET", "/healthz", token=None, timeout=2.0)
                if r.status == 200:
                    return self
                last = r
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError("server did not answer GET /healthz 200 within %.0fs (last: %r); stderr:\n%s"
                           % (timeout, last, self.stderr_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, wait, SIGKILL after `timeout`. Returns the exit code."""
        if self.proc is None:
            return None
        self.expected_dead = True
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout * time_scale())
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill9(self):
        if self.proc is None:
            return
        self.expected_dead = True
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def restart(self, graceful=True):
        """Stop (if running) and start again on the same database and port."""
        if self.alive():
            if graceful:
                self.stop()
            else:
                self.kill9()
        return self.start()

    def stderr_tail(self, n=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr_all(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # --- HTTP --------------------------------------------------------------------
    def conn(self, timeout=None):
        if self.ssl_context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout or HTTP_TIMEOUT,
                                               context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout or HTTP_TIMEOUT)

    def request(self, method, path, body=None, headers=None, token=_DEFAULT, raw=None, timeout=None):
        """One request on a new connection. `body`: dict/list (JSON-encoded),
        str or bytes (sent as is). `raw`: bytes sent as is (Content-Type:
        application/json unless overridden in headers). `token=None` sends
        no Authorization header."""
        b = _encode_body(body, raw)
        h = _headers_for(self, b, headers, token, raw)
        c = self.conn(timeout)
        try:
            r, _ = _read(c, method, path, b, h)
            return r
        finally:
            c.close()

    # shorthands
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def client(self):
        return Client(self)

    def healthy(self):
        try:
            return self.request("GET", "/healthz", token=None, timeout=10 * time_scale()).status == 200
        except (OSError, http.client.HTTPException):
            return False


class Client:
    """A keep-alive client for load loops: one connection, reopened when the
    server closes it. Not thread-safe: one per thread."""

    def __init__(self, srv, timeout=None):
        self.srv = srv
        self.timeout = timeout or HTTP_TIMEOUT
        self.c = None

    def connect(self):
        if self.c is None:
            self.c = self.srv.conn(self.timeout)
            self.c.connect()
        return self

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None

    def request(self, method, path, body=None, headers=None, token=_DEFAULT, raw=None, retry=False):
        """Like Server.request on the kept connection. With retry=False a
        connection error is raised (the caller cannot know whether a write
        happened); retry=True reconnects once if the connection was stale."""
        b = _encode_body(body, raw)
        h = _headers_for(self.srv, b, headers, token, raw)
        for attempt in (0, 1):
            self.connect()
            try:
                r, resp = _read(self.c, method, path, b, h)
                if resp.will_close:
                    self.close()
                return r
            except (OSError, http.client.HTTPException):
                self.close()
                if not retry or attempt == 1:
                    raise

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


# --- raw sockets (hostile input) --------------------------------------------------

def raw_socket(srv, timeout=None):
    s = socket.create_connection((srv.host, srv.port), timeout=timeout or HTTP_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(s, timeout=None, limit=1 << 20):
    """Reads until the peer closes, `limit` bytes, or `timeout` seconds."""
    timeout = timeout or HTTP_TIMEOUT
    deadline = time.time() + timeout
    out = b""
    while len(out) < limit:
        left = deadline - time.time()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        try:
            d = s.recv(65536)
        except (ConnectionResetError, OSError):
            break
        if not d:
            break
        out += d
        if _complete_response(out):
            break
    return out


def _complete_response(data):
    """True when `data` holds a full HTTP response (by Content-Length)."""
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return False
    head = data[:i].decode("latin-1").lower()
    for line in head.split("\r\n")[1:]:
        if line.startswith("content-length:"):
            try:
                n = int(line.split(":", 1)[1].strip())
            except ValueError:
                return False
            return len(data) >= i + 4 + n
    return False


def parse_raw_response(data):
    """(status or None, headers dict, body bytes) of a raw HTTP response."""
    if not data.startswith(b"HTTP/"):
        return None, {}, data
    i = data.find(b"\r\n\r\n")
    head = data[:i if i >= 0 else len(data)].decode("latin-1")
    body = data[i + 4:] if i >= 0 else b""
    lines = head.split("\r\n")
    try:
        status = int(lines[0].split(" ")[1])
    except (IndexError, ValueError):
        status = None
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    if "chunked" in hdrs.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    return status, hdrs, body


def _dechunk(b):
    out = b""
    while b:
        i = b.find(b"\r\n")
        if i < 0:
            break
        try:
            n = int(b[:i].split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        out += b[i + 2:i + 2 + n]
        b = b[i + 2 + n + 2:]
    return out


# --- assertions ---------------------------------------------------------------------

def show(r):
    return repr(r)


def expect(r, status, what=""):
    assert r.status == status, "%sexpected HTTP %d, got %s" % ((what + ": ") if what else "", status, show(r))
    return r.json


def expect_error(r, status, code=None, field=None, what=""):
    """r is an error answer: the status, the JSON error shape with a
    non-empty message, optionally the machine code and a field named in the
    message."""
    pre = (what + ": ") if what else ""
    assert r.status == status, "%sexpected HTTP %d, got %s" % (pre, status, show(r))
    assert_error_shape(r, pre)
    if code is not None:
        assert r.err_code == code, "%sexpected error.code %r, got %s" % (pre, code, show(r))
    if field is not None:
        assert field in r.err_message, "%sexpected the message to name %r, got %s" % (pre, field, show(r))
    return r.json


def assert_error_shape(r, pre=""):
    assert isinstance(r.json, dict) and isinstance(r.json.get("error"), dict), \
        "%sanswer is not the error shape {\"error\":{\"code\",\"message\"}}: %s" % (pre, show(r))
    e = r.json["error"]
    assert isinstance(e.get("code"), str) and e["code"], "%serror.code missing/empty: %s" % (pre, show(r))
    assert isinstance(e.get("message"), str) and e["message"].strip(), \
        "%serror.message missing/empty: %s" % (pre, show(r))


def refusal(r, reason, what=""):
    """A 422 refusal of a redemption/reservation with `reason` as error.code."""
    return expect_error(r, 422, reason, what=what)


def invalid(r, reason, what=""):
    """A validation answer 200 {"valid": false, "reason": reason, "message": ...}."""
    pre = (what + ": ") if what else ""
    assert r.status == 200, "%svalidate: expected HTTP 200, got %s" % (pre, show(r))
    j = r.json
    assert isinstance(j, dict) and j.get("valid") is False, "%sexpected valid=false, got %s" % (pre, show(r))
    assert j.get("reason") == reason, "%sexpected reason %r, got %s" % (pre, reason, show(r))
    assert isinstance(j.get("message"), str) and j["message"].strip(), "%smessage missing: %s" % (pre, show(r))
    return j


# --- domain helpers --------------------------------------------------------------------

CHARSET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def uniq(prefix="T", n=10):
    """A random code/id that cannot collide: prefix + n characters."""
    return prefix + "".join(secrets.choice(CHARSET) for _ in range(n))


def campaign_body(**over):
    b = {"name": "test " + uniq("", 6), "currency": "KRW",
         "discount": {"type": "fixed", "amount": 1000}}
    b.update(over)
    return b


def create_campaign(srv, **over):
    """Creates a campaign (fixed 1000 KRW unless overridden), asserts 201."""
    r = srv.request("POST", "/v1/campaigns", campaign_body(**over))
    assert r.status == 201, "create campaign %r: expected 201, got %s" % (over, show(r))
    assert r.json["id"].startswith("cmp_"), r
    return r.json


def add_code(srv, cid, code=None, max_uses=1, **extra):
    """Adds one chosen code; returns the code object. max_uses=None means
    unlimited (sent as JSON null); max_uses='omit' sends nothing."""
    code = code or uniq("C")
    body = {"code": code}
    if max_uses != "omit":
        body["max_uses"] = max_uses
    body.update(extra)
    r = srv.request("POST", "/v1/campaigns/%s/codes" % cid, body)
    assert r.status == 201, "add code %r to %s: expected 201, got %s" % (body, cid, show(r))
    return r.json


def generate(srv, cid, count, **extra):
    body = {"count": count}
    body.update(extra)
    r = srv.request("POST", "/v1/campaigns/%s/codes" % cid, body)
    assert r.status in (201, 202), "generate %r: expected 201/202, got %s" % (body, show(r))
    return r


def list_codes(srv, cid, state=None, limit=1000):
    """Every code of a campaign, following next_cursor."""
    out, cursor, pages = [], None, 0
    while True:
        q = {"limit": str(limit)}
        if state:
            q["state"] = state
        if cursor:
            q["cursor"] = cursor
        r = srv.request("GET", "/v1/campaigns/%s/codes?%s" % (cid, urllib.parse.urlencode(q)))
        assert r.status == 200, "list codes: %s" % show(r)
        out.extend(r.json["data"])
        cursor = r.json.get("next_cursor")
        pages += 1
        assert pages < 100000, "list codes: cursor never ends"
        if not cursor:
            return out


def list_redemptions(srv, campaign_id=None, customer_id=None, limit=100):
    out, cursor, pages = [], None, 0
    while True:
        q = {"limit": str(limit)}
        if campaign_id:
            q["campaign_id"] = campaign_id
        if customer_id:
            q["customer_id"] = customer_id
        if cursor:
            q["cursor"] = cursor
        r = srv.request("GET", "/v1/redemptions?" + urllib.parse.urlencode(q))
        assert r.status == 200, "list redemptions: %s" % show(r)
        assert isinstance(r.json, dict) and isinstance(r.json.get("data"), list), \
            "list redemptions: not a list answer: %s" % show(r)
        out.extend(r.json["data"])
        cursor = r.json.get("next_cursor")
        pages += 1
        assert pages < 100000, "list redemptions: cursor never ends"
        if not cursor:
            return out


def get_code(srv, code):
    r = srv.request("GET", "/v1/codes/" + urllib.parse.quote(code, safe=""))
    assert r.status == 200, "GET code %r: %s" % (code, show(r))
    return r.json


def get_campaign(srv, cid):
    r = srv.request("GET", "/v1/campaigns/" + cid)
    assert r.status == 200, "GET campaign %s: %s" % (cid, show(r))
    return r.json


def stats(srv, cid):
    r = srv.request("GET", "/v1/campaigns/%s/stats" % cid)
    assert r.status == 200, "GET stats %s: %s" % (cid, show(r))
    return r.json


def order(amount=10000, oid=None, currency=None, items=None):
    o = {"id": oid or uniq("o-", 12), "amount": amount}
    if currency:
        o["currency"] = currency
    if items is not None:
        o["items"] = items
    return o


def use_body(code, amount=10000, oid=None, customer_id=None, currency=None, items=None, **extra):
    b = {"code": code, "order": order(amount, oid, currency, items)}
    if customer_id is not None:
        b["customer_id"] = customer_id
    b.update(extra)
    return b


def validate(srv, code, amount=10000, headers=None, **kw):
    return srv.request("POST", "/v1/validate", use_body(code, amount, **kw), headers=headers)


def redeem(srv, code, amount=10000, headers=None, **kw):
    return srv.request("POST", "/v1/redemptions", use_body(code, amount, **kw), headers=headers)


def reserve(srv, code, amount=10000, ttl_seconds=None, headers=None, **kw):
    b = use_body(code, amount, **kw)
    if ttl_seconds is not None:
        b["ttl_seconds"] = ttl_seconds
    return srv.request("POST", "/v1/reservations", b, headers=headers)


def wait_job(srv, job_id, timeout=300):
    deadline = time.time() + timeout * time_scale()
    last = None
    while time.time() < deadline:
        r = srv.request("GET", "/v1/jobs/" + job_id)
        assert r.status == 200, "GET job %s: %s" % (job_id, show(r))
        last = r.json
        if last.get("status") in ("done", "failed"):
            return last
        time.sleep(0.2)
    raise AssertionError("job %s not done within %ds: %r" % (job_id, timeout, last))


def poll(fn, timeout=3.0, interval=0.1):
    """Calls fn() until it returns a truthy value or `timeout` (scaled)
    passes; returns the last value."""
    deadline = time.time() + timeout * time_scale()
    v = fn()
    while not v and time.time() < deadline:
        time.sleep(interval)
        v = fn()
    return v


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def race(n, fn, timeout=None):
    """Runs fn(i, barrier) in n threads; fn should prepare (connect), then
    call barrier.wait(), then act. Returns the list of results (or the
    exceptions raised) in thread order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            results[i] = fn(i, barrier)
        except BaseException as e:  # recorded, checked by the caller
            results[i] = e
            try:
                barrier.abort()
            except Exception:
                pass

    ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    deadline = time.time() + (timeout or 120 * time_scale())
    for t in ts:
        t.join(max(0.1, deadline - time.time()))
    stuck = [i for i, t in enumerate(ts) if t.is_alive()]
    assert not stuck, "%d of %d racing clients got no answer in time" % (len(stuck), n)
    return results


def race_requests(srv, n, make, timeout=None):
    """n clients, each with its own connection opened beforehand, send at
    the same moment (a Barrier) the request make(i) → (method, path, body,
    headers). Returns the Responses; a connection error fails the test
    (its outcome would be unknown)."""

    # Servers sharing srv's store (srv.peers, PostgreSQL): the racers are
    # spread over all of them, one after the other.
    targets = [srv] + list(getattr(srv, "peers", []))

    def one(i, barrier):
        method, path, body, headers = make(i)
        c = Client(targets[i % len(targets)])
        c.connect()
        try:
            barrier.wait(timeout=60 * time_scale())
            return c.request(method, path, body, headers=headers)
        finally:
            c.close()

    res = race(n, one, timeout)
    errs = [r for r in res if isinstance(r, BaseException)]
    assert not errs, "%d of %d racing clients failed at the connection level, e.g. %r" % (len(errs), n, errs[0])
    return res


def count_status(responses):
    out = {}
    for r in responses:
        key = (r.status, r.err_code) if r.status >= 400 else (r.status, None)
        out[key] = out.get(key, 0) + 1
    return out


def big_upload(srv, path, size, content_type="application/json", fill=None, method="POST",
               token=_DEFAULT, chunk_size=256 * 1024):
    """Sends a request announcing a `size`-byte body and streams it while
    watching for an early answer (a server may answer 413 before reading
    everything). Returns (status or None, headers, body, bytes_sent, how)
    where `how` tells how the exchange ended: "answered", "reset",
    "closed"."""
    tok = srv.token if token is _DEFAULT else token
    head = ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            % (method, path, srv.host, srv.port, content_type, size))
    if tok is not None:
        head += "Authorization: Bearer %s\r\n" % tok
    head += "\r\n"
    s = raw_socket(srv)
    fill = fill or (b"x" * 64)
    block = (fill * (chunk_size // len(fill) + 1))[:chunk_size]
    sent, data, how = 0, b"", None
    try:
        s.sendall(head.encode())
        while sent < size:
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break  # the server speaks: stop sending, read the answer
            n = min(chunk_size, size - sent)
            try:
                s.sendall(block[:n])
            except (BrokenPipeError, ConnectionResetError):
                how = "reset"
                break
            except socket.timeout:
                how = "send-timeout"
                break
            sent += n
        data = recv_all(s, timeout=30 * time_scale())
    except (ConnectionResetError, BrokenPipeError):
        how = how or "reset"
    finally:
        s.close()
    status, hdrs, body = parse_raw_response(data)
    if status is not None:
        how = "answered"
    return status, hdrs, body, sent, how or "closed"
