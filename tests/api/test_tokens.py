"""Bearer tokens through /v1/tokens (admin only): a secret shown once and
stored only as a hash, lists in cursor pages, revocation and expiry that
take effect on the very next call, 400s that name the field, and an audit
and event trail that never holds a secret."""

import glob
import hashlib
import json
import time

from abuse_util import audit_rows, wait_audit
from harness import db_query, expect, expect_error, on_pg, poll, rfc3339, uniq, use_body

ROLES = ("admin", "marketer", "integration", "storefront", "viewer")

# A call each role is allowed (test_roles.py has the whole matrix): the
# proof that a token works.
PROBE = {
    "admin": ("GET", "/v1/tokens", None),
    "marketer": ("GET", "/v1/campaigns", None),
    "viewer": ("GET", "/v1/campaigns", None),
    "integration": ("POST", "/v1/validate", use_body("NOSUCHCODE9")),
    "storefront": ("POST", "/v1/validate", use_body("NOSUCHCODE9")),
}

STATE = {}


def create(srv, expect_status=201, token=None, **body):
    r = srv.post("/v1/tokens", body, token=token or srv.token)
    return expect(r, expect_status, "POST /v1/tokens %r" % body)


def probe(srv, role, secret):
    method, path, body = PROBE[role]
    return srv.request(method, path, body, token=secret)


def count_tokens(srv):
    return int(db_query(srv, "SELECT count(*) FROM tokens")[0][0])


def test_bootstrap_admin_token_works_and_is_listed(srv):
    rows = expect(srv.get("/v1/tokens?limit=1000"), 200)["data"]
    admins = [x for x in rows if x["role"] == "admin" and x["revoked_at"] is None]
    assert admins, rows
    assert srv.token not in json.dumps(rows)


def test_each_role_gets_a_secret_once_that_works(srv):
    made = {}
    for role in ROLES:
        t = create(srv, role=role, name="ci " + role)
        assert t["id"].startswith("tok_") and t["role"] == role and t["name"] == "ci " + role, t
        assert t["kind"] == "api" and t["expires_at"] is None and t["revoked_at"] is None, t
        assert isinstance(t["secret"], str) and len(t["secret"]) >= 40, t
        r = probe(srv, role, t["secret"])
        assert r.status not in (401, 403), (role, r)
        made[role] = t
    STATE["made"] = made
    # Never again: neither one by one nor in the list.
    for role, t in made.items():
        got = expect(srv.get("/v1/tokens/" + t["id"]), 200)
        assert "secret" not in got and t["secret"] not in json.dumps(got), got
        assert {k: got[k] for k in ("id", "role", "name")} == {"id": t["id"], "role": role, "name": t["name"]}
    listed = srv.get("/v1/tokens?limit=1000")
    assert listed.status == 200
    for t in made.values():
        assert t["secret"] not in listed.text
    assert all("secret" not in x for x in listed.json["data"])


