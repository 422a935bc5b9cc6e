"""Codes: generation (patterns, keyspace guard, jobs), chosen codes, import,
lookup, disable, listing and CSV export, issue."""

import csv
import io
import re
import time
import urllib.parse

import harness
from harness import (CHARSET, add_code, big_upload, create_campaign, expect, expect_error, get_code,
                     list_codes, redeem, show, stats, uniq, validate, wait_job)

CODE_KEYS = {"code", "campaign_id", "state", "customer_id", "max_uses", "uses", "issued_at", "expires_at"}
CSV_HEADER = "code,customer_id,max_uses,uses,state,issued_at,expires_at"


def gen(srv, cid, body):
    return srv.request("POST", "/v1/campaigns/%s/codes" % cid, body)


def import_csv(srv, cid, text, content_type="text/csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return srv.request("POST", "/v1/campaigns/%s/codes/import" % cid, raw=data,
                       headers={"Content-Type": content_type})


def ts(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


# --- generation ----------------------------------------------------------------------

def test_generate_default_pattern(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"count": 50})
    j = expect(r, 201, "generate 50")
    assert j == {"generated": 50}, show(r)
    codes = list_codes(srv, c["id"])
    assert len(codes) == 50, "listed %d codes, generated 50" % len(codes)
    rx = re.compile("^[%s]{12}$" % CHARSET)
    for k in codes:
        assert set(k) >= CODE_KEYS, "code object lacks %s: %r" % (CODE_KEYS - set(k), k)
        assert rx.match(k["code"]), "default pattern is 12 characters of %s: %r" % (CHARSET, k["code"])
        assert k["campaign_id"] == c["id"] and k["state"] == "active", k
        assert k["max_uses"] == 1 and k["uses"] == 0 and k["customer_id"] is None, k
    assert len({k["code"] for k in codes}) == 50, "generated codes are not unique"


def test_generate_with_pattern(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"count": 20, "pattern": "FALL-####-####"})
    assert expect(r, 201) == {"generated": 20}, show(r)
    rx = re.compile("^FALL-[%s]{4}-[%s]{4}$" % (CHARSET, CHARSET))
    codes = list_codes(srv, c["id"])
    assert len(codes) == 20
    for k in codes:
        assert rx.match(k["code"]), "pattern FALL-####-####: %r" % k["code"]


def test_generate_with_length_prefix_postfix_charset(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"count": 5, "length": 10, "prefix": "SP-", "postfix": "-X",
                           "charset": "ABCDEFGHJK"})
    assert expect(r, 201) == {"generated": 5}, show(r)
    rx = re.compile("^SP-[ABCDEFGHJK]{10}-X$")
    for k in list_codes(srv, c["id"]):
        assert rx.match(k["code"]), k["code"]


def test_generate_with_max_uses(srv):
    c = create_campaign(srv)
    expect(gen(srv, c["id"], {"count": 3, "max_uses": 5}), 201)
    assert [k["max_uses"] for k in list_codes(srv, c["id"])] == [5, 5, 5]
    c = create_campaign(srv)
    expect(gen(srv, c["id"], {"count": 2, "max_uses": None}), 201)
    assert [k["max_uses"] for k in list_codes(srv, c["id"])] == [None, None], "max_uses null = unlimited"


def test_generate_bad_requests_name_the_field(srv):
    c = create_campaign(srv)
    cases = [
        ({"count": 0}, "count"), ({"count": -1}, "count"), ({"count": 10000001}, "count"),
        ({"count": "5"}, "count"), ({"count": 1.5}, "count"), ({}, "count"),
        ({"count": 1, "pattern": "NOHASH"}, "pattern"), ({"count": 1, "pattern": "AB CD##########"}, "pattern"),
        ({"count": 1, "pattern": "#" * 65}, "pattern"),
        ({"count": 1, "charset": "AAB"}, "charset"), ({"count": 1, "charset": "A"}, "charset"),
        ({"count": 1, "charset": "AB!@"}, "charset"),
        ({"count": 1, "length": 65}, "length"), ({"count": 1, "length": -3}, "length"),
        ({"count": 1, "max_uses": 0}, "max_uses"), ({"count": 1, "max_uses": "x"}, "max_uses"),
    ]
    for body, field in cases:
        r = gen(srv, c["id"], body)
        expect_error(r, 400, "bad_request", field=field, what="generate %r" % (body,))
    assert list_codes(srv, c["id"]) == [], "a refused generation made codes"


