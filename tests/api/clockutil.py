"""Helpers for tests that drive the server's test clock (--test-clock)."""

import calendar
import time

import harness
from harness import expect


def enable(srv):
    """Restarts srv with the test clock on (a module's setup)."""
    srv.extra_env["PROMO_TEST_CLOCK"] = "1"
    srv.restart()


def now(srv):
    """The server's now, as Unix seconds."""
    s = expect(srv.get("/v1/test/clock"), 200)["now"]
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def advance(srv, seconds):
    return expect(srv.post("/v1/test/clock", {"advance_seconds": int(seconds)}), 200)


def events(srv, types, **match):
    """Every logged event of the given types whose members equal `match`."""
    out, cursor = [], None
    while True:
        j = expect(srv.get("/v1/events?limit=1000" + ("&cursor=" + cursor if cursor else "")), 200)
        out += [e for e in j["data"] if e["type"] in types and all(e.get(k) == v for k, v in match.items())]
        cursor = j["next_cursor"]
        if not cursor:
            return out


def wait_events(srv, types, n=1, timeout=2.0, **match):
    """Polls until at least n matching events are logged (the scheduler
    runs due tasks within a fraction of a second of a clock move)."""
    return harness.poll(lambda: (lambda v: v if len(v) >= n else None)(events(srv, types, **match)),
                        timeout=timeout) or events(srv, types, **match)