def test_secrets_are_stored_only_as_hashes(srv):
    made = STATE["made"]
    stored = dict(db_query(srv, "SELECT id, secret_hash FROM tokens"))
    for t in made.values():
        assert stored[t["id"]] == hashlib.blake2b(t["secret"].encode(), digest_size=32).hexdigest()
    # Not in any byte of the database, its WAL or its journal either (on
    # PostgreSQL, whose files are the cluster's: in no row of any table).
    if on_pg():
        tables = [r[0] for r in db_query(srv, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        blob = "".join(str(r) for t in tables for r in db_query(srv, "SELECT x::text FROM %s x" % t)).encode()
    else:
        blob = b"".join(open(p, "rb").read() for p in glob.glob(srv.db + "*"))
    for t in list(made.values()):
        assert t["secret"].encode() not in blob, "a token secret is in the database files"
    assert srv.token.encode() not in blob, "the bootstrap secret is in the database files"


def test_name_is_optional_but_not_empty(srv):
    t = create(srv, role="viewer")
    assert t["name"] is None, t
    expect_error(srv.post("/v1/tokens", {"role": "viewer", "name": ""}), 400, "bad_request", "name")


def test_list_pages_with_a_cursor(srv):
    mine = [create(srv, role="viewer", name="page %d" % i)["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        r = expect(srv.get("/v1/tokens?limit=3" + ("&cursor=" + cursor if cursor else "")), 200)
        assert len(r["data"]) <= 3
        seen += [x["id"] for x in r["data"]]
        pages += 1
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "a token came twice"
    assert seen == sorted(seen), "pages are not in creation order"
    assert set(mine) <= set(seen), set(mine) - set(seen)
    assert pages >= 3
    assert len(seen) == count_tokens(srv)
    only_oauth = expect(srv.get("/v1/tokens?kind=oauth"), 200)["data"]
    assert all(x["kind"] == "oauth" for x in only_oauth), only_oauth
    expect_error(srv.get("/v1/tokens?kind=other"), 400, "bad_request", "kind")
    expect_error(srv.get("/v1/tokens?cursor=cmp_123"), 400, "bad_request", "cursor")
    expect_error(srv.get("/v1/tokens?limit=0"), 400, "bad_request", "limit")


def test_get_unknown_token_is_404(srv):
    expect_error(srv.get("/v1/tokens/tok_doesnotexist"), 404, "not_found")
    expect_error(srv.request("DELETE", "/v1/tokens/tok_doesnotexist"), 404, "not_found")


def test_revoked_token_is_refused_on_the_very_next_call(srv):
    for role in ROLES:
        t = create(srv, role=role, name="to revoke")
        assert probe(srv, role, t["secret"]).status not in (401, 403)
        got = expect(srv.request("DELETE", "/v1/tokens/" + t["id"]), 200)
        assert got["revoked_at"] is not None and got["id"] == t["id"] and "secret" not in got, got
        expect_error(probe(srv, role, t["secret"]), 401, "unauthorized", what=role)
        assert expect(srv.get("/v1/tokens/" + t["id"]), 200)["revoked_at"] == got["revoked_at"]
    # A second revocation changes nothing and says so.
    expect_error(srv.request("DELETE", "/v1/tokens/" + t["id"]), 409, "conflict")


def test_an_admin_may_revoke_its_own_token(srv):
    t = create(srv, role="admin", name="self")
    expect(srv.request("DELETE", "/v1/tokens/" + t["id"], token=t["secret"]), 200)
    expect_error(srv.get("/v1/tokens", token=t["secret"]), 401, "unauthorized")
    expect(srv.get("/v1/tokens"), 200)  # the bootstrap admin still works


def first_refusal(srv, role, secret, timeout):
    """Calls with the secret until it is refused; the time of the first 401."""
    assert poll(lambda: probe(srv, role, secret).status == 401, timeout=timeout, interval=0.05), \
        "%s token still works after %ss" % (role, timeout)
    return time.time()


def test_expired_token_is_refused_on_the_next_call(srv):
    t0 = time.time()
    by_ttl = create(srv, role="viewer", name="ttl", ttl_seconds=1)
    at_epoch = int(time.time()) + 2
    by_time = create(srv, role="marketer", name="at", expires_at=rfc3339(at_epoch))
    assert by_ttl["expires_at"] is not None and by_time["expires_at"] == rfc3339(at_epoch), (by_ttl, by_time)
    expect(probe(srv, "viewer", by_ttl["secret"]), 200)
    expect(probe(srv, "marketer", by_time["secret"]), 200)
    # Lives its whole ttl (rounded up to the second), then not a call more.
    assert first_refusal(srv, "viewer", by_ttl["secret"], 4) >= t0 + 1
    assert first_refusal(srv, "marketer", by_time["secret"], 5) >= at_epoch
    expect_error(probe(srv, "marketer", by_time["secret"]), 401, "unauthorized")


BAD = [
    ({"role": "superuser", "name": "x"}, "role"),
    ({"name": "x"}, "role"),
    ({"role": 5}, "role"),
    ({"role": "viewer", "name": 7}, "name"),
    ({"role": "viewer", "ttl_seconds": "60"}, "ttl_seconds"),
    ({"role": "viewer", "ttl_seconds": 0}, "ttl_seconds"),
    ({"role": "viewer", "ttl_seconds": 1.5}, "ttl_seconds"),
    ({"role": "viewer", "expires_at": "tomorrow"}, "expires_at"),
    ({"role": "viewer", "expires_at": 1893456000}, "expires_at"),
    ({"role": "viewer", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ({"role": "viewer", "expires_at": "2099-01-01T00:00:00Z", "ttl_seconds": 60}, "ttl_seconds"),
    ({"role": "viewer", "scope": "all"}, "scope"),
    ({"role": "viewer", "secret": "my-own-secret-000000"}, "secret"),
]


def test_bad_input_is_400_naming_the_field_and_stores_nothing(srv):
    before = count_tokens(srv)
    for body, field in BAD:
        expect_error(srv.post("/v1/tokens", body), 400, "bad_request", field, what=repr(body))
    expect_error(srv.post("/v1/tokens", raw=b"[1]"), 400, "bad_request")
    expect_error(srv.post("/v1/tokens", raw=b'{"role":'), 400, "bad_request")
    assert count_tokens(srv) == before


def test_no_other_role_may_manage_tokens(srv):
    for role in ROLES[1:]:
        secret = create(srv, role=role)["secret"]
        tid = STATE["made"]["viewer"]["id"]
        for method, path, body in (("POST", "/v1/tokens", {"role": "admin"}), ("GET", "/v1/tokens", None),
                                   ("GET", "/v1/tokens/" + tid, None), ("DELETE", "/v1/tokens/" + tid, None)):
            expect_error(srv.request(method, path, body, token=secret), 403, "forbidden", what=role + " " + path)
    assert expect(srv.get("/v1/tokens/" + STATE["made"]["viewer"]["id"]), 200)["revoked_at"] is None


def test_changes_and_refusals_leave_audit_rows_and_events_without_secrets(srv):
    t = create(srv, role="integration", name="audited")
    expect(srv.request("DELETE", "/v1/tokens/" + t["id"]), 200)
    expect_error(probe(srv, "integration", t["secret"]), 401)
    wrong = "promo_" + uniq("WRONG", 30)
    expect_error(srv.get("/v1/campaigns", token=wrong), 401)
    rows = wait_audit(srv, lambda x: x["status"] == 401 and x["token_id"] == t["id"], "for the revoked token")
    assert any(x["method"] == "POST" and x["path"] == "/v1/tokens" and x["status"] == 201 for x in rows)
    assert any(x["method"] == "DELETE" and x["path"] == "/v1/tokens/" + t["id"] and x["status"] == 200
               for x in rows), rows[-5:]
    refused = [x for x in rows if x["token_id"] == t["id"] and x["status"] == 401]
    assert [(x["path"], x["reason"], x["role"]) for x in refused] == [
        ("/v1/validate", "token revoked or expired", "integration")], refused
    last = refused[0]["seq"]
    wait_audit(srv, lambda x: x["seq"] > last and x["reason"] == "unknown token" and x["token_id"] is None,
               "for the unknown token")
    events = {}
    for kind in ("token_created", "token_revoked"):
        events[kind] = expect(srv.get("/v1/events?type=%s&limit=1000" % kind), 200)["data"]
        assert any(t["id"] in json.dumps(e) for e in events[kind]), (kind, events[kind][-3:])
    secrets = [t["secret"], wrong, srv.token] + [m["secret"] for m in STATE["made"].values()]
    cells = [str(v) for table in ("audit_log", "events") for row in db_query(srv, "SELECT * FROM " + table)
             for v in row]
    audit_csv = srv.get("/v1/audit?format=csv").text
    for s in secrets:
        assert not [v for v in cells if s in v], "a secret is stored in the audit log or events"
        assert s not in audit_csv and s not in json.dumps(audit_rows(srv))


def test_a_campaign_made_with_a_marketer_token_works(srv):
    """A token made through the API is as good as the bootstrap one."""
    secret = create(srv, role="marketer", name="campaigns")["secret"]
    r = srv.post("/v1/campaigns", {"name": "by token", "currency": "KRW",
                                   "discount": {"type": "fixed", "amount": 100}}, token=secret)
    assert expect(r, 201)["name"] == "by token"
