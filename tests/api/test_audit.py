"""The audit log: every mutating call, every refused authentication or
authorization and every 429 is a row of an append-only table, with the
token, role, client IP, method, path and status, and a reason for refusals;
never a body, a header, a secret or a whole code. GET /v1/audit (admin
only) filters, pages and exports it as CSV."""

import csv
import io
import time

import harness
from abuse_util import (audit_rows, config, make_token, start_server, validate_body, wait_audit, xff)
from harness import add_code, create_campaign, expect, expect_error, uniq

STATE = {}


def setup(srv):
    STATE["viewer"] = make_token(srv, "viewer")
    STATE["marketer"] = make_token(srv, "marketer")


def admin_id(srv):
    """The admin token's id, as the audit log shows it."""
    create_campaign(srv)
    rows = wait_audit(srv, lambda x: x["method"] == "POST" and x["path"] == "/v1/campaigns", "for the admin")
    return [x for x in rows if x["path"] == "/v1/campaigns"][-1]["token_id"]


def test_mutations_are_audited_reads_are_not(srv):
    c = create_campaign(srv)
    expect(srv.patch("/v1/campaigns/" + c["id"], {"name": "renamed"}), 200)
    expect(srv.post("/v1/campaigns/%s/pause" % c["id"]), 200)
    expect(srv.get("/v1/campaigns/" + c["id"]), 200)
    path = "/v1/campaigns/" + c["id"]
    rows = wait_audit(srv, lambda x: x["path"] == path + "/pause", "for the pause")
    mine = [x for x in rows if x["path"].startswith(path)]
    assert [(x["method"], x["path"], x["status"]) for x in mine] == [
        ("PATCH", path, 200), ("POST", path + "/pause", 200)], mine
    create = [x for x in rows if x["path"] == "/v1/campaigns" and x["method"] == "POST"]
    assert create and create[-1]["status"] == 201
    for x in mine + create:
        assert x["token_id"].startswith("tok_") and x["role"] == "admin", x
        assert x["ip"] == "127.0.0.1", x
        assert x["reason"] is None, x
        assert x["at"].endswith("Z") and abs(time.time() - _epoch(x["at"])) < 120, x
    assert not [x for x in rows if x["method"] == "GET"], "a read was audited"