def test_generate_on_unknown_campaign_is_404(srv):
    r = gen(srv, "cmp_" + uniq("", 16), {"count": 1})
    expect_error(r, 404, "not_found")


def test_keyspace_too_small_is_refused(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"count": 1, "pattern": "A-####", "charset": "0123456789"})
    expect_error(r, 422, "keyspace_too_small")
    assert list_codes(srv, c["id"]) == []


def test_keyspace_guard_counts_the_whole_store(srv):
    a = create_campaign(srv)
    b = create_campaign(srv)
    body = {"pattern": "#######", "charset": "0123456789"}
    expect(gen(srv, a["id"], dict(body, count=6)), 201, "6 codes of 10^7")
    expect(gen(srv, b["id"], dict(body, count=4)), 201, "4 more of the same shape, other campaign")
    r = gen(srv, b["id"], dict(body, count=1))
    expect_error(r, 422, "keyspace_too_small", what="an 11th code of a 10^7 shape")
    r = gen(srv, create_campaign(srv)["id"], dict(body, count=1))
    expect_error(r, 422, "keyspace_too_small", what="an 11th code in a third campaign")
    assert len(list_codes(srv, a["id"])) == 6 and len(list_codes(srv, b["id"])) == 4


def test_keyspace_guard_ignores_charset_order(srv):
    """A charset is a set of characters: "9876543210" makes exactly the codes
    "0123456789" makes, so both count against one keyspace."""
    a = create_campaign(srv)
    expect(gen(srv, a["id"], {"count": 10, "pattern": "3#######", "charset": "0123456789"}), 201)
    r = gen(srv, a["id"], {"count": 1, "pattern": "3#######", "charset": "9876543210"})
    expect_error(r, 422, "keyspace_too_small", what="an 11th code of the same 10^7 shape, charset reordered")
    b = create_campaign(srv)
    expect(gen(srv, b["id"], {"count": 10, "pattern": "Q#######", "charset": "ABCDEFGHJK"}), 201)
    r = gen(srv, b["id"], {"count": 1, "pattern": "Q#######", "charset": "kjhgfedcba"})
    expect_error(r, 422, "keyspace_too_small", what="same charset, lower case and reordered")


def test_keyspace_guard_ignores_dashes(srv):
    """Codes are matched with dashes ignored, so "####-###" and "#######" of
    the same charset are one keyspace for a guesser: 10 codes of 10^7 in all."""
    a = create_campaign(srv)
    expect(gen(srv, a["id"], {"count": 10, "pattern": "5#######", "charset": "0123456789"}), 201)
    r = gen(srv, a["id"], {"count": 1, "pattern": "5###-####", "charset": "0123456789"})
    expect_error(r, 422, "keyspace_too_small", what="an 11th code whose key has the same shape (dash ignored)")
    r = gen(srv, a["id"], {"count": 1, "length": 7, "prefix": "5-", "charset": "0123456789"})
    expect_error(r, 422, "keyspace_too_small", what="the same shape in the length/prefix form")


def test_keyspace_refused_before_a_job_starts(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"count": 20000, "pattern": "7#########", "charset": "0123456789"})
    expect_error(r, 422, "keyspace_too_small", what="20000 codes of 10^9 (max 1000)")
    assert list_codes(srv, c["id"]) == []


