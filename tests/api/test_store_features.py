"""Every feature family answers on both stores: the PostgreSQL store has
them all now (customers, events, segments, tasks, templates, webhooks,
messages and their delivery, rules and reminders), so no route answers
503 "not yet available on the PostgreSQL store", nothing logs that, and
the delivery workers and the scheduler run on both."""

from harness import campaign_body, create_campaign, expect, show, uniq

# One call per store family; each answers on both stores.
FAMILIES = [
    ("GET", "/v1/customers", None),
    ("PUT", "/v1/customers/c-feat", {"name": "Kim"}),
    ("POST", "/v1/events", {"id": "ev-feat", "type": "signup", "customer_id": "c-feat"}),
    ("GET", "/v1/segments", None),
    ("GET", "/v1/tasks", None),
    ("GET", "/v1/templates", None),
    ("GET", "/v1/webhooks", None),
    ("GET", "/v1/messages", None),
    ("GET", "/v1/rules", None),
]


def test_every_family_answers_on_both_stores(srv):
    for method, path, body in FAMILIES:
        r = srv.request(method, path, body)
        assert r.status in (200, 201), show(r)


def test_reminders_of_a_campaign_answer_on_both_stores(srv):
    cid = create_campaign(srv, name=uniq("feat"))["id"]
    r = srv.get("/v1/campaigns/%s/reminders" % cid)
    assert r.status == 404 and r.err_code == "not_found", show(r)


def test_nothing_is_missing_and_the_background_workers_run(srv):
    srv.get("/v1/rules")
    log = srv.stderr_all()
    assert "is not yet available on the PostgreSQL store" not in log, log[-3000:]
    assert "message delivery is off" not in log, log[-3000:]
    assert "the scheduler is off" not in log, log[-3000:]
    expect(srv.get("/healthz"), 200)


def test_early_access_is_stored_on_both_stores(srv):
    early = {"segment": "vip", "starts_at": "2099-01-01T00:00:00Z"}
    c = expect(srv.post("/v1/campaigns", campaign_body(starts_at="2099-01-10T00:00:00Z", early_access=early)), 201)
    assert c["early_access"] == early, c
    plain = create_campaign(srv, starts_at="2099-01-10T00:00:00Z")
    assert expect(srv.patch("/v1/campaigns/" + plain["id"], {"early_access": early}), 200)["early_access"] == early
    assert expect(srv.get("/v1/campaigns/" + plain["id"]), 200)["early_access"] == early
    assert expect(srv.patch("/v1/campaigns/" + plain["id"], {"early_access": None}), 200)["early_access"] is None
