"""Features a store does not have yet: on PostgreSQL the customers,
segments, tasks, templates, webhooks, messages, rules and reminders routes
answer 503 `unavailable` saying so (never a crash, never a silent
success), each missing store function is logged once, and the scheduler
and delivery threads are not started (one log line each). On SQLite the
same calls succeed."""

from harness import campaign_body, create_campaign, expect, on_pg, show, uniq

# One call per missing store family, with a body the SQLite store accepts.
CALLS = [
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


def test_each_missing_family_answers_503_on_postgresql_and_works_on_sqlite(srv):
    for method, path, body in CALLS:
        r = srv.request(method, path, body)
        if on_pg():
            assert r.status == 503 and r.err_code == "unavailable", show(r)
            assert "not yet available on the PostgreSQL store" in r.err_message, show(r)
        else:
            assert r.status in (200, 201), show(r)


def test_reminders_of_a_campaign_answer_503_on_postgresql(srv):
    cid = create_campaign(srv, name=uniq("feat"))["id"]
    r = srv.get("/v1/campaigns/%s/reminders" % cid)
    if on_pg():
        assert r.status == 503 and "PostgreSQL" in r.err_message, show(r)
    else:
        assert r.status in (200, 404), show(r)


def test_a_missing_function_is_logged_once_and_nothing_polls_it(srv):
    for _ in range(3):
        srv.get("/v1/customers")
    log = srv.stderr_all()
    missing = log.count("store_customer_list is not yet available on the PostgreSQL store")
    assert missing == (1 if on_pg() else 0), log[-3000:]
    # The scheduler and the delivery workers would call these in a loop.
    for fn in ("store_tasks_due", "store_task_next_due", "store_outbox_next_due", "store_outbox_claim"):
        assert fn not in log, (fn, log[-3000:])
    off = ("the scheduler is off" in log, "message delivery is off" in log)
    assert off == ((True, True) if on_pg() else (False, False)), log[-3000:]
    expect(srv.get("/healthz"), 200)


def test_early_access_is_refused_on_postgresql_not_dropped(srv):
    body = campaign_body(starts_at="2099-01-10T00:00:00Z",
                         early_access={"segment": "vip", "starts_at": "2099-01-01T00:00:00Z"})
    r = srv.post("/v1/campaigns", body)
    if on_pg():
        assert r.status == 503 and "PostgreSQL" in r.err_message, show(r)
        plain = create_campaign(srv, starts_at=body["starts_at"])
        r = srv.patch("/v1/campaigns/" + plain["id"], {"early_access": body["early_access"]})
        assert r.status == 503 and "PostgreSQL" in r.err_message, show(r)
        assert expect(srv.get("/v1/campaigns/" + plain["id"]), 200)["early_access"] is None
    else:
        assert expect(r, 201)["early_access"]["segment"] == "vip", show(r)
