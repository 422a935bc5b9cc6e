"""OAuth 2.0 client credentials (RFC 6749 §4.4): admins register clients
at /v1/oauth/clients; a client trades its id and secret at POST
/oauth/token (HTTP Basic or form body) for a short-lived bearer token whose
scope is a role. Answers per §5.1, errors per §5.2; the access token does
exactly what its role may, and stops working at its expiry or when its
client is deleted."""

import base64
import glob
import json
import time
import urllib.parse

from abuse_util import wait_audit
from harness import add_code, create_campaign, db_query, expect, expect_error, poll, uniq, use_body

FORM = "application/x-www-form-urlencoded"
STATE = {}


def register(srv, role, ttl=None, name=None):
    body = {"name": name or "client " + uniq("", 5), "role": role}
    if ttl is not None:
        body["access_token_ttl_seconds"] = ttl
    return expect(srv.post("/v1/oauth/clients", body), 201, "register %r" % body)


def basic(cid, secret):
    raw = "%s:%s" % (urllib.parse.quote_plus(cid), urllib.parse.quote_plus(secret))
    return "Basic " + base64.b64encode(raw.encode()).decode()


def token_request(srv, form, auth=None, content_type=FORM):
    """POSTs a form (dict, list of pairs, or raw str) to /oauth/token."""
    body = form if isinstance(form, str) else urllib.parse.urlencode(form)
    headers = {"Content-Type": content_type}
    if auth:
        headers["Authorization"] = auth
    return srv.request("POST", "/oauth/token", raw=body.encode(), headers=headers, token=None)


def grant(srv, client, scope=None, how="basic"):
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    if how == "basic":
        return token_request(srv, form, basic(client["client_id"], client["client_secret"]))
    form.update(client_id=client["client_id"], client_secret=client["client_secret"])
    return token_request(srv, form)


def oauth_error(r, status, error):
    """A §5.2 error: the status, {"error", "error_description"}, no-store."""
    assert r.status == status, "expected %d, got %r" % (status, r)
    assert isinstance(r.json, dict) and r.json.get("error") == error, r
    assert isinstance(r.json.get("error_description"), str) and r.json["error_description"], r
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    assert r.headers.get("cache-control") == "no-store", r.headers
    if status == 401:
        assert r.headers.get("www-authenticate", "").startswith("Basic"), r.headers
    return r.json


def setup(srv):
    STATE["marketer"] = register(srv, "marketer")
    STATE["integration"] = register(srv, "integration", ttl=600)


# ---- clients --------------------------------------------------------------------------

def test_a_client_is_registered_with_its_secret_shown_once(srv):
    c = STATE["marketer"]
    assert c["client_id"].startswith("ocl_") and c["role"] == "marketer", c
    assert c["access_token_ttl_seconds"] == 3600 and c["deleted_at"] is None, c
    assert isinstance(c["client_secret"], str) and len(c["client_secret"]) >= 40, c
    got = expect(srv.get("/v1/oauth/clients/" + c["client_id"]), 200)
    assert "client_secret" not in got and c["client_secret"] not in json.dumps(got), got
    listed = srv.get("/v1/oauth/clients?limit=1000")
    assert expect(listed, 200) and c["client_secret"] not in listed.text
    ids = [x["client_id"] for x in listed.json["data"]]
    assert c["client_id"] in ids and STATE["integration"]["client_id"] in ids, ids
    expect_error(srv.get("/v1/oauth/clients/ocl_nothing"), 404, "not_found")


