"""POST /v1/validate: discount math of API.md and every refusal reason that
can be reached without customers."""

import os
import re
import threading
import time

import harness
from harness import (add_code, create_campaign, expect, expect_error, get_code, invalid, redeem, rfc3339, use_body,
                     show, uniq, validate)

HANGUL = re.compile("[\uac00-\ud7a3]")


def valid(r, what=""):
    pre = (what + ": ") if what else ""
    assert r.status == 200, "%svalidate: expected 200, got %s" % (pre, show(r))
    j = r.json
    assert isinstance(j, dict) and j.get("valid") is True, "%sexpected valid=true, got %s" % (pre, show(r))
    return j


def campaign_with_code(srv, max_uses=1, **over):
    c = create_campaign(srv, **over)
    k = add_code(srv, c["id"], max_uses=max_uses)
    return c, k["code"]


# --- the discount -----------------------------------------------------------------------

def test_percent_example_of_api_md(srv):
    c, code = campaign_with_code(srv, discount={"type": "percent", "percent": 15, "max_amount": 10000})
    r = srv.request("POST", "/v1/validate", {
        "code": code, "customer_id": "u123",
        "order": {"id": "o-77", "amount": 45000, "currency": "KRW",
                  "items": [{"sku": "p1", "category": "outer", "price": 45000, "quantity": 1}]}})
    j = valid(r)
    assert j["code"] == code and j["campaign_id"] == c["id"], j
    assert j["discount"] == {"type": "percent", "amount": 6750}, j
    assert j["order_amount_after"] == 38250, j


def test_percent_cap_applies(srv):
    _, code = campaign_with_code(srv, discount={"type": "percent", "percent": 15, "max_amount": 10000})
    j = valid(validate(srv, code, 100000))
    assert j["discount"]["amount"] == 10000 and j["order_amount_after"] == 90000, j


def test_percent_is_floored(srv):
    _, code = campaign_with_code(srv, discount={"type": "percent", "percent": 12.5})
    j = valid(validate(srv, code, 999))
    assert j["discount"]["amount"] == 124 and j["order_amount_after"] == 875, "12.5%% of 999: %r" % j
    _, code = campaign_with_code(srv, discount={"type": "percent", "percent": 33.33})
    j = valid(validate(srv, code, 1000))
    assert j["discount"]["amount"] == 333, "33.33%% of 1000: %r" % j
    _, code = campaign_with_code(srv, discount={"type": "percent", "percent": 100})
    j = valid(validate(srv, code, 4321))
    assert j["discount"]["amount"] == 4321 and j["order_amount_after"] == 0, j


def test_fixed_is_at_most_the_eligible_amount(srv):
    _, code = campaign_with_code(srv, discount={"type": "fixed", "amount": 5000})
    j = valid(validate(srv, code, 45000))
    assert j["discount"] == {"type": "fixed", "amount": 5000} and j["order_amount_after"] == 40000, j
    j = valid(validate(srv, code, 3000))
    assert j["discount"]["amount"] == 3000 and j["order_amount_after"] == 0, j


def test_points_are_awarded_not_subtracted(srv):
    _, code = campaign_with_code(srv, discount={"type": "points", "points": 100})
    j = valid(validate(srv, code, 20000))
    assert j["discount"] == {"type": "points", "amount": 0, "points": 100}, j
    assert j["order_amount_after"] == 20000, j


def test_categories_select_eligible_items(srv):
    _, code = campaign_with_code(srv, discount={"type": "percent", "percent": 10},
                                 rules={"categories": ["outer"]})
    items = [{"sku": "a", "category": "outer", "price": 20000, "quantity": 2},
             {"sku": "b", "category": "shoes", "price": 30000, "quantity": 1}]
    j = valid(validate(srv, code, 70000, items=items))
    assert j["discount"]["amount"] == 4000 and j["order_amount_after"] == 66000, \
        "10%% of the outer items only (40000): %r" % j


def test_exclude_categories(srv):
    _, code = campaign_with_code(srv, discount={"type": "percent", "percent": 10},
                                 rules={"exclude_categories": ["sale"]})
    items = [{"sku": "a", "category": "sale", "price": 50000, "quantity": 1},
             {"sku": "b", "category": "shoes", "price": 30000, "quantity": 1},
             {"sku": "c", "price": 10000, "quantity": 1}]
    j = valid(validate(srv, code, 90000, items=items))
    assert j["discount"]["amount"] == 4000, "10%% of 30000 + 10000 (sale excluded): %r" % j