def test_generate_large_count_runs_as_job(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"count": 10001})
    j = expect(r, 202, "generate 10001 codes")
    assert isinstance(j, dict) and j.get("id", "").startswith("job_"), show(r)
    assert j.get("status") in ("running", "done") and j.get("total") == 10001, show(r)
    assert isinstance(j.get("done"), int) and 0 <= j["done"] <= 10001, show(r)
    done = wait_job(srv, j["id"])
    assert done["status"] == "done" and done["done"] == 10001 and done["total"] == 10001, done
    assert done["id"] == j["id"]
    assert stats(srv, c["id"])["issued"] == 10001
    codes = list_codes(srv, c["id"], limit=1000)
    assert len(codes) == 10001 and len({k["code"] for k in codes}) == 10001
    r = srv.request("GET", "/v1/campaigns/%s/codes?format=csv" % c["id"])
    assert r.status == 200, show(r)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 10001, "the CSV export of 10001 codes has %d rows" % len(rows)
    assert {row["code"] for row in rows} == {k["code"] for k in codes}


def test_generate_10000_is_synchronous(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"count": 10000})
    assert expect(r, 201) == {"generated": 10000}, show(r)


def test_unknown_job_is_404(srv):
    r = srv.request("GET", "/v1/jobs/job_" + uniq("", 16))
    expect_error(r, 404, "not_found")


def test_max_issued_limits_codes(srv):
    c = create_campaign(srv, limits={"max_issued": 5})
    expect(gen(srv, c["id"], {"count": 5}), 201)
    r = gen(srv, c["id"], {"count": 1})
    assert r.status in (409, 422), "a 6th code over max_issued 5: %s" % show(r)
    harness.assert_error_shape(r)
    assert len(list_codes(srv, c["id"])) == 5


# --- chosen codes ---------------------------------------------------------------------

def test_chosen_code(srv):
    c = create_campaign(srv)
    code = uniq("WELCOME")
    r = gen(srv, c["id"], {"code": code, "max_uses": 1000})
    k = expect(r, 201, "chosen code")
    assert set(k) >= CODE_KEYS, "code object lacks %s: %r" % (CODE_KEYS - set(k), k)
    assert k["code"] == code and k["campaign_id"] == c["id"] and k["state"] == "active", k
    assert k["max_uses"] == 1000 and k["uses"] == 0 and k["customer_id"] is None, k
    assert k["expires_at"] is None, k
    assert get_code(srv, code) == k, "GET /v1/codes differs from the creation answer"


def test_chosen_code_defaults_to_single_use(srv):
    c = create_campaign(srv)
    assert add_code(srv, c["id"], max_uses="omit")["max_uses"] == 1
    assert add_code(srv, c["id"], max_uses=None)["max_uses"] is None


def test_chosen_code_is_upper_cased(srv):
    c = create_campaign(srv)
    code = uniq("low")
    k = add_code(srv, c["id"], code)
    assert k["code"] == code.upper(), k


def test_chosen_code_conflicts_anywhere_any_form(srv):
    a = create_campaign(srv)
    b = create_campaign(srv)
    base = uniq("WELCOME")
    add_code(srv, a["id"], base)
    typed = base[:4].lower() + "-" + base[4:].lower()
    for cid, form in ((a["id"], base), (b["id"], base), (b["id"], typed), (b["id"], base.lower())):
        r = gen(srv, cid, {"code": form, "max_uses": 1})
        expect_error(r, 409, "conflict", what="code %r again" % form)
    assert get_code(srv, base)["campaign_id"] == a["id"]


def test_chosen_code_bad_format(srv):
    c = create_campaign(srv)
    for code in ("BAD CODE!", "", "---", "x" * 65, "코드", "A/B", 12345, None):
        r = gen(srv, c["id"], {"code": code})
        assert r.status in (400, 422), "chosen code %r: %s" % (code, show(r))
        harness.assert_error_shape(r)
        if r.status == 422:
            assert r.err_code == "invalid_format", show(r)
        else:
            assert "code" in r.err_message, "the message names the field: %s" % show(r)


def test_unlimited_round_trips_through_csv(srv):
    a = create_campaign(srv)
    u = add_code(srv, a["id"], max_uses=None)["code"]
    r = srv.request("GET", "/v1/campaigns/%s/codes?format=csv" % a["id"])
    rows = list(csv.DictReader(io.StringIO(r.text)))
    text = "code,customer_id,max_uses,expires_at\nX%s,,%s,\n" % (u, rows[0]["max_uses"])
    b = create_campaign(srv)
    assert expect(import_csv(srv, b["id"], text), 200)["imported"] == 1
    assert get_code(srv, "X" + u)["max_uses"] is None, "an exported unlimited code imports back unlimited"


