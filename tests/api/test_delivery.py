"""Delivery from the transactional outbox: e-mails reach a real SMTP server
(aiosmtpd, started here on loopback) with the personal variables filled
in; webhooks reach a receiver in this process, signed, at least once,
retried with backoff, dead-lettered after max_attempts; a receiver that
never answers holds up neither other receivers nor redemptions."""

import atexit
import email
import email.policy
import glob
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse

from harness import (RELAXED_CONFIG, add_code, create_campaign, expect, poll, show, time_scale, timeout,
                     uniq, use_body)

SMTP = {}      # proc, port, dir
RECEIVER = {}  # server, port, log


# ---- the SMTP server -------------------------------------------------------------

def start_smtp():
    folder = tempfile.mkdtemp(prefix="promo-smtp-")
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(here, "smtp_sink.py"), folder],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    assert line.startswith("PORT "), "the SMTP sink did not start: %r %s" % (line, proc.stderr.read(2000))
    SMTP.update(proc=proc, port=int(line.split()[1]), dir=folder)

    def stop():
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    atexit.register(stop)


def mails():
    out = []
    for f in sorted(glob.glob(os.path.join(SMTP["dir"], "*.eml"))):
        with open(f, "rb") as fh:
            out.append(email.message_from_bytes(fh.read(), policy=email.policy.default))
    return out


# ---- the webhook receiver ----------------------------------------------------------

class Receiver(http.server.BaseHTTPRequestHandler):
    """/ok/<k> answers 200; /flaky/<k> answers 500 twice, then 200;
    /hang/<k> never answers (until the test process ends); /hangonce/<k>
    does not answer the first request, then answers 200."""

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        kind, key = (self.path.strip("/").split("/") + ["", ""])[:2]
        with RECEIVER["lock"]:
            seen = [r for r in RECEIVER["log"] if r["path"] == self.path]
            rec = {"path": self.path, "body": body, "headers": {k.lower(): v for k, v in self.headers.items()},
                   "at": time.time()}
            if kind == "flaky" and len(seen) < 2:
                rec["status"] = 500
            elif kind == "hang" or (kind == "hangonce" and not seen):
                rec["status"] = None
            else:
                rec["status"] = 200
            RECEIVER["log"].append(rec)
        if rec["status"] is None:
            RECEIVER["stop"].wait(120)
            return
        self.send_response(rec["status"])
        self.send_header("Content-Length", "0")
        self.end_headers()


def start_receiver():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    srv.daemon_threads = True
    RECEIVER.update(server=srv, port=srv.server_address[1], log=[], lock=threading.Lock(), stop=threading.Event())
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    atexit.register(RECEIVER["stop"].set)


def url(kind):
    return "http://127.0.0.1:%d/%s/%s" % (RECEIVER["port"], kind, uniq("", 8))


def received(u):
    path = urllib.parse.urlparse(u).path
    with RECEIVER["lock"]:
        return [r for r in RECEIVER["log"] if r["path"] == path]


# ---- the server under test -----------------------------------------------------------

MAX_ATTEMPTS = 3
TIMEOUT_MS = 1000


def setup(srv):
    start_smtp()
    start_receiver()
    srv.config = RELAXED_CONFIG + """[smtp]
host = 127.0.0.1
port = %d
from = shop@example.test
starttls = false
[delivery]
max_attempts = %d
backoff_base_ms = 100
backoff_cap_ms = 400
timeout_ms = %d
connect_timeout_ms = 500
workers = 4
poll_ms = 50
""" % (SMTP["port"], MAX_ATTEMPTS, TIMEOUT_MS)
    srv.restart()


def webhook(srv, u, types):
    r = srv.post("/v1/webhooks", {"url": u, "event_types": types})
    j = expect(r, 201)
    assert j["secret"].startswith("whsec_") and j["event_types"] == types, j
    return j


def messages_of(srv, webhook_id=None, event_type=None, channel=None):
    out, cursor = [], None
    while True:
        q = {"limit": "500"}
        if channel:
            q["channel"] = channel
        if cursor:
            q["cursor"] = cursor
        r = expect(srv.get("/v1/messages?" + urllib.parse.urlencode(q)), 200)
        out.extend(r["data"])
        cursor = r["next_cursor"]
        if not cursor:
            break
    return [m for m in out if (webhook_id is None or m["webhook_id"] == webhook_id)
            and (event_type is None or m["event_type"] == event_type)]


