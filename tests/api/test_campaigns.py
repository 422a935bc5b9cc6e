"""Campaigns: auth, create/get/list/patch, lifecycle, times and time zones."""

import time
import urllib.parse

from harness import (campaign_body, create_campaign, expect, expect_error, get_campaign, rfc3339,
                     show, uniq)

FULL = {
    "name": "Autumn outerwear",
    "currency": "KRW",
    "discount": {"type": "percent", "percent": 15, "max_amount": 10000},
    "starts_at": "2031-11-01T00:00:00+09:00",
    "ends_at": "2031-11-30T23:59:59+09:00",
    "limits": {"max_redemptions": 10000, "per_customer": 1,
               "max_discount_total": 50000000, "max_issued": 20000},
    "rules": {"min_order_amount": 30000, "categories": ["outer"],
              "exclude_categories": [], "segments": ["vip"],
              "first_order_only": False},
    "code_validity_days": 7,
    "metadata": {"channel": "kakao"},
}

LIMIT_KEYS = {"max_redemptions", "per_customer", "max_discount_total", "max_issued"}
RULE_KEYS = {"min_order_amount", "categories", "exclude_categories", "segments", "first_order_only"}
CAMPAIGN_KEYS = {"id", "name", "currency", "discount", "starts_at", "ends_at", "timezone", "limits",
                 "rules", "code_validity_days", "metadata", "status", "created_at", "updated_at"}


def is_utc(s):
    return isinstance(s, str) and len(s) == 20 and s.endswith("Z") and s[10] == "T"


def post(srv, body, **kw):
    return srv.request("POST", "/v1/campaigns", body, **kw)


# --- auth and basics -------------------------------------------------------------

def test_healthz_needs_no_token(srv):
    r = srv.request("GET", "/healthz", token=None)
    assert r.status == 200, show(r)


def test_missing_token_is_401(srv):
    r = srv.request("GET", "/v1/campaigns", token=None)
    expect_error(r, 401, "unauthorized")
    r = post(srv, campaign_body(), token=None)
    expect_error(r, 401, "unauthorized", what="POST without token")


def test_wrong_token_is_401(srv):
    r = srv.request("GET", "/v1/campaigns", token="nope-" + uniq())
    expect_error(r, 401, "unauthorized")
    r = srv.request("GET", "/v1/campaigns", headers={"Authorization": "Basic " + srv.token})
    expect_error(r, 401, "unauthorized", what="non-Bearer scheme")
    r = srv.request("GET", "/v1/campaigns", headers={"Authorization": "Bearer"})
    expect_error(r, 401, "unauthorized", what="empty Bearer")


def test_unauthorized_request_changes_nothing(srv):
    name = "sneaky " + uniq()
    r = post(srv, campaign_body(name=name), token="wrong")
    expect_error(r, 401, "unauthorized")
    names = [c["name"] for c in all_campaigns(srv)]
    assert name not in names, "a campaign was created by an unauthorized call"


def test_json_content_type(srv):
    r = post(srv, campaign_body())
    assert r.status == 201, show(r)
    ct = r.headers.get("content-type", "")
    assert ct.startswith("application/json"), "Content-Type of a JSON answer: %r" % ct
    r = srv.request("GET", "/v1/campaigns/cmp_doesnotexist")
    assert r.headers.get("content-type", "").startswith("application/json"), \
        "Content-Type of an error: %r" % r.headers.get("content-type")


# --- create and get --------------------------------------------------------------

def test_create_full_campaign_shape(srv):
    r = post(srv, FULL)
    c = expect(r, 201, "create the API.md example campaign")
    missing = CAMPAIGN_KEYS - set(c)
    assert not missing, "campaign answer lacks %s: %s" % (sorted(missing), show(r))
    assert c["id"].startswith("cmp_"), c["id"]
    assert c["name"] == "Autumn outerwear"
    assert c["currency"] == "KRW"
    assert c["discount"] == {"type": "percent", "percent": 15, "max_amount": 10000}, c["discount"]
    assert c["starts_at"] == "2031-10-31T15:00:00Z", "starts_at in UTC: %r" % c["starts_at"]
    assert c["ends_at"] == "2031-11-30T14:59:59Z", "ends_at in UTC: %r" % c["ends_at"]
    assert c["limits"] == FULL["limits"], c["limits"]
    assert c["rules"] == FULL["rules"], c["rules"]
    assert c["code_validity_days"] == 7
    assert c["metadata"] == {"channel": "kakao"}
    assert c["status"] == "scheduled", "a campaign starting in 2031 is scheduled: %r" % c["status"]
    assert is_utc(c["created_at"]) and is_utc(c["updated_at"]), (c["created_at"], c["updated_at"])
    g = get_campaign(srv, c["id"])
    assert g == c, "GET differs from the POST answer:\nPOST %r\nGET  %r" % (c, g)