def test_chosen_code_with_count_is_400(srv):
    c = create_campaign(srv)
    r = gen(srv, c["id"], {"code": uniq("X"), "count": 5})
    expect_error(r, 400, "bad_request")


# --- lookup and disable -------------------------------------------------------------------

def test_get_code_accepts_typed_form(srv):
    c = create_campaign(srv)
    a, b = uniq("", 4), uniq("", 4)
    shown = "FALL-%s-%s" % (a, b)
    add_code(srv, c["id"], shown)
    for typed in ("fall-%s %s" % (a.lower(), b.lower()), (" fall%s%s " % (a, b)).lower(), shown.lower()):
        r = srv.request("GET", "/v1/codes/" + urllib.parse.quote(typed, safe=""))
        k = expect(r, 200, "GET /v1/codes/%r" % typed)
        assert k["code"] == shown, "typed %r found %r" % (typed, k)


def test_get_unknown_code_is_404(srv):
    r = srv.request("GET", "/v1/codes/" + uniq("NOPE"))
    expect_error(r, 404, "not_found")


def test_disable_code(srv):
    c = create_campaign(srv)
    k = add_code(srv, c["id"])
    r = srv.request("POST", "/v1/codes/%s/disable" % k["code"].lower())
    d = expect(r, 200, "disable")
    assert d["state"] == "disabled" and d["code"] == k["code"], d
    assert get_code(srv, k["code"])["state"] == "disabled"
    harness.invalid(validate(srv, k["code"]), "code_disabled")
    r = srv.request("POST", "/v1/codes/%s/disable" % uniq("NOPE"))
    expect_error(r, 404, "not_found", what="disable an unknown code")


def test_code_validity_days_sets_expiry(srv):
    c = create_campaign(srv, code_validity_days=7)
    expect(gen(srv, c["id"], {"count": 1}), 201)
    k = list_codes(srv, c["id"])[0]
    assert k["expires_at"] is not None, "code_validity_days 7 gives codes an expires_at: %r" % k
    d = ts(k["expires_at"]) - ts(k["issued_at"])
    assert 6 * 86400 <= d <= 8 * 86400, "expires_at %s vs issued_at %s" % (k["expires_at"], k["issued_at"])


# --- listing ---------------------------------------------------------------------------------

def test_list_codes_state_filter_and_pages(srv):
    c = create_campaign(srv)
    made = [add_code(srv, c["id"])["code"] for _ in range(7)]
    for code in made[:2]:
        expect(redeem(srv, code), 201, "redeem %s" % code)
    expect(srv.request("POST", "/v1/codes/%s/disable" % made[2]), 200)
    active = list_codes(srv, c["id"], state="active", limit=100)
    redeemed = list_codes(srv, c["id"], state="redeemed")
    disabled = list_codes(srv, c["id"], state="disabled")
    assert sorted(k["code"] for k in active) == sorted(made[3:]), active
    assert sorted(k["code"] for k in redeemed) == sorted(made[:2]), redeemed
    assert [k["code"] for k in disabled] == [made[2]], disabled
    assert all(k["uses"] == 1 for k in redeemed)
    pages = list_codes(srv, c["id"], limit=3)
    names = [k["code"] for k in pages]
    assert sorted(names) == sorted(made) and len(names) == 7, "pages of 3: %r" % names
    r = srv.request("GET", "/v1/campaigns/%s/codes?limit=3" % c["id"])
    assert len(expect(r, 200)["data"]) == 3 and r.json["next_cursor"], show(r)


def test_list_codes_bad_state_is_400(srv):
    c = create_campaign(srv)
    r = srv.request("GET", "/v1/campaigns/%s/codes?state=bogus" % c["id"])
    expect_error(r, 400, "bad_request", field="state")