def test_fixed_on_eligible_items(srv):
    _, code = campaign_with_code(srv, discount={"type": "fixed", "amount": 5000},
                                 rules={"categories": ["outer"]})
    items = [{"sku": "a", "category": "outer", "price": 3000, "quantity": 1},
             {"sku": "b", "category": "shoes", "price": 30000, "quantity": 1}]
    j = valid(validate(srv, code, 33000, items=items))
    assert j["discount"]["amount"] == 3000 and j["order_amount_after"] == 30000, j


def test_validate_is_read_only(srv):
    _, code = campaign_with_code(srv)
    for _ in range(3):
        valid(validate(srv, code))
    k = get_code(srv, code)
    assert k["uses"] == 0 and k["state"] == "active", "validate used the code: %r" % k


def test_validate_typed_form(srv):
    c = create_campaign(srv)
    a, b = uniq("", 4), uniq("", 4)
    add_code(srv, c["id"], "FALL-%s-%s" % (a, b))
    j = valid(validate(srv, "fall-%s %s" % (a.lower(), b.lower())))
    assert j["code"] == "FALL-%s-%s" % (a, b), j


def test_validate_without_order_id(srv):
    _, code = campaign_with_code(srv)
    r = srv.request("POST", "/v1/validate", {"code": code, "order": {"amount": 5000}})
    valid(r, "validation does not need order.id")


def test_korean_message(srv):
    r = validate(srv, uniq("NOPE"), headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    j = invalid(r, "code_not_found")
    assert HANGUL.search(j["message"]), "Accept-Language ko: message not Korean: %r" % j["message"]
    r = validate(srv, uniq("NOPE"))
    j = invalid(r, "code_not_found")
    assert not HANGUL.search(j["message"]), "default message should be English: %r" % j["message"]
    r = validate(srv, uniq("NOPE"), headers={"Accept-Language": "en-US"})
    assert not HANGUL.search(invalid(r, "code_not_found")["message"])


# --- refusals -------------------------------------------------------------------------------

def test_invalid_format(srv):
    for code in ("BAD!CODE", "%%%", "코드", "x" * 65, "---"):
        invalid(validate(srv, code), "invalid_format", what="code %r" % code)


def test_code_not_found(srv):
    invalid(validate(srv, uniq("NOPE")), "code_not_found")


def test_code_disabled(srv):
    _, code = campaign_with_code(srv)
    expect(srv.request("POST", "/v1/codes/%s/disable" % code), 200)
    invalid(validate(srv, code), "code_disabled")


def test_code_redeemed(srv):
    _, code = campaign_with_code(srv)
    expect(redeem(srv, code), 201)
    invalid(validate(srv, code), "code_redeemed")


def test_code_expired_after_end(srv):
    c, code = campaign_with_code(srv)
    expect(srv.request("POST", "/v1/campaigns/%s/end" % c["id"]), 200)
    invalid(validate(srv, code), "code_expired")


def test_code_expired_after_window(srv):
    _, code = campaign_with_code(srv, starts_at="2020-01-01T00:00:00Z", ends_at="2020-12-31T23:59:59Z")
    invalid(validate(srv, code), "code_expired")


def test_code_expired_by_its_own_expiry(srv):
    c = create_campaign(srv)
    code = uniq("EXP")
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"],
                    raw=("code,customer_id,max_uses,expires_at\n%s,,1,2021-01-01T00:00:00Z\n" % code).encode(),
                    headers={"Content-Type": "text/csv"})
    assert expect(r, 200)["imported"] == 1, show(r)
    invalid(validate(srv, code), "code_expired")
    assert get_code(srv, code)["state"] == "expired"


def test_code_not_yet_valid(srv):
    _, code = campaign_with_code(srv, starts_at=rfc3339(time.time() + 30 * 86400))
    invalid(validate(srv, code), "code_not_yet_valid")


def test_campaign_inactive_when_paused(srv):
    c, code = campaign_with_code(srv)
    expect(srv.request("POST", "/v1/campaigns/%s/pause" % c["id"]), 200)
    invalid(validate(srv, code), "campaign_inactive")
    expect(srv.request("POST", "/v1/campaigns/%s/resume" % c["id"]), 200)
    valid(validate(srv, code), "after resume")