def test_create_minimal_campaign_defaults(srv):
    r = post(srv, {"name": "Minimal", "currency": "USD", "discount": {"type": "fixed", "amount": 500}})
    c = expect(r, 201)
    missing = CAMPAIGN_KEYS - set(c)
    assert not missing, "campaign answer lacks %s: %s" % (sorted(missing), show(r))
    assert c["discount"] == {"type": "fixed", "amount": 500}, c["discount"]
    assert c["starts_at"] is None and c["ends_at"] is None, (c["starts_at"], c["ends_at"])
    assert c["timezone"] is None
    assert set(c["limits"]) == LIMIT_KEYS, "limits must carry all four keys: %r" % c["limits"]
    assert all(v is None for v in c["limits"].values()), "missing limits mean unlimited (null): %r" % c["limits"]
    assert set(c["rules"]) == RULE_KEYS, "rules must carry all five keys: %r" % c["rules"]
    assert c["rules"]["categories"] == [] and c["rules"]["exclude_categories"] == [] \
        and c["rules"]["segments"] == [], c["rules"]
    assert c["rules"]["first_order_only"] is False, c["rules"]
    assert c["rules"]["min_order_amount"] in (0, None), c["rules"]
    assert c["code_validity_days"] is None, c["code_validity_days"]
    assert c["metadata"] == {}, c["metadata"]
    assert c["status"] == "active", c["status"]


def test_percent_without_cap_has_null_max_amount(srv):
    c = create_campaign(srv, discount={"type": "percent", "percent": 12.5})
    assert c["discount"] == {"type": "percent", "percent": 12.5, "max_amount": None}, c["discount"]


def test_points_campaign_shape(srv):
    c = create_campaign(srv, discount={"type": "points", "points": 100})
    assert c["discount"] == {"type": "points", "points": 100}, c["discount"]


def test_get_unknown_campaign_is_404(srv):
    r = srv.request("GET", "/v1/campaigns/cmp_" + uniq("", 16))
    expect_error(r, 404, "not_found")


def test_required_fields_are_named(srv):
    for field in ("name", "currency", "discount"):
        body = campaign_body()
        del body[field]
        r = post(srv, body)
        expect_error(r, 400, "bad_request", field=field, what="campaign without %s" % field)


def test_invalid_percent_is_400(srv):
    for p in (0, -5, 100.01, 101, 12.345, "15"):
        r = post(srv, campaign_body(discount={"type": "percent", "percent": p}))
        expect_error(r, 400, "bad_request", field="discount.percent", what="percent %r" % (p,))
    for p in (100, 0.01, 33.33):
        r = post(srv, campaign_body(discount={"type": "percent", "percent": p}))
        assert r.status == 201, "percent %r is allowed: %s" % (p, show(r))
        assert r.json["discount"]["percent"] == p, r.json["discount"]


def test_invalid_discount_type_is_400(srv):
    r = post(srv, campaign_body(discount={"type": "bogus", "amount": 1}))
    expect_error(r, 400, "bad_request", field="discount.type")
    r = post(srv, campaign_body(discount={"amount": 1}))
    expect_error(r, 400, "bad_request", field="discount.type", what="no type")


def test_fixed_needs_positive_amount(srv):
    for amount in (None, 0, -1, "100", 1.5):
        d = {"type": "fixed"}
        if amount is not None:
            d["amount"] = amount
        r = post(srv, campaign_body(discount=d))
        expect_error(r, 400, "bad_request", field="discount.amount", what="amount %r" % (amount,))


def test_points_needs_positive_points(srv):
    r = post(srv, campaign_body(discount={"type": "points", "points": 0}))
    expect_error(r, 400, "bad_request", field="discount.points")


def test_invalid_currency_is_400(srv):
    for cur in ("krw", "KRWX", "KR", "", 410, None):
        r = post(srv, campaign_body(currency=cur))
        expect_error(r, 400, "bad_request", field="currency", what="currency %r" % (cur,))