def test_list_codes_unknown_campaign_is_404(srv):
    r = srv.request("GET", "/v1/campaigns/cmp_%s/codes" % uniq("", 16))
    expect_error(r, 404, "not_found")


def test_export_codes_csv(srv):
    c = create_campaign(srv)
    made = {add_code(srv, c["id"], max_uses=3)["code"] for _ in range(4)}
    u = add_code(srv, c["id"], max_uses=None)["code"]
    made.add(u)
    r = srv.request("GET", "/v1/campaigns/%s/codes?format=csv" % c["id"])
    assert r.status == 200, show(r)
    assert r.headers.get("content-type", "").startswith("text/csv"), r.headers.get("content-type")
    lines = r.text.splitlines()
    assert lines[0] == CSV_HEADER, "CSV header: %r" % lines[0]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["code"] for row in rows} == made, rows
    for row in rows:
        assert row["state"] == "active" and row["uses"] == "0", row
        # "unlimited", the word import reads back (an empty cell imports as 1)
        assert row["max_uses"] == ("unlimited" if row["code"] == u else "3"), row
        assert row["issued_at"].endswith("Z"), row


def test_export_csv_filters_by_state(srv):
    c = create_campaign(srv)
    a = add_code(srv, c["id"])["code"]
    b = add_code(srv, c["id"])["code"]
    expect(redeem(srv, a), 201)
    r = srv.request("GET", "/v1/campaigns/%s/codes?state=active&format=csv" % c["id"])
    assert r.status == 200, show(r)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["code"] for row in rows] == [b], rows


# --- import ---------------------------------------------------------------------------------

def test_import_with_header(srv):
    c = create_campaign(srv)
    a, b = uniq("IMP"), uniq("IMP")
    text = "code,customer_id,max_uses,expires_at\n%s,,,\n%s,u1,5,2031-01-01T00:00:00Z\n" % (a, b)
    r = import_csv(srv, c["id"], text)
    j = expect(r, 200, "import")
    assert j == {"imported": 2, "rejected": []}, show(r)
    ka, kb = get_code(srv, a), get_code(srv, b)
    assert ka["max_uses"] == 1 and ka["customer_id"] is None and ka["expires_at"] is None, ka
    assert kb["max_uses"] == 5 and kb["customer_id"] == "u1", kb
    assert kb["expires_at"] == "2031-01-01T00:00:00Z", kb
    assert ka["campaign_id"] == c["id"] and kb["campaign_id"] == c["id"]


def test_import_codes_only_no_header(srv):
    c = create_campaign(srv)
    codes = [uniq("IMP") for _ in range(5)]
    r = import_csv(srv, c["id"], "\r\n".join(codes) + "\r\n")
    assert expect(r, 200) == {"imported": 5, "rejected": []}, show(r)
    assert sorted(k["code"] for k in list_codes(srv, c["id"])) == sorted(codes)


def test_import_rejects_duplicates_and_malformed_keeps_rest(srv):
    c = create_campaign(srv)
    other = create_campaign(srv)
    stored = add_code(srv, other["id"])["code"]
    good = [uniq("IMP") for _ in range(3)]
    lines = [
        "code,customer_id,max_uses,expires_at",   # 1
        good[0],                                  # 2
        "BAD CODE!",                              # 3 malformed code
        good[1] + ",,5,",                         # 4
        good[0].lower(),                          # 5 duplicate within the file (other case)
        stored,                                   # 6 already stored (another campaign)
        uniq("IMP") + ",,abc,",                   # 7 malformed max_uses
        uniq("IMP") + ",,,not-a-time",            # 8 malformed expires_at
        good[2] + ",u9,,2031-05-05T00:00:00+09:00",  # 9
    ]
    r = import_csv(srv, c["id"], "\n".join(lines) + "\n")
    j = expect(r, 200, "import with bad lines")
    assert j["imported"] == 3, "3 good lines: %s" % show(r)
    rej = {x["line"]: x["reason"] for x in j["rejected"]}
    assert sorted(rej) == [3, 5, 6, 7, 8], "rejected lines (1-based, header = line 1): %s" % show(r)
    assert all(isinstance(v, str) and v for v in rej.values()), j["rejected"]
    assert sorted(k["code"] for k in list_codes(srv, c["id"])) == sorted(good)
    assert get_code(srv, good[2])["expires_at"] == "2031-05-04T15:00:00Z"
    assert get_code(srv, stored)["campaign_id"] == other["id"], "a rejected duplicate moved the stored code"


