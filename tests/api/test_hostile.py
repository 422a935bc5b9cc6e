"""Hostile input: every bad request gets a clean 4xx in the error shape (never
a 500, never a crash), and afterwards the server still answers /healthz and
a known campaign is unchanged."""

import json
import socket
import time
import urllib.parse

import harness
from harness import (add_code, assert_error_shape, big_upload, campaign_body, expect, expect_error,
                     get_campaign, get_code, invalid, parse_raw_response, raw_socket, recv_all, show, uniq)

KNOWN = {}


def setup(srv):
    c = harness.create_campaign(srv, name="known", discount={"type": "percent", "percent": 10, "max_amount": 5000},
                                limits={"max_redemptions": 100}, metadata={"k": "v"})
    KNOWN["campaign"] = c
    KNOWN["code"] = add_code(srv, c["id"], uniq("KNOWN"), max_uses=10)


def still_fine(srv, what=""):
    assert srv.alive(), "the server died%s; stderr:\n%s" % ((" after " + what) if what else "", srv.stderr_tail())
    assert srv.healthy(), "GET /healthz fails%s" % ((" after " + what) if what else "")
    c = KNOWN["campaign"]
    now = get_campaign(srv, c["id"])
    assert now == c, "the known campaign changed%s:\nwas %r\nnow %r" % ((" after " + what) if what else "", c, now)
    k = get_code(srv, KNOWN["code"]["code"])
    assert k == KNOWN["code"], "the known code changed: %r -> %r" % (KNOWN["code"], k)


def send_raw(srv, data, timeout=10):
    """Sends raw bytes, returns (status, headers, body) of the answer (status
    None when the server closed without one)."""
    s = raw_socket(srv, timeout)
    try:
        s.sendall(data)
        got = recv_all(s, timeout=timeout * harness.time_scale())
    finally:
        s.close()
    return parse_raw_response(got)


def as_response(status, hdrs, body):
    return harness.Response(status, "", hdrs, body)


def no_5xx(r, what):
    assert r.status < 500, "%s: server error %s" % (what, show(r))
    if 400 <= r.status < 500:
        assert_error_shape(r, what + ": ")


JSON_ENDPOINTS = [("POST", "/v1/campaigns"), ("POST", "/v1/validate"), ("POST", "/v1/redemptions"),
                  ("POST", "/v1/reservations")]


# --- malformed JSON ----------------------------------------------------------------------

def test_malformed_json(srv):
    bad = [b"{", b"}", b"{\"name\":", b"nul", b"{\"a\":1,}", b"'x'", b"{\"name\": \"x\" \"currency\": 1}",
           b"", b"   ", b"{\"name\":\"x\"}garbage", b"[1,2", b"\"\\x41\"", b"{\"a\":01}", b"{\"a\":NaN}",
           b"{\"a\":Infinity}", b"\xef\xbb\xbf{}"]
    for method, path in JSON_ENDPOINTS:
        for body in bad:
            r = srv.request(method, path, raw=body)
            expect_error(r, 400, "bad_request", what="%s %s with %r" % (method, path, body))
    for body in bad:
        r = srv.request("PATCH", "/v1/campaigns/" + KNOWN["campaign"]["id"], raw=body)
        expect_error(r, 400, "bad_request", what="PATCH with %r" % body)
    still_fine(srv, "malformed JSON")


def test_truncated_json(srv):
    full = json.dumps({"name": "Autumn", "currency": "KRW",
                       "discount": {"type": "percent", "percent": 15, "max_amount": 10000},
                       "limits": {"max_redemptions": 10}, "rules": {"categories": ["outer"]},
                       "metadata": {"a": [1, 2, {"b": "c"}]}}).encode()
    for cut in range(1, len(full) - 1, 5):
        r = srv.request("POST", "/v1/campaigns", raw=full[:cut])
        expect_error(r, 400, "bad_request", what="campaign JSON cut at %d: %r" % (cut, full[:cut]))
    still_fine(srv, "truncated JSON")


def test_deep_nesting(srv):
    n = 10000
    bodies = [b"[" * n + b"]" * n, b"[" * n, b"{\"a\":" * n + b"1" + b"}" * n,
              b"{\"name\":\"x\",\"currency\":\"KRW\",\"discount\":{\"type\":\"fixed\",\"amount\":1},\"metadata\":{\"m\":"
              + b"[" * n + b"]" * n + b"}}"]
    for path in ("/v1/campaigns", "/v1/validate", "/v1/redemptions"):
        for body in bodies:
            r = srv.request("POST", path, raw=body)
            expect_error(r, 400, "bad_request", what="%s with %d-deep nesting (%r...)" % (path, n, body[:20]))
    still_fine(srv, "deep nesting")


