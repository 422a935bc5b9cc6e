"""Helpers shared by test_rules.py and test_reminders.py: a server with the
test clock on and e-mail going to a real SMTP server on loopback (the sink
of test_delivery.py), virtual time that survives restarts, and reading the
e-mails a customer got."""

import time
import urllib.parse

import clockutil
import harness
from harness import RELAXED_CONFIG, expect, rfc3339, uniq
from test_delivery import SMTP, mails, start_smtp

DAY = 86400
HOUR = 3600


def setup_server(srv):
    """Starts the SMTP sink and restarts srv with it and the test clock."""
    start_smtp()
    srv.config = RELAXED_CONFIG + """[smtp]
host = 127.0.0.1
port = %d
from = shop@example.test
starttls = false
[delivery]
max_attempts = 3
backoff_base_ms = 100
backoff_cap_ms = 400
timeout_ms = 2000
connect_timeout_ms = 500
workers = 2
poll_ms = 50
""" % SMTP["port"]
    srv.extra_env["PROMO_TEST_CLOCK"] = "1"
    srv.restart()


class Clock:
    """The server's virtual time, kept here so a restart (which resets the
    server's test clock to the wall clock) can put it back."""

    def __init__(self, srv):
        self.srv = srv
        self.t = clockutil.now(srv)

    def advance(self, seconds):
        self.t += int(seconds)
        expect(self.srv.post("/v1/test/clock", {"now": rfc3339(self.t)}), 200)

    def restart(self):
        self.srv.restart()
        expect(self.srv.post("/v1/test/clock", {"now": rfc3339(self.t)}), 200)


def customer(srv, name):
    cid = uniq("cus-", 8)
    email = cid.lower() + "@example.test"
    r = srv.request("PUT", "/v1/customers/" + urllib.parse.quote(cid, safe=""),
                    {"name": name, "email": email, "locale": "en"})
    assert r.status in (200, 201), harness.show(r)
    return cid, email


def event(srv, etype, cid, **props):
    r = srv.post("/v1/events", {"id": uniq("ev-", 12), "type": etype, "customer_id": cid, "properties": props})
    assert r.status in (200, 201, 202), harness.show(r)
    return r.json


def mails_to(email):
    return [m for m in mails() if email in m["X-Envelope-To"]]


def wait_mails(email, n, timeout=5.0):
    """Polls until `email` has received at least n e-mails; returns them."""
    return harness.poll(lambda: (lambda v: v if len(v) >= n else None)(mails_to(email)), timeout=timeout) \
        or mails_to(email)


def settle(email, n):
    """Waits for n e-mails, then a little longer to see that no more come."""
    got = wait_mails(email, n) if n else []
    time.sleep(0.5 * harness.time_scale())
    return mails_to(email) if len(got) >= n else got


def text_of(m):
    return m.get_body(("plain",)).get_content()


def code_in(text, marker="CODE:"):
    """The code after `marker` in a text (our templates write CODE:<code>.)."""
    i = text.index(marker) + len(marker)
    return text[i:].split()[0].rstrip(".")


def template(srv, body_text, subject="Hi {{customer.name}}"):
    return expect(srv.post("/v1/templates", {"name": uniq("t", 6), "subject": subject, "body_text": body_text}),
                  201)