def test_import_blank_lines_and_quotes(srv):
    c = create_campaign(srv)
    a, b = uniq("IMP"), uniq("IMP")
    text = '"%s"\n\n%s\n' % (a, b)
    r = import_csv(srv, c["id"], text)
    j = expect(r, 200)
    assert j["imported"] == 2, show(r)
    get_code(srv, a)
    get_code(srv, b)


def test_import_needs_csv_content_type(srv):
    c = create_campaign(srv)
    r = import_csv(srv, c["id"], uniq("IMP") + "\n", content_type="application/json")
    assert r.status in (400, 415), "import sent as application/json: %s" % show(r)
    harness.assert_error_shape(r)


def test_import_unknown_campaign_is_404(srv):
    r = import_csv(srv, "cmp_" + uniq("", 16), uniq("IMP") + "\n")
    expect_error(r, 404, "not_found")


@harness.timeout(240)
def test_import_larger_than_json_limit(srv):
    # 1.5 MiB of CSV is over the JSON limit (1 MiB) but well under the CSV one (32 MiB).
    c = create_campaign(srv)
    n = 60000
    codes = ["BIG%020d" % i + uniq("", 2) for i in range(n)]
    text = "\n".join(codes) + "\n"
    assert len(text) > 1_500_000
    r = import_csv(srv, c["id"], text)
    j = expect(r, 200, "a 1.5 MiB import")
    assert j["imported"] == n and j["rejected"] == [], "imported %r, rejected %d" % (j["imported"], len(j["rejected"]))
    assert stats(srv, c["id"])["issued"] == n


@harness.timeout(240)
def test_import_over_32_mib_is_413(srv):
    c = create_campaign(srv)
    size = 33 * 1024 * 1024
    status, hdrs, body, sent, how = big_upload(srv, "/v1/campaigns/%s/codes/import" % c["id"], size,
                                               content_type="text/csv", fill=b"ABCDEFGHJKMNPQRS\n")
    assert status == 413, "33 MiB CSV: status %r (%s after %d bytes), body %r" % (status, how, sent, body[:300])
    r = harness.Response(status, "", hdrs, body)
    if body:
        expect_error(r, 413, "payload_too_large")
    assert srv.healthy()
    assert list_codes(srv, c["id"]) == [], "a refused import stored codes"


# --- issue ---------------------------------------------------------------------------------

def test_issue_assigns_a_code(srv):
    c = create_campaign(srv)
    r = srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "u1", "channel": "email"})
    k = expect(r, 201, "issue")
    assert k["customer_id"] == "u1" and k["campaign_id"] == c["id"] and k["state"] == "active", k
    assert get_code(srv, k["code"])["customer_id"] == "u1"


def test_issue_takes_a_pooled_code_first(srv):
    c = create_campaign(srv)
    expect(gen(srv, c["id"], {"count": 3}), 201)
    pool = {k["code"] for k in list_codes(srv, c["id"])}
    k = expect(srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "u2"}), 201)
    assert k["code"] in pool, "issue should hand out a generated code of the pool: %r not in %r" % (k, pool)
    assert len(list_codes(srv, c["id"])) == 3