def test_wrong_types_for_every_campaign_field(srv):
    base = {"name": "x", "currency": "KRW", "discount": {"type": "percent", "percent": 15, "max_amount": 1000},
            "starts_at": "2031-11-01T00:00:00Z", "ends_at": "2031-11-30T00:00:00Z", "timezone": "Asia/Seoul",
            "limits": {"max_redemptions": 1, "per_customer": 1, "max_discount_total": 1, "max_issued": 1},
            "rules": {"min_order_amount": 1, "categories": ["a"], "exclude_categories": ["b"], "segments": [],
                      "first_order_only": False},
            "code_validity_days": 7, "metadata": {}}
    bad_values = {
        "name": [[], 1, {}, True, None],
        "currency": [1, [], {}, True],
        "discount": ["x", [], 1, None],
        "discount.type": [1, [], None, True],
        "discount.percent": ["15", [], True, {}, None],
        "discount.max_amount": ["x", [], True, 1.5],
        "starts_at": [1, [], {}, True],
        "ends_at": [1, [], {}, False],
        "timezone": [1, [], {}, True],
        "limits": ["x", [], 1, True],
        "limits.max_redemptions": ["1", [], True, 1.5],
        "limits.per_customer": ["1", {}, False, 0.5],
        "limits.max_discount_total": ["1", [], True, 2.5],
        "limits.max_issued": ["1", [], True, 9.9],
        "rules": ["x", [], 1],
        "rules.min_order_amount": ["1", [], True, 1.5],
        "rules.categories": ["outer", [1], {}, [None], [["a"]]],
        "rules.exclude_categories": ["x", [2], [None]],
        "rules.segments": ["vip", [1], {}],
        "rules.first_order_only": ["yes", 1, [], {}],
        "code_validity_days": ["7", 1.5, [], True],
        "metadata": ["x", 1, [], True],
        "status": [1, [], True],
    }
    for field, values in bad_values.items():
        for v in values:
            body = json.loads(json.dumps(base))
            parts = field.split(".")
            target = body
            for p in parts[:-1]:
                target = target[p]
            target[parts[-1]] = v
            r = srv.request("POST", "/v1/campaigns", body)
            expect_error(r, 400, "bad_request", field=field, what="%s = %r" % (field, v))
            r = srv.request("PATCH", "/v1/campaigns/" + KNOWN["campaign"]["id"], {parts[0]: body[parts[0]]})
            expect_error(r, 400, "bad_request", field=field, what="PATCH %s = %r" % (field, v))
    still_fine(srv, "wrong types")


def test_wrong_types_in_orders(srv):
    code = KNOWN["code"]["code"]
    cases = [
        ({"code": code, "order": "x"}, "order"),
        ({"code": code, "order": {"id": "o", "amount": "1"}}, "order.amount"),
        ({"code": code, "order": {"id": "o", "amount": 1, "currency": 410}}, "order.currency"),
        ({"code": code, "order": {"id": "o", "amount": 1, "items": {}}}, "order.items"),
        ({"code": code, "order": {"id": "o", "amount": 1, "items": [1]}}, "order.items"),
        ({"code": code, "order": {"id": "o", "amount": 1, "items": [{"sku": "a", "price": "1", "quantity": 1}]}},
         "order.items"),
        ({"code": code, "order": {"id": "o", "amount": 1, "items": [{"sku": "a", "price": 1, "quantity": -1}]}},
         "order.items"),
        ({"code": code, "order": {"id": "o", "amount": 1, "items": [{"sku": "a", "price": -5, "quantity": 1}]}},
         "order.items"),
        ({"code": code, "customer_id": 5, "order": {"id": "o", "amount": 1}}, "customer_id"),
        ({"code": [code], "order": {"id": "o", "amount": 1}}, "code"),
        ({"code": code, "order": {"id": ["o"], "amount": 1}}, "order.id"),
    ]
    for path in ("/v1/validate", "/v1/redemptions", "/v1/reservations"):
        for body, field in cases:
            if path == "/v1/validate" and field == "order.id":
                continue
            r = srv.request("POST", path, body)
            expect_error(r, 400, "bad_request", field=field, what="%s %r" % (path, body))
    still_fine(srv, "wrong types in orders")