def wait_state(srv, mid, state, timeout=10.0):
    last = {}

    def check():
        last["m"] = expect(srv.get("/v1/messages/" + mid), 200)
        return last["m"]["state"] == state
    assert poll(check, timeout=timeout, interval=0.05), "message %s never became %s: %r" % (mid, state, last)
    return last["m"]


# ---- e-mail ---------------------------------------------------------------------------

def test_an_email_arrives_at_the_smtp_server_with_the_variables_filled_in(srv):
    t = expect(srv.post("/v1/templates", {
        "name": "welcome",
        "subject": "{{customer.name}}님, {{discount}} 쿠폰",
        "body_text": "Code {{code}} for {{cart.items.0.name}}, until {{expires_at}}.",
        "body_html": "<p>Hello {{customer.name}}: <b>{{code}}</b> until {{expires_at}}</p>"}), 201)
    who = uniq("m", 6).lower() + "@example.test"
    r = srv.post("/v1/messages", {
        "channel": "email", "template_id": t["id"],
        "customer": {"id": "cus-1", "email": who, "name": "Mina <VIP>", "locale": "ko", "timezone": "Asia/Seoul"},
        "data": {"code": "FALL-2026", "discount": 5000, "currency": "KRW", "expires_at": "2026-12-02T20:00:00Z",
                 "cart": {"items": [{"name": "Wool coat", "price": 129000, "quantity": 1}]}}})
    m = expect(r, 202)
    assert m["state"] == "queued" and m["recipient"] == who and m["customer_id"] == "cus-1", m
    sent = wait_state(srv, m["id"], "sent")
    assert sent["attempts"] == 1 and sent["sent_at"], sent
    got = [x for x in mails() if who in x["X-Envelope-To"]]
    assert len(got) == 1, "expected one e-mail to %s, got %d" % (who, len(got))
    e = got[0]
    assert e["X-Envelope-From"] == "shop@example.test", e["X-Envelope-From"]
    assert str(e["Subject"]) == "Mina <VIP>님, 5,000원 쿠폰", e["Subject"]
    to = e["To"].addresses[0]
    assert to.addr_spec == who and to.display_name == "Mina <VIP>", e["To"]
    assert sent["recipient_name"] == "Mina <VIP>", sent
    text = e.get_body(("plain",)).get_content()
    html = e.get_body(("html",)).get_content()
    assert "Code FALL-2026 for Wool coat, until 2026년 12월 3일." in text, text
    assert "Hello Mina &lt;VIP&gt;: <b>FALL-2026</b> until 2026년 12월 3일" in html, html
    att = expect(srv.get("/v1/messages/%s/attempts" % m["id"]), 200)["data"]
    assert [a["ok"] for a in att] == [True] and att[0]["status"] == 250, att


def test_an_inline_english_email_uses_english_formats(srv):
    who = uniq("e", 6).lower() + "@example.test"
    r = srv.post("/v1/messages", {
        "channel": "email", "subject": "Your {{discount}} coupon",
        "body_text": "Hi {{customer.name}}, it expires on {{expires_at}}.",
        "customer": {"email": who, "name": "Sam", "locale": "en-US", "timezone": "America/New_York"},
        "data": {"discount": 1250, "currency": "USD", "expires_at": "2026-12-03T03:00:00Z"}})
    m = expect(r, 202)
    wait_state(srv, m["id"], "sent")
    e = [x for x in mails() if who in x["X-Envelope-To"]][0]
    assert str(e["Subject"]) == "Your $12.50 coupon", e["Subject"]
    # 03:00 UTC on the 3rd is still the evening of the 2nd in New York
    assert "Hi Sam, it expires on December 2, 2026." in e.get_body(("plain",)).get_content()


# ---- webhooks ---------------------------------------------------------------------------