def test_campaign_inactive_when_draft(srv):
    c, code = campaign_with_code(srv, status="draft")
    invalid(validate(srv, code), "campaign_inactive")


def test_campaign_limit_reached(srv):
    c = create_campaign(srv, limits={"max_redemptions": 1})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(redeem(srv, a), 201)
    invalid(validate(srv, b), "campaign_limit_reached")


def test_budget_exhausted(srv):
    c = create_campaign(srv, discount={"type": "fixed", "amount": 1000}, limits={"max_discount_total": 1000})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(redeem(srv, a), 201)
    invalid(validate(srv, b), "budget_exhausted")


def test_budget_that_this_order_would_overrun(srv):
    c = create_campaign(srv, discount={"type": "fixed", "amount": 1000}, limits={"max_discount_total": 1500})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(redeem(srv, a), 201)
    invalid(validate(srv, b, 10000), "budget_exhausted")
    j = valid(validate(srv, b, 500), "a 500 discount still fits the 1500 budget")
    assert j["discount"]["amount"] == 500


def test_customer_limit_reached(srv):
    c = create_campaign(srv, limits={"per_customer": 1})
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(redeem(srv, a, customer_id="u1"), 201)
    invalid(validate(srv, b, customer_id="u1"), "customer_limit_reached")
    valid(validate(srv, b, customer_id="u2"), "another customer")


def test_customer_required(srv):
    _, code = campaign_with_code(srv, limits={"per_customer": 1})
    invalid(validate(srv, code), "customer_required")
    valid(validate(srv, code, customer_id="u1"))


def test_code_assigned_to_other_customer(srv):
    c = create_campaign(srv)
    r = srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "u1"})
    code = expect(r, 201, "issue to u1")["code"]
    invalid(validate(srv, code, customer_id="u2"), "code_assigned_to_other_customer")
    invalid(validate(srv, code), "customer_required")
    valid(validate(srv, code, customer_id="u1"), "the owner")


def test_customer_not_eligible_segments(srv):
    _, code = campaign_with_code(srv, rules={"segments": ["vip"]})
    invalid(validate(srv, code, customer_id="u1"), "customer_not_eligible")


def test_customer_not_eligible_first_order_only(srv):
    _, code = campaign_with_code(srv, rules={"first_order_only": True})
    cust = uniq("buyer-")
    expect(srv.post("/v1/events", {"id": uniq("ev-"), "type": "purchase", "customer_id": cust,
                                   "properties": {"order_id": "o-1", "amount": 1000}}), 201)
    invalid(validate(srv, code, customer_id=cust), "customer_not_eligible")
    valid(validate(srv, code, customer_id=uniq("newcomer-")), "a customer with no order yet")


def test_min_order_not_met(srv):
    _, code = campaign_with_code(srv, rules={"min_order_amount": 30000})
    invalid(validate(srv, code, 29999), "min_order_not_met")
    valid(validate(srv, code, 30000), "exactly the minimum")


def test_no_eligible_items(srv):
    _, code = campaign_with_code(srv, rules={"categories": ["outer"]})
    items = [{"sku": "b", "category": "shoes", "price": 30000, "quantity": 1}]
    invalid(validate(srv, code, 30000, items=items), "no_eligible_items")


def test_currency_mismatch(srv):
    _, code = campaign_with_code(srv)
    invalid(validate(srv, code, currency="USD"), "currency_mismatch")
    valid(validate(srv, code, currency="KRW"))


# --- malformed requests ------------------------------------------------------------------------