def test_out_of_range_numbers(srv):
    big = ["1e400", "9223372036854775808", "18446744073709551616", "-9223372036854775809", "-1", "1.5",
           "1000000000000001", "99999999999999999999999999999999"]
    for v in big:
        raw = ('{"name":"x","currency":"KRW","discount":{"type":"fixed","amount":%s}}' % v).encode()
        r = srv.request("POST", "/v1/campaigns", raw=raw)
        expect_error(r, 400, "bad_request", what="discount.amount %s" % v)
        raw = ('{"name":"x","currency":"KRW","discount":{"type":"fixed","amount":1},'
               '"limits":{"max_redemptions":%s}}' % v).encode()
        r = srv.request("POST", "/v1/campaigns", raw=raw)
        expect_error(r, 400, "bad_request", what="limits.max_redemptions %s" % v)
        raw = ('{"code":"%s","order":{"id":"o-%s","amount":%s}}' % (KNOWN["code"]["code"], uniq(), v)).encode()
        r = srv.request("POST", "/v1/redemptions", raw=raw)
        expect_error(r, 400, "bad_request", what="order.amount %s" % v)
        raw = ('{"count":%s}' % v).encode()
        r = srv.request("POST", "/v1/campaigns/%s/codes" % KNOWN["campaign"]["id"], raw=raw)
        expect_error(r, 400, "bad_request", what="count %s" % v)
        raw = ('{"code":"%s","max_uses":%s}' % (uniq("N"), v)).encode()
        r = srv.request("POST", "/v1/campaigns/%s/codes" % KNOWN["campaign"]["id"], raw=raw)
        expect_error(r, 400, "bad_request", what="max_uses %s" % v)
        raw = ('{"code":"%s","ttl_seconds":%s,"order":{"id":"o","amount":1}}' % (KNOWN["code"]["code"], v)).encode()
        r = srv.request("POST", "/v1/reservations", raw=raw)
        expect_error(r, 400, "bad_request", what="ttl_seconds %s" % v)
    still_fine(srv, "out-of-range numbers")


def test_huge_order_items_do_not_overflow(srv):
    c = harness.create_campaign(srv, discount={"type": "percent", "percent": 100})
    code = add_code(srv, c["id"], max_uses=None)["code"]
    for price, qty, amount in ((10 ** 15, 10 ** 15, 10 ** 15), (10 ** 15, 10 ** 15, 1),
                               (9223372036854775807, 2, 5), (2 ** 62, 4, 10 ** 15)):
        items = [{"sku": "a", "price": price, "quantity": qty}, {"sku": "b", "price": price, "quantity": qty}]
        r = harness.validate(srv, code, amount, items=items)
        no_5xx(r, "items %d x %d" % (price, qty))
        if r.status == 200 and r.json.get("valid"):
            d = r.json["discount"]["amount"]
            assert 0 <= d <= amount and r.json["order_amount_after"] == amount - d, \
                "discount of an absurd order: %s" % show(r)
        else:
            assert r.status == 400 or r.json.get("valid") is False, show(r)
    still_fine(srv, "huge items")


def test_invalid_utf8(srv):
    bodies = [b'{"name":"\xff\xfe","currency":"KRW","discount":{"type":"fixed","amount":1}}',
              b'{"name":"\xc0\xaf","currency":"KRW","discount":{"type":"fixed","amount":1}}',
              b'{"name":"\xed\xa0\x80","currency":"KRW","discount":{"type":"fixed","amount":1}}',
              b'{"name":"\\ud800","currency":"KRW","discount":{"type":"fixed","amount":1}}',
              b'{"name":"ok","currency":"KR\xff","discount":{"type":"fixed","amount":1}}',
              b'{"name":"ok\xe2\x82","currency":"KRW","discount":{"type":"fixed","amount":1}}']
    for b in bodies:
        r = srv.request("POST", "/v1/campaigns", raw=b)
        expect_error(r, 400, "bad_request", what="invalid UTF-8 %r" % b)
    r = srv.request("POST", "/v1/validate", raw=b'{"code":"AB\xff\xfeCD","order":{"amount":1}}')
    assert r.status == 400 or (r.status == 200 and r.json.get("reason") == "invalid_format"), \
        "validate with invalid UTF-8 in the code: %s" % show(r)
    if r.status == 400:
        assert_error_shape(r)
    still_fine(srv, "invalid UTF-8")


def test_nul_bytes(srv):
    r = srv.request("POST", "/v1/validate", {"code": "WEL\u0000COME", "order": {"amount": 1}})
    assert r.status == 400 or (r.status == 200 and r.json.get("reason") == "invalid_format"), \
        "validate WEL\\u0000COME: %s" % show(r)
    if r.status == 400:
        assert_error_shape(r)
    # a code "WEL" must not be matched through a NUL
    c = harness.create_campaign(srv)
    add_code(srv, c["id"], "WEL" + uniq("", 6))
    pre = uniq("NUL", 6)
    add_code(srv, c["id"], pre)
    r = srv.request("POST", "/v1/validate", {"code": pre + "\u0000GARBAGE", "order": {"amount": 1}})
    assert r.status == 400 or (r.status == 200 and r.json.get("valid") is False), \
        "a code with a NUL must not match the code before the NUL: %s" % show(r)
    r = srv.request("POST", "/v1/campaigns/%s/codes" % c["id"], {"code": uniq("Z") + "\u0000X"})
    assert r.status in (400, 422), "a chosen code with NUL: %s" % show(r)
    assert_error_shape(r)
    name = "a\u0000b"
    r = srv.request("POST", "/v1/campaigns", campaign_body(name=name))
    if r.status == 201:
        assert get_campaign(srv, r.json["id"])["name"] == name, "name with NUL silently changed"
    else:
        expect_error(r, 400, "bad_request", what="name with \\u0000")
    for body in (b'{"name":"x\x00y","currency":"KRW","discount":{"type":"fixed","amount":1}}',
                 b'{"name":"x","currency":"KRW",\x00"discount":{"type":"fixed","amount":1}}',
                 b'\x00', b'{"name":"x"}\x00\x00'):
        r = srv.request("POST", "/v1/campaigns", raw=body)
        expect_error(r, 400, "bad_request", what="raw NUL in %r" % body)
    still_fine(srv, "NUL bytes")