def _epoch(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def test_refused_authentication_is_audited_with_a_reason(srv):
    expect_error(srv.get("/v1/campaigns", token=None), 401, "unauthorized")
    wrong = "promo_wrong_" + uniq("S")
    expect_error(srv.get("/v1/campaigns/cmp_x", token=wrong), 401, "unauthorized")
    rows = wait_audit(srv, lambda x: x["path"] == "/v1/campaigns/cmp_x", "for the wrong token", status=401)
    reasons = {(x["path"], x["reason"]) for x in rows}
    assert ("/v1/campaigns", "no bearer token") in reasons, rows
    assert ("/v1/campaigns/cmp_x", "unknown token") in reasons, rows
    for x in rows:
        assert x["token_id"] is None and x["status"] == 401 and x["method"] == "GET", x


def test_paths_with_quotes_backslashes_and_braces_are_kept_as_sent(srv):
    """PostgreSQL writes a batch of rows as array literals: characters that
    mean something there must come back as they were sent."""
    import urllib.parse
    odd = 'cmp_q"u\\o,te{s}NULL'
    path = "/v1/campaigns/" + urllib.parse.quote(odd, safe="")
    names = ["a", "b\"", "c\\", "d,e", "{f}", "NULL"]
    for name in names:  # several rows, so that the batch holds more than one
        expect_error(srv.get("/v1/campaigns/x" + urllib.parse.quote(name, safe=""), token="promo_wrong"),
                     401, "unauthorized")
    expect_error(srv.get(path, token="promo_wrong"), 401, "unauthorized")
    rows = wait_audit(srv, lambda x: x["path"] == "/v1/campaigns/" + odd, "for the odd path", status=401)
    got = {x["path"] for x in rows}
    for name in names:
        assert "/v1/campaigns/x" + name in got, (name, sorted(got))
    assert "/v1/campaigns/" + odd in got, sorted(got)


def test_refused_authorization_is_audited_with_role_and_token(srv):
    expect_error(srv.post("/v1/campaigns", harness.campaign_body(), token=STATE["viewer"]), 403, "forbidden")
    rows = wait_audit(srv, lambda x: x["role"] == "viewer", "for the viewer", status=403)
    x = [x for x in rows if x["role"] == "viewer"][-1]
    assert (x["method"], x["path"], x["status"]) == ("POST", "/v1/campaigns", 403), x
    assert x["token_id"] and x["reason"] == "role not allowed on this route", x


def test_audit_is_for_admins_only(srv):
    for role in ("viewer", "marketer"):
        expect_error(srv.get("/v1/audit", token=STATE[role]), 403, "forbidden", what=role)
    expect_error(srv.get("/v1/audit", token=None), 401, "unauthorized")
    expect(srv.get("/v1/audit"), 200)


def test_codes_in_paths_are_masked(srv):
    c = create_campaign(srv)
    code = uniq("MASKME").upper()
    add_code(srv, c["id"], code)
    expect(srv.post("/v1/codes/%s/disable" % code), 200)
    expect_error(srv.post("/v1/codes/%s/nothing-here" % code.lower()), 404)
    want = "/v1/codes/%s\u2026%s/disable" % (code[:2], code[-2:])
    missed = "/v1/codes/%s\u2026%s/nothing-here" % (code.lower()[:2], code.lower()[-2:])
    # Rows are written asynchronously, in batches: wait for the later call's.
    rows = wait_audit(srv, lambda x: x["path"] == missed, "with the masked path " + missed)
    assert any(x["path"] == want for x in rows), [x["path"] for x in rows[-5:]]


def test_no_secret_no_code_and_no_body_is_ever_stored(srv):
    """Scans every cell of the audit table, and its CSV, for what must never
    be there: token secrets (good and bad), codes, bodies, headers."""
    c = create_campaign(srv)
    code = uniq("SECRETCODE").upper()
    add_code(srv, c["id"], code, max_uses=None)
    marker = uniq("bodymarker")
    idem = uniq("idemkey")
    bad_secret = "promo_" + uniq("notatoken")
    expect(srv.post("/v1/validate", validate_body(code, customer=marker)), 200)
    expect(srv.post("/v1/redemptions", validate_body(code, customer=marker, order_id=marker),
                    headers={"Idempotency-Key": idem}), 201)
    expect(srv.post("/v1/codes/%s/disable" % code), 200)
    expect(srv.get("/v1/codes/" + code, token=bad_secret), 401)
    expect(srv.post("/v1/validate", validate_body(code), token=bad_secret), 401)
    wait_audit(srv, lambda x: x["status"] == 401 and x["path"].startswith("/v1/codes/"), "for the bad secret")
    wait_audit(srv, lambda x: x["path"].endswith("/disable") and x["status"] == 200, "for the disable")
    forbidden = [srv.token, bad_secret, code, code.lower(), code.replace("-", ""), marker, idem, "Bearer"]
    cells = [str(v) for row in harness.db_query(srv, "SELECT * FROM audit_log") for v in row]
    csv_text = srv.get("/v1/audit?format=csv").text
    for f in forbidden:
        assert not [v for v in cells if f in v], "%r is stored in the audit table" % f
        assert f not in csv_text, "%r is in the audit CSV" % f


def test_filters(srv):
    tok = make_token(srv, "integration")
    k = add_code(srv, create_campaign(srv)["id"], uniq("FLT"), max_uses=None)["code"]
    for i in range(4):
        expect(srv.post("/v1/redemptions", validate_body(k, order_id=uniq("flt")), token=tok), 201)
    # a validation changes nothing and is in the event log: not audited
    expect(srv.post("/v1/validate", validate_body(k), token=tok), 200)
    expect_error(srv.get("/v1/campaigns", token=tok), 403)
    rows = wait_audit(srv, lambda x: x["role"] == "integration" and x["status"] == 403, "for the integration token")
    tid = [x for x in rows if x["role"] == "integration"][0]["token_id"]
    by_token = audit_rows(srv, token_id=tid)
    assert len(by_token) == 5 and {x["token_id"] for x in by_token} == {tid}, by_token
    assert [x["status"] for x in audit_rows(srv, token_id=tid, status=403)] == [403]
    assert len(audit_rows(srv, token_id=tid, method="POST")) == 4
    assert audit_rows(srv, token_id=tid, method="DELETE") == []
    assert {x["ip"] for x in audit_rows(srv, ip="127.0.0.1")} == {"127.0.0.1"}
    assert audit_rows(srv, ip="10.9.9.9") == []
    everything = audit_rows(srv)
    first, last = everything[0]["at"], everything[-1]["at"]
    assert audit_rows(srv, since="2000-01-01T00:00:00Z") == everything
    assert audit_rows(srv, until="2000-01-01T00:00:00Z") == []
    assert audit_rows(srv, since="2999-01-01T00:00:00+09:00") == []
    within = audit_rows(srv, since=first, until=_after(last))
    assert within == everything
    assert all(x["at"] >= last for x in audit_rows(srv, since=last))
    assert all(x["at"] < last for x in audit_rows(srv, until=last))
    for bad in ("status=abc", "status=42", "since=yesterday", "until=2026-13-01T00:00:00Z", "cursor=x",
                "limit=0", "format=xml", "method="):
        expect_error(srv.get("/v1/audit?" + bad), 400, "bad_request", what=bad)


def _after(at):
    t = _epoch(at) + 1
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_cursor_pages_cover_everything_once(srv):
    everything = audit_rows(srv)
    seen, cursor = [], None
    while True:
        q = "/v1/audit?limit=3" + ("&cursor=" + cursor if cursor else "")
        page = expect(srv.get(q), 200)
        assert len(page["data"]) <= 3
        seen += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [x["seq"] for x in seen][:len(everything)] == [x["seq"] for x in everything]
    assert len({x["seq"] for x in seen}) == len(seen), "a row came twice"


def test_csv_export_streams_every_row(srv):
    # Rows of its own, with a comma-free reason and a 401, so the test holds
    # when run alone as well as after the others.
    for _ in range(3):
        create_campaign(srv)
    expect(srv.post("/v1/campaigns", {"name": "x", "currency": "KRW"}, token=make_token(srv, "viewer")), 403)
    expect(srv.get("/v1/campaigns", token="wrong"), 401)
    everything = wait_audit(srv, lambda x: x["status"] == 401, "for the 401")
    assert len(everything) >= 5
    r = srv.get("/v1/audit?format=csv")
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv"), harness.show(r)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0].keys()) == ["seq", "at", "token_id", "role", "ip", "method", "path", "status", "reason",
                                    "count"]
    assert [int(x["seq"]) for x in rows][:len(everything)] == [x["seq"] for x in everything]
    by_seq = {int(x["seq"]): x for x in rows}
    for x in everything:
        y = by_seq[x["seq"]]
        assert (y["path"], int(y["status"]), y["token_id"] or None, y["reason"] or None, int(y["count"])) == (
            x["path"], x["status"], x["token_id"], x["reason"], x["count"]), (x, y)
    only = list(csv.DictReader(io.StringIO(srv.get("/v1/audit?format=csv&status=403").text)))
    assert only and {x["status"] for x in only} == {"403"}