def test_malformed_body_is_400(srv):
    r = srv.request("POST", "/v1/validate", raw=b"{not json")
    expect_error(r, 400, "bad_request")
    r = srv.request("POST", "/v1/validate", {"order": {"amount": 1}})
    expect_error(r, 400, "bad_request", field="code", what="no code")
    r = srv.request("POST", "/v1/validate", {"code": "ABC"})
    expect_error(r, 400, "bad_request", field="order", what="no order")
    r = srv.request("POST", "/v1/validate", {"code": "ABC", "order": {"amount": "5000"}})
    expect_error(r, 400, "bad_request", field="order.amount", what="string amount")
    r = srv.request("POST", "/v1/validate", {"code": "ABC", "order": {"amount": -1}})
    expect_error(r, 400, "bad_request", field="order.amount", what="negative amount")
    r = srv.request("POST", "/v1/validate", {"code": 123, "order": {"amount": 1}})
    expect_error(r, 400, "bad_request", field="code", what="numeric code")
    r = srv.request("POST", "/v1/validate", {"code": "ABC", "order": {"amount": 1, "items": [{"sku": "a"}]}})
    expect_error(r, 400, "bad_request", field="order.items", what="item without price")
    r = srv.request("POST", "/v1/validate", [1, 2])
    expect_error(r, 400, "bad_request", what="array body")


def test_patch_changes_take_effect_at_once(srv):
    c, code = campaign_with_code(srv)
    valid(validate(srv, code, 10000))
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"rules": {"min_order_amount": 20000}}), 200)
    invalid(validate(srv, code, 10000), "min_order_not_met", what="after PATCH rules.min_order_amount")
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"rules": {"min_order_amount": 0},
                                                               "discount": {"type": "fixed", "amount": 2500}}), 200)
    j = valid(validate(srv, code, 10000), "after PATCH discount")
    assert j["discount"]["amount"] == 2500, "the new discount applies: %r" % j
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"starts_at": rfc3339(time.time() + 86400)}), 200)
    invalid(validate(srv, code), "code_not_yet_valid", what="after PATCH starts_at into the future")
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"starts_at": "2020-01-01T00:00:00Z",
                                                               "ends_at": "2020-02-01T00:00:00Z"}), 200)
    invalid(validate(srv, code), "code_expired", what="after PATCH ends_at into the past")
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"ends_at": None}), 200)
    valid(validate(srv, code), "after PATCH ends_at null")
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"currency": "USD"}), 200)
    invalid(validate(srv, code, currency="KRW"), "currency_mismatch", what="after PATCH currency")


def test_limit_lowered_below_usage_refuses(srv):
    c = create_campaign(srv, limits={"max_redemptions": 10})
    codes = [add_code(srv, c["id"])["code"] for _ in range(4)]
    for k in codes[:3]:
        expect(redeem(srv, k), 201)
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"limits": {"max_redemptions": 2}}), 200)
    invalid(validate(srv, codes[3]), "campaign_limit_reached")
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"limits": {"max_redemptions": None}}), 200)
    valid(validate(srv, codes[3]), "after clearing the limit")


def test_window_is_followed_live(srv):
    """Status and validation follow the clock without any write: a campaign
    starting in 2 s becomes active, one ending in 2 s becomes ended."""
    now = time.time()
    later, code_later = campaign_with_code(srv, starts_at=rfc3339(now + 2))
    soon, code_soon = campaign_with_code(srv, ends_at=rfc3339(now + 2))
    c = create_campaign(srv)
    k = uniq("EXPSOON")
    r = srv.request("POST", "/v1/campaigns/%s/codes/import" % c["id"],
                    raw=("code,customer_id,max_uses,expires_at\n%s,,1,%s\n" % (k, rfc3339(now + 2))).encode(),
                    headers={"Content-Type": "text/csv"})
    assert expect(r, 200)["imported"] == 1
    invalid(validate(srv, code_later), "code_not_yet_valid")
    valid(validate(srv, code_soon), "before ends_at")
    valid(validate(srv, k), "before the code's expires_at")
    assert get_code(srv, k)["state"] == "active"
    time.sleep(max(0.0, now + 3.2 - time.time()))
    valid(validate(srv, code_later), "after starts_at passed")
    invalid(validate(srv, code_soon), "code_expired", what="after ends_at passed")
    invalid(validate(srv, k), "code_expired", what="after the code's expires_at passed")
    assert get_code(srv, k)["state"] == "expired"
    g = srv.request("GET", "/v1/campaigns/" + later["id"]).json
    assert g["status"] == "active", g["status"]
    g = srv.request("GET", "/v1/campaigns/" + soon["id"]).json
    assert g["status"] == "ended", g["status"]