def test_10000_character_code(srv):
    code = "A" * 10000
    invalid(harness.validate(srv, code), "invalid_format", what="10,000-character code")
    harness.refusal(harness.redeem(srv, code), "invalid_format", what="redeem a 10,000-character code")
    r = srv.request("GET", "/v1/codes/" + "B" * 5000)
    assert r.status in (400, 404, 414), "GET a 5000-character code: %s" % show(r)
    assert_error_shape(r)
    still_fine(srv, "10,000-character code")


# --- size limits -------------------------------------------------------------------------------

@harness.timeout(180)
def test_64_mib_body_is_413(srv):
    status, hdrs, body, sent, how = big_upload(srv, "/v1/campaigns", 64 * 1024 * 1024)
    assert status == 413, "64 MiB body: status %r (%s after %d bytes sent), body %r" % (status, how, sent, body[:200])
    if body:
        expect_error(as_response(status, hdrs, body), 413, "payload_too_large")
    still_fine(srv, "64 MiB body")


def test_2_mib_json_body_is_413(srv):
    pad = " " * (2 * 1024 * 1024)
    raw = ('{"name":"big","currency":"KRW",%s"discount":{"type":"fixed","amount":1}}' % pad).encode()
    status, hdrs, body, sent, how = big_upload(srv, "/v1/campaigns", len(raw), fill=b" ")
    assert status == 413, "2 MiB JSON: status %r (%s), body %r" % (status, how, body[:200])
    if body:
        expect_error(as_response(status, hdrs, body), 413, "payload_too_large")
    still_fine(srv, "2 MiB body")


def test_body_just_under_1_mib_is_accepted(srv):
    pad = " " * (1024 * 1024 - 200)
    raw = ('{"name":"padded","currency":"KRW",%s"discount":{"type":"fixed","amount":1}}' % pad).encode()
    assert len(raw) < 1024 * 1024
    r = srv.request("POST", "/v1/campaigns", raw=raw)
    assert r.status == 201 and r.json["name"] == "padded", "a %d-byte JSON body: %s" % (len(raw), show(r))
    still_fine(srv)


def test_large_body_without_token(srv):
    status, hdrs, body, sent, how = big_upload(srv, "/v1/campaigns", 8 * 1024 * 1024, token=None)
    assert status in (401, 413), "8 MiB without a token: %r (%s)" % (status, how)
    if body:
        assert_error_shape(as_response(status, hdrs, body))
    still_fine(srv)


# --- broken connections -----------------------------------------------------------------------------

def test_half_request_then_close(srv):
    pieces = [b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nContent-Le",
              b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + srv.token.encode()
              + b"\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n{\"name\":\"half\",\"curr",
              b"GET /v1/camp", b"\r\n\r\n\r\n", b"POST"]
    for p in pieces:
        s = raw_socket(srv)
        s.sendall(p)
        s.close()
    time.sleep(0.2)
    names = [c["name"] for c in list_all(srv)]
    assert "half" not in names, "a half-sent request created a campaign"
    still_fine(srv, "half requests")