def test_audit_is_append_only(srv):
    expect(srv.post("/v1/campaigns", harness.campaign_body()), 201)
    wait_audit(srv, lambda x: True, "at all")
    for sql in ("UPDATE audit_log SET status = 200", "DELETE FROM audit_log",
                "UPDATE audit_log SET path = 'x' WHERE seq = (SELECT max(seq) FROM audit_log)"):
        try:
            harness.db_exec(srv, sql)
            raise AssertionError("%s was allowed" % sql)
        except harness.DbError as e:
            assert "append-only" in str(e), e


def test_rows_of_calls_answered_before_a_graceful_stop_are_kept(srv):
    name = uniq("beforestop")
    expect(srv.post("/v1/campaigns", harness.campaign_body(name=name)), 201)
    srv.stop()
    srv.start()
    assert [x for x in audit_rows(srv, method="POST") if x["path"] == "/v1/campaigns"]


def test_client_ip_comes_from_the_trusted_proxy_only_when_configured(srv):
    expect(srv.post("/v1/campaigns", harness.campaign_body(), headers=xff("203.0.113.9")), 201)
    rows = wait_audit(srv, lambda x: x["path"] == "/v1/campaigns", "without the proxy")
    assert rows[-1]["ip"] == "127.0.0.1", "X-Forwarded-For was trusted without [proxy]: %r" % rows[-1]
    behind = start_server(config(proxy={"trust_forwarded_for": True}))
    try:
        cases = [("203.0.113.9, 198.51.100.7", "198.51.100.7"), ("198.51.100.8", "198.51.100.8"),
                 ("2001:db8::1", "2001:db8::1"), ("1.2.3.4, not-an-ip", "127.0.0.1"), ("", "127.0.0.1")]
        for header, want in cases:
            name = uniq("xff")
            expect(behind.post("/v1/campaigns", harness.campaign_body(name=name), headers=xff(header)), 201)
        want_ips = [w for _, w in cases]
        rows = harness.poll(lambda: len(audit_rows(behind, method="POST")) >= len(cases) and
                            audit_rows(behind, method="POST"), timeout=5)
        got = [x["ip"] for x in rows if x["path"] == "/v1/campaigns"][-len(cases):]
        assert got == want_ips, got
    finally:
        behind.stop()