def test_validation_follows_every_write_at_once(srv):
    """Validation keeps what it read between calls while nothing changes
    (sqlite_vcache.c); every write that changes the answer shows in the very
    next validation: a redemption using up the code, its rollback, a hold,
    its release, a disable, a per-customer limit reached by another code."""
    c = create_campaign(srv, limits={"per_customer": 1})
    code = add_code(srv, c["id"], max_uses=1)["code"]
    other = add_code(srv, c["id"], max_uses=1)["code"]
    for _ in range(3):  # the same question again and again: kept
        valid(validate(srv, code, customer_id="vc-1"))
    red = expect(redeem(srv, code, customer_id="vc-2"), 201)
    invalid(validate(srv, code, customer_id="vc-1"), "code_redeemed", what="right after the redemption")
    expect(srv.request("POST", "/v1/redemptions/%s/rollback" % red["id"], {"reason": "refund"}), 200)
    valid(validate(srv, code, customer_id="vc-1"), "right after the rollback")
    hold = expect(srv.request("POST", "/v1/reservations", use_body(code, oid="vc-hold", customer_id="vc-3")), 201)
    invalid(validate(srv, code, customer_id="vc-1"), "code_redeemed", what="while a hold is live")
    expect(srv.request("POST", "/v1/reservations/%s/release" % hold["id"]), 200)
    valid(validate(srv, code, customer_id="vc-1"), "right after the release")
    expect(redeem(srv, other, customer_id="vc-1"), 201)
    invalid(validate(srv, code, customer_id="vc-1"), "customer_limit_reached",
            what="after the customer used their one use on another code")
    valid(validate(srv, code, customer_id="vc-4"), "another customer")
    expect(srv.request("POST", "/v1/codes/%s/disable" % code), 200)
    invalid(validate(srv, code, customer_id="vc-4"), "code_disabled", what="right after the disable")


def test_reads_with_a_new_customer_each_call_follow_every_write_at_once(srv):
    """A validation the cache cannot answer reads the store, maybe from a read
    snapshot its connection kept open since an earlier call
    (reader_get_snapshot in sqlite_db.c); that snapshot is dropped when any
    write lands. Each validation below has a customer never seen before, so
    every one reads the store, and each write shows in the next one."""
    c = create_campaign(srv, limits={"per_customer": 1})
    code = add_code(srv, c["id"], max_uses=1)["code"]
    other = add_code(srv, c["id"], max_uses=1)["code"]
    n = [0]

    def fresh():
        n[0] += 1
        return "vs-%s-%d" % (uniq(), n[0])

    for _ in range(5):
        valid(validate(srv, code, customer_id=fresh()))
    red = expect(redeem(srv, code, customer_id=fresh()), 201)
    invalid(validate(srv, code, customer_id=fresh()), "code_redeemed", what="right after the redemption")
    expect(srv.request("POST", "/v1/redemptions/%s/rollback" % red["id"], {"reason": "refund"}), 200)
    valid(validate(srv, code, customer_id=fresh()), "right after the rollback")
    hold = expect(srv.request("POST", "/v1/reservations", use_body(code, oid="vs-hold", customer_id=fresh())), 201)
    invalid(validate(srv, code, customer_id=fresh()), "code_redeemed", what="while a hold is live")
    expect(srv.request("POST", "/v1/reservations/%s/release" % hold["id"]), 200)
    valid(validate(srv, code, customer_id=fresh()), "right after the release")
    buyer = fresh()
    expect(redeem(srv, other, customer_id=buyer), 201)
    invalid(validate(srv, code, customer_id=buyer), "customer_limit_reached",
            what="after the customer used their one use on another code")
    expect(srv.request("POST", "/v1/campaigns/%s/pause" % c["id"]), 200)
    invalid(validate(srv, code, customer_id=fresh()), "campaign_inactive", what="right after the pause")
    expect(srv.request("POST", "/v1/campaigns/%s/resume" % c["id"]), 200)
    valid(validate(srv, code, customer_id=fresh()), "right after the resume")
    expect(srv.request("POST", "/v1/codes/%s/disable" % code), 200)
    invalid(validate(srv, code, customer_id=fresh()), "code_disabled", what="right after the disable")