def test_invalid_limits_are_400(srv):
    for key in sorted(LIMIT_KEYS):
        for v in (-1, "10", 1.5):
            r = post(srv, campaign_body(limits={key: v}))
            expect_error(r, 400, "bad_request", field="limits." + key, what="limits.%s = %r" % (key, v))


def test_ends_before_starts_is_400(srv):
    r = post(srv, campaign_body(starts_at="2031-11-30T00:00:00Z", ends_at="2031-11-01T00:00:00Z"))
    expect_error(r, 400, "bad_request", field="ends_at")


def test_invalid_time_is_400(srv):
    for v in ("tomorrow", "2031-13-01T00:00:00Z", "2031-11-01T25:00:00Z", 1700000000):
        r = post(srv, campaign_body(starts_at=v))
        expect_error(r, 400, "bad_request", field="starts_at", what="starts_at %r" % (v,))


def test_name_too_long_or_empty_is_400(srv):
    r = post(srv, campaign_body(name=""))
    expect_error(r, 400, "bad_request", field="name", what="empty name")
    r = post(srv, campaign_body(name="x" * 5000))
    expect_error(r, 400, "bad_request", field="name", what="5000-byte name")


def test_unicode_name_round_trips(srv):
    name = "가을 아우터 🧥 \"quoted\" \\ back"
    c = create_campaign(srv, name=name)
    assert get_campaign(srv, c["id"])["name"] == name


def test_metadata_must_be_object(srv):
    r = post(srv, campaign_body(metadata=["a"]))
    expect_error(r, 400, "bad_request", field="metadata")
    c = create_campaign(srv, metadata={"channel": "kakao", "n": 3, "nested": {"a": [1, 2]}})
    assert get_campaign(srv, c["id"])["metadata"] == {"channel": "kakao", "n": 3, "nested": {"a": [1, 2]}}


# --- times and time zones ----------------------------------------------------------

def test_offset_times_are_answered_in_utc(srv):
    c = create_campaign(srv, starts_at="2031-12-01T23:59:59+09:00", ends_at="2032-01-01T00:00:00-05:00")
    assert c["starts_at"] == "2031-12-01T14:59:59Z", c["starts_at"]
    assert c["ends_at"] == "2032-01-01T05:00:00Z", c["ends_at"]


def test_date_only_with_timezone_means_whole_days(srv):
    c = create_campaign(srv, timezone="Asia/Seoul", starts_at="2026-11-01", ends_at="2026-11-30")
    assert c["timezone"] == "Asia/Seoul", c["timezone"]
    assert c["starts_at"] == "2026-10-31T15:00:00Z", "starts_at: %r" % c["starts_at"]
    assert c["ends_at"] == "2026-11-30T14:59:59Z", "ends_at: %r" % c["ends_at"]


def test_date_only_with_dst_timezone(srv):
    # New York: EDT (-4) until 2031-11-02, EST (-5) after.
    c = create_campaign(srv, timezone="America/New_York", starts_at="2031-10-01", ends_at="2031-12-01")
    assert c["starts_at"] == "2031-10-01T04:00:00Z", c["starts_at"]
    assert c["ends_at"] == "2031-12-02T04:59:59Z", c["ends_at"]


def test_invalid_timezone_is_400(srv):
    for tz in ("Mars/Olympus", "../../etc/passwd", "", 9):
        r = post(srv, campaign_body(timezone=tz, starts_at="2031-11-01"))
        expect_error(r, 400, "bad_request", field="timezone", what="timezone %r" % (tz,))


def test_scheduled_and_ended_status_by_window(srv):
    now = time.time()
    c = create_campaign(srv, starts_at=rfc3339(now + 30 * 86400))
    assert c["status"] == "scheduled", c["status"]
    c = create_campaign(srv, starts_at="2020-01-01T00:00:00Z", ends_at="2020-12-31T23:59:59Z")
    assert c["status"] == "ended", c["status"]
    c = create_campaign(srv, starts_at=rfc3339(now - 86400), ends_at=rfc3339(now + 86400))
    assert c["status"] == "active", c["status"]


# --- lifecycle -----------------------------------------------------------------------

def action(srv, cid, what):
    return srv.request("POST", "/v1/campaigns/%s/%s" % (cid, what))