def test_content_length_larger_than_body_then_close(srv):
    body = json.dumps(campaign_body(name="short-" + uniq())).encode()
    head = ("POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (srv.token, len(body) + 1000)).encode()
    s = raw_socket(srv)
    s.sendall(head + body)
    s.shutdown(socket.SHUT_WR)
    got = recv_all(s, timeout=5)
    s.close()
    status, hdrs, rb = parse_raw_response(got)
    assert status is None or 400 <= status < 500, "Content-Length > body: %r %r" % (status, rb[:200])
    time.sleep(0.2)
    assert not [c for c in list_all(srv) if c["name"].startswith("short-")], "a short body created a campaign"
    still_fine(srv, "short body")


def test_stalled_request_does_not_block_others(srv):
    head = ("POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"name\":\"stall\"," % srv.token).encode()
    stalled = []
    for _ in range(5):
        s = raw_socket(srv)
        s.sendall(head)
        stalled.append(s)
    t0 = time.time()
    still_fine(srv, "while 5 requests stall")
    assert harness.validate(srv, KNOWN["code"]["code"]).status == 200
    took = time.time() - t0
    assert took < 2 * harness.time_scale(), "requests waited %.1fs behind stalled connections" % took
    time.sleep(max(0.0, 2.0 - took))
    for s in stalled:
        s.close()
    time.sleep(0.2)
    assert not [c for c in list_all(srv) if c["name"] == "stall"]
    still_fine(srv, "stalled requests")


def test_slow_header_connections_do_not_block_others(srv):
    socks = []
    for _ in range(30):
        s = raw_socket(srv)
        s.sendall(b"GET /v1/campaigns HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(s)
    try:
        t0 = time.time()
        for _ in range(5):
            assert srv.healthy(), "healthz fails while 30 connections send headers slowly"
        assert time.time() - t0 < 5 * harness.time_scale(), "slow requests while 30 connections dangle"
    finally:
        for s in socks:
            s.close()
    still_fine(srv, "slow header connections")


def test_pipelined_requests(srv):
    one = ("GET /v1/campaigns/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
           % (KNOWN["campaign"]["id"], srv.token)).encode()
    s = raw_socket(srv)
    s.sendall(one + one + one.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n"))
    data = b""
    deadline = time.time() + 10 * harness.time_scale()
    while time.time() < deadline and data.count(b"HTTP/1.1 200") < 3:
        try:
            d = s.recv(65536)
        except OSError:
            break
        if not d:
            break
        data += d
    s.close()
    assert data.count(b"HTTP/1.1 200") == 3, "3 pipelined GETs: %r" % data[:500]
    still_fine(srv)


def test_chunked_request_body(srv):
    body = json.dumps(campaign_body(name="chunked")).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
    req = ("POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           % srv.token).encode() + chunks + b"0\r\n\r\n"
    status, hdrs, rb = send_raw(srv, req)
    r = as_response(status, hdrs, rb)
    assert status == 201 and r.json and r.json["name"] == "chunked", "chunked body: %r %r" % (status, rb[:300])
    still_fine(srv)


# --- routes, methods, URLs -------------------------------------------------------------------------

def test_unknown_routes_are_404(srv):
    for path in ("/v1/nope", "/nope", "/v1/campaigns/%s/nope" % KNOWN["campaign"]["id"], "/v2/campaigns",
                 "/v1/", "/", "/v1/campaigns/x/y/z/w", "/healthz/x"):
        r = srv.request("GET", path)
        expect_error(r, 404, "not_found", what="GET " + path)
    still_fine(srv)


def test_wrong_methods_are_405(srv):
    cid = KNOWN["campaign"]["id"]
    for method, path in (("DELETE", "/v1/campaigns"), ("PUT", "/v1/redemptions"), ("GET", "/v1/validate"),
                         ("POST", "/healthz"), ("DELETE", "/v1/campaigns/" + cid), ("GET", "/v1/campaigns/%s/pause" % cid),
                         ("PATCH", "/v1/validate"), ("PUT", "/v1/campaigns/" + cid),
                         ("GET", "/v1/campaigns/%s/codes/import" % cid)):
        r = srv.request(method, path, {} if method in ("PUT", "PATCH") else None)
        expect_error(r, 405, "method_not_allowed", what="%s %s" % (method, path))
    status, hdrs, body = send_raw(srv, ("FROB /v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                                        "Connection: close\r\n\r\n" % srv.token).encode())
    assert status in (400, 405, 501), "method FROB: %r %r" % (status, body[:200])
    if status < 500:
        assert_error_shape(as_response(status, hdrs, body))
    assert get_campaign(srv, cid) == KNOWN["campaign"]
    still_fine(srv, "wrong methods")


def test_path_traversal_ids(srv):
    paths = ["/v1/campaigns/../../etc/passwd", "/v1/campaigns/..%2F..%2Fetc%2Fpasswd",
             "/v1/campaigns/%2e%2e%2f%2e%2e%2fpromo.db", "/v1/codes/..%2F..%2Fpromo.db",
             "/v1/campaigns/cmp_%00", "/v1/campaigns/%00", "/v1/jobs/..%2f..%2f",
             "/v1/campaigns/" + urllib.parse.quote("' OR 1=1 --", safe=""),
             "/v1/codes/" + urllib.parse.quote("%s' OR '1'='1" % KNOWN["code"]["code"], safe=""),
             "/v1/campaigns/%s%%00" % KNOWN["campaign"]["id"], "/v1/campaigns/%FF%FE",
             "/v1/codes/%FF%FE", "/v1/campaigns/" + "%25" * 100, "/v1/codes/*", "/v1/campaigns/%2A"]
    for p in paths:
        r = srv.request("GET", p)
        assert r.status in (400, 404), "GET %s: %s" % (p, show(r))
        assert_error_shape(r, "GET %s: " % p)
        assert b"root:" not in r.body and b"SQLite format" not in r.body
    r = srv.request("POST", "/v1/campaigns/%s/pause" % urllib.parse.quote("' OR 1=1 --", safe=""))
    expect_error(r, 404, "not_found")
    still_fine(srv, "traversal ids")


def test_very_long_urls(srv):
    for n in (8 * 1024, 16 * 1024, 64 * 1024):
        r = None
        try:
            r = srv.request("GET", "/v1/campaigns/" + "a" * n)
        except (OSError, harness.http.client.HTTPException) as e:
            raise AssertionError("GET with a %d-byte URL: connection error %r" % (n, e))
        assert r.status in (400, 404, 414), "%d-byte URL: %s" % (n, show(r))
        assert_error_shape(r, "%d-byte URL: " % n)
        r = srv.request("GET", "/v1/campaigns?limit=2&x=" + "b" * n)
        assert r.status in (200, 400, 414), "%d-byte query: %s" % (n, show(r))
        if r.status != 200:
            assert_error_shape(r, "%d-byte query: " % n)
    still_fine(srv, "long URLs")


def test_huge_headers(srv):
    r = srv.request("GET", "/v1/campaigns", headers={"X-Big": "x" * (64 * 1024)})
    assert r.status in (200, 400, 413, 431), "64 KiB header: %s" % show(r)
    if r.status != 200:
        assert_error_shape(r, "64 KiB header: ")
    r = srv.request("GET", "/v1/campaigns", headers={"Authorization": "Bearer " + "z" * (16 * 1024)})
    assert r.status in (400, 401, 413, 431), "16 KiB token: %s" % show(r)
    assert_error_shape(r, "16 KiB token: ")
    many = {"X-H%d" % i: "v" for i in range(500)}
    r = srv.request("GET", "/v1/campaigns", headers=many)
    assert r.status in (200, 400, 413, 431), "500 headers: %s" % show(r)
    still_fine(srv, "huge headers")


def test_wrong_content_type(srv):
    r = srv.request("POST", "/v1/campaigns", campaign_body(name="ctype"), headers={"Content-Type": "text/plain"})
    assert r.status in (201, 400, 415), "JSON sent as text/plain: %s" % show(r)
    if r.status != 201:
        assert_error_shape(r)
    r = srv.request("POST", "/v1/campaigns", raw=b"name=x&currency=KRW",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status in (400, 415), "a form body: %s" % show(r)
    assert_error_shape(r)
    still_fine(srv)


def test_duplicate_json_keys(srv):
    raw = b'{"name":"a","name":"b","currency":"KRW","discount":{"type":"fixed","amount":1}}'
    r = srv.request("POST", "/v1/campaigns", raw=raw)
    assert r.status in (201, 400), show(r)
    if r.status == 400:
        assert_error_shape(r)
    still_fine(srv)


def test_every_4xx_has_the_error_shape(srv):
    cid = KNOWN["campaign"]["id"]
    calls = [("GET", "/v1/campaigns", None, None), ("GET", "/v1/campaigns/cmp_nope", None, srv.token),
             ("POST", "/v1/campaigns", {}, srv.token), ("POST", "/v1/redemptions/rdm_nope/rollback", {}, srv.token),
             ("POST", "/v1/reservations/rsv_nope/confirm", None, srv.token),
             ("GET", "/v1/jobs/job_nope", None, srv.token), ("DELETE", "/v1/codes/X", None, srv.token),
             ("POST", "/v1/campaigns/%s/codes" % cid, {"count": 0}, srv.token),
             ("POST", "/v1/campaigns/%s/codes/import" % cid, None, srv.token)]
    for method, path, body, tok in calls:
        r = srv.request(method, path, body, token=tok)
        assert 400 <= r.status < 500, "%s %s: %s" % (method, path, show(r))
        assert_error_shape(r, "%s %s: " % (method, path))
    still_fine(srv)


def list_all(srv):
    out, cursor = [], None
    while True:
        r = srv.request("GET", "/v1/campaigns?limit=100" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""))
        j = expect(r, 200)
        out.extend(j["data"])
        cursor = j["next_cursor"]
        if not cursor:
            return out


def test_hostile_csv_imports(srv):
    c = harness.create_campaign(srv)
    path = "/v1/campaigns/%s/codes/import" % c["id"]
    bodies = [bytes(range(256)) * 40, b"\x00" * 5000, b"A" * 100000 + b"\n", b"\n" * 100000,
              b'"unbalanced,quote\nNEXT1\n', b"code,customer_id,max_uses,expires_at\n" + b",,,\n" * 100,
              b"\xef\xbb\xbfcode\n" + uniq("BOM").encode() + b"\n", b"A,B,C,D,E,F,G,H\n" * 100,
              ("%s,,99999999999999999999999,\n%s,,-1,\n%s,,0,\n" % (uniq("R"), uniq("R"), uniq("R"))).encode(),
              b"\r\r\r\r", b","]
    for b in bodies:
        r = srv.request("POST", path, raw=b, headers={"Content-Type": "text/csv"})
        assert r.status in (200, 400), "CSV %r...: %s" % (b[:40], show(r))
        if r.status == 400:
            assert_error_shape(r)
        else:
            assert isinstance(r.json.get("imported"), int) and isinstance(r.json.get("rejected"), list), show(r)
    import re
    for k in harness.list_codes(srv, c["id"]):
        assert re.match(r"^[A-Z0-9_.\-]{1,64}$", k["code"]), "a malformed code was imported: %r" % k
        assert k["max_uses"] is None or 1 <= k["max_uses"] <= 10 ** 15, "bad max_uses imported: %r" % k
    still_fine(srv, "hostile CSV")


def test_order_with_12000_items(srv):
    items = [{"sku": "s%d" % i, "category": "c%d" % (i % 7), "price": 100, "quantity": 1} for i in range(12000)]
    r = harness.validate(srv, KNOWN["code"]["code"], 1200000, items=items)
    assert r.status in (200, 400, 413), show(r)
    if r.status == 200 and r.json.get("valid"):
        assert r.json["discount"]["amount"] == 5000, "10%% of 1,200,000 capped at 5000: %s" % show(r)
    still_fine(srv, "12000 items")


def test_http_1_0_and_expect_continue(srv):
    status, hdrs, body = send_raw(srv, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert status == 200, "HTTP/1.0 GET /healthz: %r %r" % (status, body[:200])
    payload = json.dumps(campaign_body(name="expect")).encode()
    head = ("POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % (srv.token, len(payload))).encode()
    s = raw_socket(srv)
    try:
        s.sendall(head)
        s.settimeout(3)
        try:
            first = s.recv(4096)
        except socket.timeout:
            first = b""
        if first and not first.startswith(b"HTTP/1.1 100"):
            status, hdrs, body = parse_raw_response(first + recv_all(s, 5))
            raise AssertionError("Expect: 100-continue answered %r %r" % (status, body[:200]))
        s.sendall(payload)
        got = first.split(b"\r\n\r\n", 1)[1] if first.startswith(b"HTTP/1.1 100") else b""
        got += recv_all(s, 10)
    finally:
        s.close()
    status, hdrs, body = parse_raw_response(got)
    assert status == 201, "POST with Expect: 100-continue: %r %r" % (status, body[:300])
    still_fine(srv)


def _mutate(rng, v, depth=0):
    """A random damaging change somewhere inside a JSON value."""
    evil = [None, True, False, 0, -1, 1.5, 1e300, -1e300, 2 ** 63, -(2 ** 63) - 1, 2 ** 64, "", "x" * 3000,
            "\u0000", "\ud7ff\ue000", "' OR 1=1 --", "%s%s%n", [], {}, [[[[]]]], {"a": {"b": {}}}, "2031-02-30",
            "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2031-11-01T00:00:00+25:00", "NaN", "-0", 0.0, -0.0]
    if isinstance(v, dict) and v and rng.random() < 0.8:
        k = rng.choice(sorted(v))
        v = dict(v)
        if rng.random() < 0.1:
            del v[k]
        else:
            v[k] = _mutate(rng, v[k], depth + 1)
        if rng.random() < 0.05:
            v["unknown_" + str(rng.randrange(100))] = rng.choice(evil)
        return v
    if isinstance(v, list) and v and rng.random() < 0.8:
        v = list(v)
        i = rng.randrange(len(v))
        v[i] = _mutate(rng, v[i], depth + 1)
        return v
    return rng.choice(evil)


def test_random_mutations_never_5xx(srv):
    import random
    rng = random.Random(20261122)
    c = harness.create_campaign(srv, name="fuzz target")
    codes = [add_code(srv, c["id"], max_uses=None)["code"] for _ in range(3)]
    campaign = {"name": "Autumn", "currency": "KRW",
                "discount": {"type": "percent", "percent": 15, "max_amount": 10000},
                "starts_at": "2026-11-01T00:00:00+09:00", "ends_at": "2031-11-30T23:59:59+09:00",
                "timezone": "Asia/Seoul",
                "limits": {"max_redemptions": 10000, "per_customer": 5, "max_discount_total": 50000000,
                           "max_issued": 20000},
                "rules": {"min_order_amount": 100, "categories": ["outer"], "exclude_categories": ["sale"],
                          "segments": [], "first_order_only": False},
                "code_validity_days": 7, "metadata": {"channel": "kakao"}}
    use = {"code": codes[0], "customer_id": "u1",
           "order": {"id": "o-1", "amount": 45000, "currency": "KRW",
                     "items": [{"sku": "p1", "category": "outer", "price": 45000, "quantity": 1}]},
           "ttl_seconds": 60}
    targets = [("POST", "/v1/campaigns", campaign), ("PATCH", "/v1/campaigns/" + c["id"], campaign),
               ("POST", "/v1/validate", use), ("POST", "/v1/redemptions", use), ("POST", "/v1/reservations", use),
               ("POST", "/v1/campaigns/%s/codes" % c["id"], {"count": 2, "pattern": "FZ-########", "max_uses": 2}),
               ("POST", "/v1/campaigns/%s/codes" % c["id"], {"code": "FUZZ1", "max_uses": 3}),
               ("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "u9", "channel": "email"})]
    n = 0
    for round_ in range(60):
        for method, path, body in targets:
            b = _mutate(rng, body)
            for _ in range(rng.randrange(3)):
                b = _mutate(rng, b)
            r = srv.request(method, path, b)
            n += 1
            assert r.status < 500, "%s %s with %s: %s" % (method, path, json.dumps(b)[:800], show(r))
            if r.status >= 400:
                assert_error_shape(r, "%s %s with %s: " % (method, path, json.dumps(b)[:300]))
    assert n == 480
    still_fine(srv, "random mutations")


def _exchange(srv, data, wait=3.0):
    """Sends data, returns every byte the server sends within `wait` s."""
    s = raw_socket(srv, 10)
    out = b""
    try:
        s.sendall(data)
        s.settimeout(0.3)
        end = time.time() + wait * harness.time_scale()
        while time.time() < end:
            try:
                d = s.recv(65536)
            except socket.timeout:
                if out and harness._complete_response(out):
                    break
                continue
            except OSError:
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    return out


def test_conflicting_content_lengths_are_refused(srv):
    """Two different Content-Length headers make the body's end ambiguous
    (request smuggling): RFC 9112 §6.3 says answer 400 and close."""
    body = json.dumps(campaign_body(name="smuggled-" + uniq())).encode()
    auth = ("Authorization: Bearer %s\r\nContent-Type: application/json\r\n" % srv.token).encode()
    for first, second in ((len(body), 5), (5, len(body))):
        req = (b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + auth
               + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (first, second) + body)
        out = _exchange(srv, req)
        status, hdrs, rb = parse_raw_response(out)
        assert status == 400, "Content-Length %d and %d: %r" % (first, second, out[:300])
    time.sleep(0.2)
    assert not [c for c in list_all(srv) if c["name"].startswith("smuggled-")], \
        "a request with two different Content-Length headers created a campaign"
    still_fine(srv, "conflicting Content-Length")


def test_protocol_errors_get_a_4xx_and_leave_the_server_up(srv):
    """Errors found while parsing HTTP itself (framing, not JSON) are
    answered 4xx by libmicrohttpd before promo sees the request, and the
    connection is closed. Its answer is its own small HTML page, not promo's
    JSON error shape, and for a malformed Content-Length 0.9.75 (Debian 12)
    writes its status line twice: both known limits of the library, listed
    in README "Not done yet". What promo guarantees, and this test checks:
    a 4xx, never a 5xx or a hang, the connection closed, and the server and
    its data untouched."""
    auth = ("Authorization: Bearer %s\r\n" % srv.token).encode()
    cases = [
        ("invalid Content-Length", b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + auth
         + b"Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}"),
        ("negative Content-Length", b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + auth
         + b"Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}"),
        ("header line without colon", b"GET /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + auth + b"NoColonHere\r\n\r\n"),
        ("bad chunk size", b"POST /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + auth
         + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n"),
        ("request line without version", b"GET /healthz\r\n\r\n"),
        ("many small headers over 32 KiB", b"GET /v1/campaigns HTTP/1.1\r\nHost: x\r\n" + auth
         + b"X-A: b\r\n" * 5000 + b"\r\n"),
    ]
    before = srv.get("/v1/campaigns?limit=100").json
    problems = []
    for what, req in cases:
        out = _exchange(srv, req)
        status, hdrs, rb = parse_raw_response(out)
        if status is None or not 400 <= status < 500:
            problems.append("%s: no 4xx answer: %r" % (what, out[:200]))
        elif b"connection: close" not in out.lower():
            problems.append("%s: the connection is kept open after a framing error: %r" % (what, out[:200]))
    assert not problems, "\n".join(problems)
    assert srv.get("/v1/campaigns?limit=100").json == before
    still_fine(srv, "protocol errors")