def test_issue_walks_the_pool_and_skips_used_codes(srv):
    """Each issue gets a different pooled code (SQLite walks the pool in
    creation order from a per-campaign cursor, migration 009), a code spent
    or disabled while still in the pool is never given out, and once the
    pool is empty a new code is made."""
    c = create_campaign(srv)
    expect(gen(srv, c["id"], {"count": 5}), 201)
    pool = [k["code"] for k in list_codes(srv, c["id"])]
    # spend the 2nd and disable the 4th while they are still in the pool
    expect(srv.request("POST", "/v1/redemptions", {"code": pool[1], "order": {"id": uniq("o"), "amount": 1000}}), 201)
    expect(srv.request("POST", "/v1/codes/%s/disable" % pool[3]), 200)
    got = [expect(srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "walk%d" % i}), 201)["code"]
           for i in range(4)]
    assert sorted(got[:3]) == sorted([pool[0], pool[2], pool[4]]), "issued %r from pool %r" % (got, pool)
    assert got[3] not in pool, "the pool was empty: a new code is made, got %r" % got[3]
    assert len(list_codes(srv, c["id"])) == 6
    for i, code in enumerate(got):
        assert get_code(srv, code)["customer_id"] == "walk%d" % i


def test_issue_needs_customer_id(srv):
    c = create_campaign(srv)
    r = srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"channel": "email"})
    expect_error(r, 400, "bad_request", field="customer_id")


def test_issue_respects_per_customer(srv):
    c = create_campaign(srv, limits={"per_customer": 1})
    expect(srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "u3"}), 201)
    r = srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "u3"})
    expect_error(r, 422, "customer_limit_reached")


def test_issue_with_segments_refuses_unknown_customer(srv):
    c = create_campaign(srv, rules={"segments": ["vip"]})
    r = srv.request("POST", "/v1/campaigns/%s/issue" % c["id"], {"customer_id": "u4"})
    expect_error(r, 422, "customer_not_eligible")


def test_issue_honours_segments_and_first_order_rules(srv):
    vip, buyer = uniq("vip-"), uniq("buyer-")
    expect(srv.request("PUT", "/v1/customers/" + vip, {"segments": ["vip"]}), 201)
    expect(srv.post("/v1/events", {"id": uniq("ev-"), "type": "purchase", "customer_id": buyer,
                                   "properties": {"order_id": "o-1", "amount": 1000}}), 201)
    seg = create_campaign(srv, rules={"segments": ["vip"]})
    k = expect(srv.request("POST", "/v1/campaigns/%s/issue" % seg["id"], {"customer_id": vip}), 201)
    assert k["customer_id"] == vip, k
    expect_error(srv.request("POST", "/v1/campaigns/%s/issue" % seg["id"], {"customer_id": buyer}), 422,
                 "customer_not_eligible")
    first = create_campaign(srv, rules={"first_order_only": True})
    expect(srv.request("POST", "/v1/campaigns/%s/issue" % first["id"], {"customer_id": uniq("new-")}), 201)
    expect_error(srv.request("POST", "/v1/campaigns/%s/issue" % first["id"], {"customer_id": buyer}), 422,
                 "customer_not_eligible")


def test_csv_export_quotes_fields(srv):
    c = create_campaign(srv)
    code = uniq("Q")
    cust = 'a,b "c"'
    text = 'code,customer_id,max_uses,expires_at\n%s,"a,b ""c""",2,\n' % code
    j = expect(import_csv(srv, c["id"], text), 200)
    assert j["imported"] == 1, j
    assert get_code(srv, code)["customer_id"] == cust
    r = srv.request("GET", "/v1/campaigns/%s/codes?format=csv" % c["id"])
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1 and rows[0]["customer_id"] == cust and rows[0]["code"] == code, \
        "CSV export must quote a customer_id with a comma and quotes: %r" % r.text


def test_export_then_import_round_trip(srv):
    a = create_campaign(srv)
    made = {}
    for i in range(4):
        k = add_code(srv, a["id"], max_uses=i + 1)
        made[k["code"]] = k
    r = srv.request("GET", "/v1/campaigns/%s/codes?format=csv" % a["id"])
    rows = list(csv.DictReader(io.StringIO(r.text)))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["code", "customer_id", "max_uses", "expires_at"])
    for row in rows:
        w.writerow(["X" + row["code"], row["customer_id"], row["max_uses"], row["expires_at"]])
    b = create_campaign(srv)
    j = expect(import_csv(srv, b["id"], out.getvalue()), 200)
    assert j == {"imported": 4, "rejected": []}, j
    for code, k in made.items():
        assert get_code(srv, "X" + code)["max_uses"] == k["max_uses"]