def test_client_list_pages(srv):
    mine = [register(srv, "viewer")["client_id"] for _ in range(4)]
    seen, cursor = [], None
    while True:
        r = expect(srv.get("/v1/oauth/clients?limit=2" + ("&cursor=" + cursor if cursor else "")), 200)
        seen += [x["client_id"] for x in r["data"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(mine) <= set(seen), seen


BAD_CLIENTS = [
    ({"role": "viewer"}, "name"),
    ({"name": "x"}, "role"),
    ({"name": "x", "role": "root"}, "role"),
    ({"name": "x", "role": "viewer", "access_token_ttl_seconds": 0}, "access_token_ttl_seconds"),
    ({"name": "x", "role": "viewer", "access_token_ttl_seconds": 86401}, "access_token_ttl_seconds"),
    ({"name": "x", "role": "viewer", "access_token_ttl_seconds": "60"}, "access_token_ttl_seconds"),
    ({"name": "x", "role": "viewer", "redirect_uri": "https://a.example"}, "redirect_uri"),
    ({"name": "", "role": "viewer"}, "name"),
]


def test_bad_client_bodies_are_400_naming_the_field(srv):
    before = int(db_query(srv, "SELECT count(*) FROM oauth_clients")[0][0])
    for body, field in BAD_CLIENTS:
        expect_error(srv.post("/v1/oauth/clients", body), 400, "bad_request", field, what=repr(body))
    assert int(db_query(srv, "SELECT count(*) FROM oauth_clients")[0][0]) == before


# ---- the token endpoint: success (§5.1) ------------------------------------------------

def check_grant(r, role, ttl):
    assert r.status == 200, r
    j = r.json
    assert set(j) == {"access_token", "token_type", "expires_in", "scope"}, j
    assert j["token_type"] == "Bearer" and j["expires_in"] == ttl and j["scope"] == role, j
    assert isinstance(j["access_token"], str) and len(j["access_token"]) >= 40, j
    assert r.headers.get("cache-control") == "no-store" and r.headers.get("pragma") == "no-cache", r.headers
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    return j["access_token"]


def test_basic_and_form_authentication_both_grant_a_token(srv):
    c = STATE["marketer"]
    a = check_grant(grant(srv, c, how="basic"), "marketer", 3600)
    b = check_grant(grant(srv, c, how="form"), "marketer", 3600)
    assert a != b
    for t in (a, b):
        expect(srv.get("/v1/campaigns", token=t), 200)
    # Listed among the tokens, as kind oauth with its client, never with its secret.
    listed = srv.get("/v1/tokens?kind=oauth&limit=1000")
    mine = [x for x in listed.json["data"] if x["client_id"] == c["client_id"]]
    assert len(mine) >= 2 and all(x["role"] == "marketer" and x["expires_at"] for x in mine), mine
    assert a not in listed.text and b not in listed.text


def test_secrets_and_access_tokens_are_not_stored(srv):
    c = STATE["integration"]
    at = check_grant(grant(srv, c), "integration", 600)
    blob = b"".join(open(p, "rb").read() for p in glob.glob(srv.db + "*"))
    for s in (c["client_secret"], STATE["marketer"]["client_secret"], at):
        assert s.encode() not in blob, "a secret is in the database files"


def test_the_access_token_does_exactly_what_its_role_may(srv):
    cmp = create_campaign(srv)
    code = add_code(srv, cmp["id"])["code"]
    integ = check_grant(grant(srv, STATE["integration"]), "integration", 600)
    expect(srv.post("/v1/validate", use_body(code), token=integ), 200)
    expect(srv.post("/v1/redemptions", use_body(code), token=integ), 201)
    expect_error(srv.get("/v1/campaigns", token=integ), 403, "forbidden")
    expect_error(srv.post("/v1/tokens", {"role": "admin"}, token=integ), 403, "forbidden")
    mk = check_grant(grant(srv, STATE["marketer"]), "marketer", 3600)
    expect(srv.patch("/v1/campaigns/" + cmp["id"], {"name": "by oauth"}, token=mk), 200)
    expect_error(srv.post("/v1/validate", use_body(code), token=mk), 403, "forbidden")
    expect_error(srv.get("/v1/oauth/clients", token=mk), 403, "forbidden")


def test_scope_may_narrow_to_a_role_that_does_less(srv):
    viewer = check_grant(grant(srv, STATE["marketer"], scope="viewer"), "viewer", 3600)
    expect(srv.get("/v1/campaigns", token=viewer), 200)
    expect_error(srv.post("/v1/campaigns", {"name": "x"}, token=viewer), 403, "forbidden")
    sf = check_grant(grant(srv, STATE["integration"], scope="storefront"), "storefront", 600)
    r = expect(srv.post("/v1/validate", use_body(uniq("NF")), token=sf), 200)
    assert r["reason"] == "code_invalid", r  # a storefront token hears coarse reasons
    check_grant(grant(srv, STATE["marketer"], scope="marketer"), "marketer", 3600)
    for scope in ("admin", "integration", "marketer viewer", "everything", "Viewer"):
        oauth_error(grant(srv, STATE["marketer"], scope=scope), 400, "invalid_scope")
    oauth_error(grant(srv, STATE["integration"], scope="viewer"), 400, "invalid_scope")


# ---- the token endpoint: errors (§5.2) -------------------------------------------------

def test_client_authentication_failures_are_invalid_client_401(srv):
    c = STATE["marketer"]
    good = {"grant_type": "client_credentials"}
    cases = {
        "wrong secret": token_request(srv, good, basic(c["client_id"], c["client_secret"] + "x")),
        "unknown client": token_request(srv, good, basic("ocl_" + uniq("", 20), c["client_secret"])),
        "no credentials": token_request(srv, good),
        "form, wrong secret": token_request(srv, dict(good, client_id=c["client_id"], client_secret="nope")),
        "form, id only": token_request(srv, dict(good, client_id=c["client_id"])),
        "not base64": token_request(srv, good, "Basic ***not-base64***"),
        "no colon": token_request(srv, good, "Basic " + base64.b64encode(b"just-an-id").decode()),
        "empty Basic": token_request(srv, good, "Basic "),
        "a bearer token": token_request(srv, good, "Bearer " + srv.token),
    }
    for what, r in cases.items():
        try:
            oauth_error(r, 401, "invalid_client")
        except AssertionError as e:
            raise AssertionError("%s: %s" % (what, e))


def test_malformed_requests_are_invalid_request(srv):
    c = STATE["marketer"]
    auth = basic(c["client_id"], c["client_secret"])
    oauth_error(token_request(srv, {}, auth), 400, "invalid_request")  # no grant_type
    oauth_error(token_request(srv, "grant_type=client_credentials&grant_type=client_credentials", auth),
                400, "invalid_request")
    oauth_error(token_request(srv, "grant_type=client_credentials&scope=viewer&scope=viewer", auth),
                400, "invalid_request")
    oauth_error(token_request(srv, "grant_type=client_credentials&scope=%zz", auth), 400, "invalid_request")
    oauth_error(token_request(srv, json.dumps({"grant_type": "client_credentials"}), auth,
                              content_type="application/json"), 400, "invalid_request")
    oauth_error(token_request(srv, "grant_type=client_credentials", auth, content_type="text/plain"),
                400, "invalid_request")
    both = {"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"]}
    oauth_error(token_request(srv, both, auth), 400, "invalid_request")
    # Unknown parameters are ignored (§3.2), and a charset parameter is fine.
    check_grant(token_request(srv, {"grant_type": "client_credentials", "audience": "x"}, auth,
                              content_type=FORM + "; charset=utf-8"), "marketer", 3600)
    r = srv.request("GET", "/oauth/token", token=None)
    expect_error(r, 405, "method_not_allowed")


def test_other_grant_types_are_unsupported(srv):
    c = STATE["marketer"]
    for g in ("password", "authorization_code", "refresh_token", "client_credential"):
        oauth_error(token_request(srv, {"grant_type": g}, basic(c["client_id"], c["client_secret"])),
                    400, "unsupported_grant_type")


def test_refused_token_requests_are_audited_without_secrets(srv):
    c = STATE["marketer"]
    wrong = "wrong-" + uniq("S", 30)
    token_request(srv, {"grant_type": "client_credentials"}, basic(c["client_id"], wrong))
    rows = wait_audit(srv, lambda x: x["path"] == "/oauth/token" and x["status"] == 401, "for the refusal")
    x = [x for x in rows if x["path"] == "/oauth/token" and x["status"] == 401][-1]
    assert x["method"] == "POST" and x["reason"] == "invalid client credentials", x
    cells = [str(v) for row in db_query(srv, "SELECT * FROM audit_log") for v in row]
    assert not [v for v in cells if wrong in v or c["client_secret"] in v]


# ---- expiry and deletion -----------------------------------------------------------------

def test_an_access_token_past_its_expiry_is_refused(srv):
    c = register(srv, "viewer", ttl=1)
    t0 = time.time()
    at = check_grant(grant(srv, c), "viewer", 1)
    expect(srv.get("/v1/campaigns", token=at), 200)
    assert poll(lambda: srv.get("/v1/campaigns", token=at).status == 401, timeout=4, interval=0.05)
    assert time.time() >= t0 + 1, "refused before its expires_in"
    expect_error(srv.get("/v1/campaigns", token=at), 401, "unauthorized")
    # The client itself goes on getting fresh tokens.
    expect(srv.get("/v1/campaigns", token=check_grant(grant(srv, c), "viewer", 1)), 200)


def test_deleting_a_client_revokes_its_tokens_at_once(srv):
    c = register(srv, "marketer")
    tokens = [check_grant(grant(srv, c), "marketer", 3600) for _ in range(2)]
    tokens.append(check_grant(grant(srv, c, scope="viewer"), "viewer", 3600))
    other = check_grant(grant(srv, STATE["marketer"]), "marketer", 3600)
    for t in tokens:
        expect(srv.get("/v1/campaigns", token=t), 200)
    d = expect(srv.request("DELETE", "/v1/oauth/clients/" + c["client_id"]), 200)
    assert d["deleted_at"] is not None and d["tokens_revoked"] == 3, d
    for t in tokens:
        expect_error(srv.get("/v1/campaigns", token=t), 401, "unauthorized")
    expect(srv.get("/v1/campaigns", token=other), 200)  # another client's token is untouched
    oauth_error(grant(srv, c), 401, "invalid_client")
    expect_error(srv.request("DELETE", "/v1/oauth/clients/" + c["client_id"]), 409, "conflict")
    assert expect(srv.get("/v1/oauth/clients/" + c["client_id"]), 200)["deleted_at"] == d["deleted_at"]
    expect_error(srv.request("DELETE", "/v1/oauth/clients/ocl_nothing"), 404, "not_found")