def verify(rec, secret):
    ts = rec["headers"]["x-promo-timestamp"]
    want = "v1=" + hmac.new(secret.encode(), ts.encode() + b"." + rec["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(rec["headers"]["x-promo-signature"], want), (rec["headers"], want)
    assert abs(int(ts) - time.time()) < 300, "timestamp %s is not now" % ts


def test_a_receiver_failing_twice_gets_the_event_accepted_once_correctly_signed(srv):
    u = url("flaky")
    h = webhook(srv, u, ["campaign_created"])
    c = create_campaign(srv)
    add_code(srv, c["id"])  # code_created: not subscribed, never sent to this hook
    ms = poll(lambda: messages_of(srv, webhook_id=h["id"]), timeout=5)
    assert len(ms) == 1 and ms[0]["event_type"] == "campaign_created", ms
    m = wait_state(srv, ms[0]["id"], "sent")
    assert m["attempts"] == 3 and m["last_error"] is None, m
    recs = received(u)
    assert [r["status"] for r in recs] == [500, 500, 200], [r["status"] for r in recs]
    for r in recs:
        verify(r, h["secret"])
        assert r["headers"]["x-promo-delivery"] == m["id"], r["headers"]
        assert r["headers"]["content-type"].startswith("application/json"), r["headers"]
    body = json.loads(recs[-1]["body"])
    assert body["type"] == "campaign_created" and body["id"].startswith("evt_"), body
    assert body["data"]["campaign_id"] == c["id"] and body["occurred_at"].endswith("Z"), body
    # the retries waited (exponential backoff from 100 ms, jittered into its upper half)
    assert recs[1]["at"] - recs[0]["at"] >= 0.05 and recs[2]["at"] - recs[1]["at"] >= 0.1, \
        [r["at"] for r in recs]
    att = expect(srv.get("/v1/messages/%s/attempts" % m["id"]), 200)["data"]
    assert [(a["n"], a["ok"], a["status"]) for a in att] == [(1, False, 500), (2, False, 500), (3, True, 200)], att
    assert att[0]["error"] == "HTTP 500", att
    # the signature covers the body: a changed body would not verify
    last = recs[-1]
    forged = hmac.new(h["secret"].encode(), last["headers"]["x-promo-timestamp"].encode() + b"." +
                      last["body"].replace(b"campaign_created", b"campaign_deleted"), hashlib.sha256).hexdigest()
    assert last["headers"]["x-promo-signature"] != "v1=" + forged


def test_a_receiver_that_never_answers_is_dead_lettered_and_others_are_unaffected(srv):
    dead_u, ok_u = url("hang"), url("ok")
    dead = webhook(srv, dead_u, ["campaign_paused"])
    ok = webhook(srv, ok_u, ["campaign_paused"])
    c = create_campaign(srv)
    t0 = time.time()
    expect(srv.post("/v1/campaigns/%s/pause" % c["id"]), 200)
    okm = poll(lambda: messages_of(srv, webhook_id=ok["id"]), timeout=5)[0]
    wait_state(srv, okm["id"], "sent", timeout=TIMEOUT_MS / 1000.0 * 0.9)
    assert time.time() - t0 < TIMEOUT_MS / 1000.0 * time_scale(), "the healthy receiver waited for the dead one"
    assert len(received(ok_u)) == 1
    dm = messages_of(srv, webhook_id=dead["id"])[0]
    m = wait_state(srv, dm["id"], "dead", timeout=MAX_ATTEMPTS * (TIMEOUT_MS / 1000.0 + 0.5) + 5)
    assert m["attempts"] == MAX_ATTEMPTS and m["last_error"] == "no answer within %d ms" % TIMEOUT_MS, m
    assert len(received(dead_u)) == MAX_ATTEMPTS
    att = expect(srv.get("/v1/messages/%s/attempts" % m["id"]), 200)["data"]
    assert len(att) == MAX_ATTEMPTS and all(not a["ok"] and a["status"] is None for a in att), att
    assert all(a["duration_ms"] >= TIMEOUT_MS * 0.9 for a in att), att
    metrics = srv.get("/metrics", token=None).text
    dead_n = [l for l in metrics.split("\n") if l.startswith('promo_outbox_messages{state="dead"}')]
    assert dead_n and int(dead_n[0].split()[1]) >= 1, dead_n
    evs = expect(srv.get("/v1/events?type=message_dead"), 200)["data"]
    assert any(e["subject_id"] == m["id"] for e in evs), evs
    # dead messages are listed as such, and can be given another round
    assert m["id"] in [x["id"] for x in expect(srv.get("/v1/messages?state=dead&limit=1000"), 200)["data"]]
    r = expect(srv.post("/v1/messages/%s/retry" % m["id"]), 200)
    assert r["state"] == "queued", r
    r = srv.post("/v1/messages/%s/retry" % okm["id"])
    assert r.status == 409 and r.err_code == "conflict", show(r)
    expect(srv.request("DELETE", "/v1/webhooks/" + dead["id"]), 200)
    # queued for a deleted subscription: dead at the next attempt, without waiting for a timeout
    m = wait_state(srv, m["id"], "dead", timeout=TIMEOUT_MS / 1000.0 * 2 + 3)
    assert "deleted" in m["last_error"], m
    expect(srv.request("DELETE", "/v1/webhooks/" + ok["id"]), 200)


def test_redemptions_keep_their_latency_while_a_receiver_hangs(srv):
    c = create_campaign(srv)
    code = add_code(srv, c["id"], max_uses=None)["code"]

    def redeem_times(n):
        out = []
        for _ in range(n):
            t = time.time()
            expect(srv.post("/v1/redemptions", use_body(code)), 201)
            out.append(time.time() - t)
        return sorted(out)

    before = redeem_times(20)
    u = url("hang")
    h = webhook(srv, u, ["*"])
    # its own webhook_created event is the first delivery: wait until the
    # receiver holds a worker, then redeem while it hangs
    assert poll(lambda: received(u), timeout=5), "the receiver was never tried"
    during = redeem_times(40)
    queued = messages_of(srv, webhook_id=h["id"], event_type="redeemed")
    assert len(queued) == 40, "every redemption queued its delivery in its own transaction: %d" % len(queued)
    p50_b, p50_d, worst = before[len(before) // 2], during[len(during) // 2], during[-1]
    # a hung receiver costs a worker up to a second per attempt; a redemption never waits for it
    assert worst < TIMEOUT_MS / 1000.0 / 2 * time_scale(), "slowest redemption %.3fs" % worst
    assert p50_d < p50_b * 3 + 0.02 * time_scale(), "median %.4fs before, %.4fs during" % (p50_b, p50_d)
    expect(srv.request("DELETE", "/v1/webhooks/" + h["id"]), 200)


@timeout(120)
def test_a_delivery_in_flight_when_the_server_dies_is_sent_again_after_the_restart(srv):
    u = url("hangonce")
    h = webhook(srv, u, ["campaign_ended"])
    c = create_campaign(srv)
    expect(srv.post("/v1/campaigns/%s/end" % c["id"]), 200)
    assert poll(lambda: received(u), timeout=5), "the first attempt never came"
    srv.restart(graceful=False)  # kill -9 while the attempt waits for its answer
    m = messages_of(srv, webhook_id=h["id"])[0]
    # the dead worker's claim lapses (timeout + connect timeout + 5 s), then it is sent again
    m = wait_state(srv, m["id"], "sent", timeout=TIMEOUT_MS / 1000.0 + 0.5 + 5 + 10)
    recs = received(u)
    assert len(recs) == 2 and recs[1]["status"] == 200, [r["status"] for r in recs]
    assert recs[0]["headers"]["x-promo-delivery"] == recs[1]["headers"]["x-promo-delivery"] == m["id"]
    assert recs[0]["body"] == recs[1]["body"]
    verify(recs[1], h["secret"])
    att = expect(srv.get("/v1/messages/%s/attempts" % m["id"]), 200)["data"]
    assert [a["ok"] for a in att] == [True], "only the attempt that finished is recorded: %r" % att
    expect(srv.request("DELETE", "/v1/webhooks/" + h["id"]), 200)


def test_webhooks_are_admin_only_and_their_secret_is_shown_once(srv):
    h = webhook(srv, url("ok"), ["*"])
    g = expect(srv.get("/v1/webhooks/" + h["id"]), 200)
    assert "secret" not in g and g["url"] == h["url"], g
    assert h["id"] in [x["id"] for x in expect(srv.get("/v1/webhooks"), 200)["data"]]
    tok = expect(srv.post("/v1/tokens", {"name": "m", "role": "marketer"}), 201)["secret"]
    r = srv.request("GET", "/v1/webhooks", token=tok)
    assert r.status == 403, show(r)
    for body, field in (({"url": "ftp://x/y", "event_types": ["*"]}, "url"),
                        ({"url": "http://127.0.0.1:1/", "event_types": []}, "event_types"),
                        ({"url": "http://127.0.0.1:1/"}, "event_types"),
                        ({"url": "http://127.0.0.1:1/", "event_types": ["*"], "secret": "x"}, "secret")):
        r = srv.post("/v1/webhooks", body)
        assert r.status == 400 and field in r.err_message, (body, show(r))
    expect(srv.request("DELETE", "/v1/webhooks/" + h["id"]), 200)
    r = srv.request("DELETE", "/v1/webhooks/" + h["id"])
    assert r.status == 404, show(r)