def test_draft_then_resume_activates(srv):
    r = post(srv, campaign_body(status="draft"))
    c = expect(r, 201)
    assert c["status"] == "draft", c["status"]
    r = action(srv, c["id"], "resume")
    c2 = expect(r, 200, "resume a draft")
    assert c2["status"] == "active", c2["status"]
    assert get_campaign(srv, c["id"])["status"] == "active"


def test_pause_and_resume(srv):
    c = create_campaign(srv)
    r = action(srv, c["id"], "pause")
    assert expect(r, 200, "pause")["status"] == "paused"
    assert get_campaign(srv, c["id"])["status"] == "paused"
    r = action(srv, c["id"], "resume")
    assert expect(r, 200, "resume")["status"] == "active"


def test_end_is_final(srv):
    c = create_campaign(srv)
    r = action(srv, c["id"], "end")
    assert expect(r, 200, "end")["status"] == "ended"
    r = action(srv, c["id"], "resume")
    expect_error(r, 409, "conflict", what="resume after end")
    assert get_campaign(srv, c["id"])["status"] == "ended"


def test_lifecycle_on_unknown_campaign_is_404(srv):
    for what in ("pause", "resume", "end"):
        r = action(srv, "cmp_" + uniq("", 16), what)
        expect_error(r, 404, "not_found", what=what)


def test_invalid_status_on_create_is_400(srv):
    r = post(srv, campaign_body(status="bogus"))
    expect_error(r, 400, "bad_request", field="status")


# --- patch -----------------------------------------------------------------------------

def test_patch_merges_fields(srv):
    c = create_campaign(srv, **{k: v for k, v in FULL.items() if k not in ("name",)})
    r = srv.request("PATCH", "/v1/campaigns/" + c["id"], {"name": "Renamed"})
    p = expect(r, 200, "PATCH name")
    assert p["name"] == "Renamed"
    for k in CAMPAIGN_KEYS - {"name", "updated_at"}:
        assert p[k] == c[k], "PATCH of name changed %s: %r -> %r" % (k, c[k], p[k])
    assert get_campaign(srv, c["id"]) == p


def test_patch_merges_nested_limits(srv):
    c = create_campaign(srv, limits={"max_redemptions": 100, "per_customer": 2})
    r = srv.request("PATCH", "/v1/campaigns/" + c["id"], {"limits": {"per_customer": 5}})
    p = expect(r, 200)
    assert p["limits"] == {"max_redemptions": 100, "per_customer": 5,
                           "max_discount_total": None, "max_issued": None}, p["limits"]
    r = srv.request("PATCH", "/v1/campaigns/" + c["id"], {"limits": {"max_redemptions": None}})
    p = expect(r, 200)
    assert p["limits"]["max_redemptions"] is None, "null clears a limit: %r" % p["limits"]
    assert p["limits"]["per_customer"] == 5, p["limits"]


def test_patch_validates(srv):
    c = create_campaign(srv)
    r = srv.request("PATCH", "/v1/campaigns/" + c["id"], {"discount": {"type": "percent", "percent": 200}})
    expect_error(r, 400, "bad_request", field="discount.percent")
    r = srv.request("PATCH", "/v1/campaigns/" + c["id"], {"currency": "won"})
    expect_error(r, 400, "bad_request", field="currency")
    assert get_campaign(srv, c["id"]) == c, "a refused PATCH changed the campaign"


def test_patch_unknown_campaign_is_404(srv):
    r = srv.request("PATCH", "/v1/campaigns/cmp_" + uniq("", 16), {"name": "x"})
    expect_error(r, 404, "not_found")


# --- list -------------------------------------------------------------------------------

def all_campaigns(srv, limit=2):
    seen, cursor, pages = [], None, 0
    while True:
        q = "limit=%d" % limit + ("&cursor=" + urllib.parse.quote(cursor, safe="") if cursor else "")
        r = srv.request("GET", "/v1/campaigns?" + q)
        j = expect(r, 200, "list campaigns")
        assert isinstance(j.get("data"), list) and "next_cursor" in j, "list shape: %s" % show(r)
        assert len(j["data"]) <= limit, "page larger than limit=%d: %d" % (limit, len(j["data"]))
        seen.extend(j["data"])
        cursor = j["next_cursor"]
        pages += 1
        assert pages < 10000
        if cursor is None:
            return seen