def test_kept_read_snapshots_let_the_wal_start_over(srv):
    """Read snapshots kept open between validations would keep SQLite from
    checkpointing the whole WAL, so it would never start over and would grow
    with every logged validation. Past its threshold (PROMO_SQLITE_WAL_PAGES,
    here 32 pages) the writer stops them until the WAL has restarted: under a
    steady load of validations the WAL file stays a few times the threshold."""
    if harness.on_pg():
        return  # no WAL of promo's own on PostgreSQL
    s = harness.Server(extra_env={"PROMO_SQLITE_WAL_PAGES": "32"})
    s.start()
    try:
        code = add_code(s, create_campaign(s)["id"], max_uses=None)["code"]
        errors = []

        def load(t):
            for i in range(400):
                r = validate(s, code, customer_id="wal-%d-%d" % (t, i))
                if r.status != 200 or r.json.get("valid") is not True:
                    errors.append(show(r))
                    return

        threads = [threading.Thread(target=load, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        wal = s.db + "-wal"
        size = os.path.getsize(wal) if os.path.exists(wal) else 0
        # 32 pages of 4 KiB plus a header per frame is ~130 KiB; a few
        # commits more while the readers let go. 3,200 logged validations
        # with no restart make several MiB.
        assert size < 1024 * 1024, "WAL is %d bytes after 3,200 validations with a 32-page threshold" % size
    finally:
        s.stop()


def test_a_bad_wal_pages_setting_is_named_and_the_default_used(srv):
    """PROMO_SQLITE_WAL_PAGES outside 16..1,000,000 or not a number: the
    server says so in its log and runs on the default."""
    if harness.on_pg():
        return
    for bad in ("12x", "8", "-5", "99999999999"):
        s = harness.Server(extra_env={"PROMO_SQLITE_WAL_PAGES": bad})
        s.start()
        try:
            code = add_code(s, create_campaign(s)["id"])["code"]
            valid(validate(s, code, customer_id="walbad"))
            with open(s.stderr_path, "rb") as f:
                log = f.read().decode("utf-8", "replace")
            assert "PROMO_SQLITE_WAL_PAGES=%s is not a number from 16 to 1000000" % bad in log, log[-2000:]
        finally:
            s.stop()


def test_codes_never_validated_before_follow_campaign_writes_at_once(srv):
    """A validation of a code not seen at this data version reads the code
    and takes its campaign from what the server kept of it (the campaign
    entry of sqlite_vcache.c); every write to the campaign shows in the next
    validation of another of its codes: a new discount, redemptions reaching
    the campaign's limit, a rollback, a pause, a budget."""
    c = create_campaign(srv, limits={"max_redemptions": 2})
    codes = [add_code(srv, c["id"])["code"] for _ in range(14)]
    spent = codes[-2:]
    fresh = iter(codes[:-2])
    for _ in range(3):  # the campaign is kept from here on
        j = valid(validate(srv, next(fresh), customer_id="nc-1"))
        assert j["discount"]["amount"] == 1000, j
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"discount": {"type": "fixed", "amount": 2500}}), 200)
    j = valid(validate(srv, next(fresh), customer_id="nc-1"), "right after PATCH discount")
    assert j["discount"]["amount"] == 2500, "the new discount applies at once: %r" % j
    expect(redeem(srv, spent[0], customer_id="nc-2"), 201)
    valid(validate(srv, next(fresh), customer_id="nc-1"), "one redemption of two")
    red = expect(redeem(srv, spent[1], customer_id="nc-3"), 201)
    invalid(validate(srv, next(fresh), customer_id="nc-1"), "campaign_limit_reached",
            what="right after the redemption that reached the campaign's limit")
    expect(srv.request("POST", "/v1/redemptions/%s/rollback" % red["id"], {"reason": "refund"}), 200)
    valid(validate(srv, next(fresh), customer_id="nc-1"), "right after the rollback")
    expect(srv.request("POST", "/v1/campaigns/%s/pause" % c["id"]), 200)
    invalid(validate(srv, next(fresh), customer_id="nc-1"), "campaign_inactive", what="right after the pause")
    expect(srv.request("POST", "/v1/campaigns/%s/resume" % c["id"]), 200)
    valid(validate(srv, next(fresh), customer_id="nc-1"), "right after the resume")
    expect(srv.request("PATCH", "/v1/campaigns/" + c["id"], {"limits": {"max_discount_total": 3000}}), 200)
    invalid(validate(srv, next(fresh), customer_id="nc-1"), "budget_exhausted",
            what="right after PATCH max_discount_total below what was given plus this order")