def test_list_pagination_sees_every_campaign_once(srv):
    made = {create_campaign(srv)["id"] for _ in range(5)}
    seen = all_campaigns(srv, limit=2)
    ids = [c["id"] for c in seen]
    assert len(ids) == len(set(ids)), "a campaign was listed twice: %r" % ids
    assert made <= set(ids), "campaigns missing from the list: %r" % (made - set(ids))
    one = all_campaigns(srv, limit=1000)
    assert [c["id"] for c in one] == ids, "pages of 2 and one page list different campaigns"


def test_list_bad_limit_or_cursor(srv):
    for q in ("limit=0", "limit=-1", "limit=abc", "cursor=%00%FF"):
        r = srv.request("GET", "/v1/campaigns?" + q)
        assert r.status in (200, 400), "GET /v1/campaigns?%s: %s" % (q, show(r))
        if r.status == 400:
            expect_error(r, 400, "bad_request", what=q)


# --- bootstrap tokens ------------------------------------------------------------------------

def test_bootstrap_token_persists_without_the_variable(srv):
    c = create_campaign(srv)
    srv.stop()
    srv.bootstrap = False
    try:
        srv.start()
        r = srv.request("GET", "/v1/campaigns/" + c["id"])
        assert r.status == 200, "the bootstrap token is stored: after a restart without " \
                                "PROMO_BOOTSTRAP_TOKEN it still works: %s" % show(r)
    finally:
        srv.bootstrap = True
        srv.restart()


def test_first_start_without_bootstrap_prints_a_token_once(srv):
    import re
    import harness
    s = harness.Server()
    s.bootstrap = False
    try:
        s.start()
        err = s.stderr_all()
        words = set(re.findall(r"[A-Za-z0-9_\-.~+/=:]{16,}", err))
        works = [w for w in sorted(words, key=len, reverse=True)
                 if s.request("GET", "/v1/campaigns", token=w).status == 200]
        works = [w for w in works if not w.startswith("/")]
        assert works, "no admin token printed on stderr at the first start; stderr:\n%s" % err[-2000:]
        tok = works[0]
        r = s.request("GET", "/v1/campaigns", token="x" + tok)
        expect_error(r, 401, "unauthorized", what="a wrong token next to the printed one")
        n = len(err)
        s.restart()
        later = s.stderr_all()[n:]
        assert tok not in later, "the admin token is printed again at the second start"
        assert s.request("GET", "/v1/campaigns", token=tok).status == 200, "the printed token is stored"
    finally:
        s.stop()
        import shutil
        shutil.rmtree(s.tmp, ignore_errors=True)


def test_list_cursor_is_stable_while_campaigns_are_added(srv):
    before = {c["id"] for c in all_campaigns(srv, limit=1000)}
    seen, cursor, added = [], None, set()
    while True:
        q = "limit=2" + ("&cursor=" + urllib.parse.quote(cursor, safe="") if cursor else "")
        j = expect(srv.request("GET", "/v1/campaigns?" + q), 200)
        seen.extend(c["id"] for c in j["data"])
        added.add(create_campaign(srv)["id"])
        cursor = j["next_cursor"]
        if cursor is None:
            break
        assert len(seen) < len(before) + 10 * len(added) + 100, "the listing never ends"
    assert len(seen) == len(set(seen)), "a campaign was listed twice while others were added"
    assert before <= set(seen), "campaigns missing: %r" % (before - set(seen))


def test_date_only_with_odd_offsets(srv):
    cases = [("Asia/Kathmandu", "2031-11-01", "2031-11-01", "2031-10-31T18:15:00Z", "2031-11-01T18:14:59Z"),
             ("America/St_Johns", "2031-12-01", "2031-12-31", "2031-12-01T03:30:00Z", "2032-01-01T03:29:59Z"),
             # the day Lord Howe moves its clocks by 30 minutes (+10:30 -> +11:00)
             ("Australia/Lord_Howe", "2031-10-05", "2031-10-05", "2031-10-04T13:30:00Z", "2031-10-05T12:59:59Z"),
             ("UTC", "2031-11-01", "2031-11-30", "2031-11-01T00:00:00Z", "2031-11-30T23:59:59Z")]
    for tz, s, e, ws, we in cases:
        c = create_campaign(srv, timezone=tz, starts_at=s, ends_at=e)
        assert (c["starts_at"], c["ends_at"]) == (ws, we), "%s %s..%s: got %s..%s, want %s..%s" % (
            tz, s, e, c["starts_at"], c["ends_at"], ws, we)
