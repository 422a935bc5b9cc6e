"""Templates: saved only when every {{variable}} is known and well formed
(the 400 names the field and the variable), rendered by preview with the
customer's locale and time zone, HTML-escaped in HTML bodies only."""

from harness import expect, show, uniq

GOOD = {"name": "reminder",
        "subject": "{{customer.name}}, your code {{code}}",
        "body_text": "Hi {{customer.name}},\n\n{{code}} takes {{discount}} off {{cart.items.0.name}} "
                     "until {{expires_at}}.\n",
        "body_html": "<p>Hi {{customer.name}}</p><p>{{code}}: {{discount}} off {{cart.items.0.name}} "
                     "(x{{cart.items.0.quantity}} at {{cart.items.0.price}})</p>"}


def create(srv, **over):
    b = dict(GOOD)
    b.update(over)
    return expect(srv.post("/v1/templates", b), 201)


def bad(r, *words):
    assert r.status == 400 and r.err_code == "bad_request", show(r)
    for w in words:
        assert w in r.err_message, "expected %r in the message: %s" % (w, show(r))


def test_a_template_is_stored_with_the_variables_it_uses(srv):
    t = create(srv)
    assert t["id"].startswith("tpl_") and t["name"] == "reminder", t
    assert t["body_text"] == GOOD["body_text"], t
    assert t["variables"] == ["customer.name", "code", "discount", "cart.items.0.name", "expires_at",
                              "cart.items.0.quantity", "cart.items.0.price"], t["variables"]
    g = expect(srv.get("/v1/templates/" + t["id"]), 200)
    assert g == t, (g, t)
    ids = [x["id"] for x in expect(srv.get("/v1/templates?limit=1000"), 200)["data"]]
    assert t["id"] in ids


def test_an_unknown_variable_is_refused_at_save_time_naming_field_and_variable(srv):
    bad(srv.post("/v1/templates", dict(GOOD, body_html="<p>{{customer.nmae}}</p>")), "body_html",
        "{{customer.nmae}}")
    bad(srv.post("/v1/templates", dict(GOOD, subject="Hi {{first_name}}")), "subject", "{{first_name}}")
    bad(srv.post("/v1/templates", dict(GOOD, body_text="{{cart.items.0.colour}}")), "body_text",
        "{{cart.items.0.colour}}")


def test_bad_syntax_is_refused_with_the_field_and_position(srv):
    bad(srv.post("/v1/templates", dict(GOOD, body_text="Hello {{customer.name")), "body_text", "unclosed {{",
        "character 7")
    bad(srv.post("/v1/templates", dict(GOOD, body_html="{{ code ! }}")), "body_html", "not a variable name")
    bad(srv.post("/v1/templates", dict(GOOD, subject="{{}}")), "subject", "empty")


def test_other_mistakes_name_their_field(srv):
    b = dict(GOOD)
    del b["name"]
    bad(srv.post("/v1/templates", b), "name")
    bad(srv.post("/v1/templates", {"name": "x", "subject": "s"}), "body_text or body_html")
    bad(srv.post("/v1/templates", dict(GOOD, colour="red")), "colour")
    bad(srv.post("/v1/templates", dict(GOOD, subject="a\nb")), "subject", "control character")
    bad(srv.post("/v1/templates", dict(GOOD, body_text=5)), "body_text")
    bad(srv.post("/v1/templates", dict(GOOD, body_text="x\u0001")), "body_text", "control character")


def test_put_replaces_and_is_checked_the_same_way(srv):
    t = create(srv)
    r = srv.request("PUT", "/v1/templates/" + t["id"], dict(GOOD, body_html="{{customer.nmae}}"))
    bad(r, "body_html", "{{customer.nmae}}")
    assert expect(srv.get("/v1/templates/" + t["id"]), 200)["body_html"] == GOOD["body_html"], \
        "a refused PUT changed the template"
    r = expect(srv.request("PUT", "/v1/templates/" + t["id"], {"name": "n2", "body_text": "{{code}}"}), 200)
    assert r["name"] == "n2" and r["body_html"] is None and r["subject"] is None, r
    assert r["created_at"] == t["created_at"], r
    r = srv.request("PUT", "/v1/templates/tpl_nope", {"name": "n", "body_text": "x"})
    assert r.status == 404, show(r)


def test_preview_fills_formats_and_escapes(srv):
    t = create(srv)
    data = {"customer": {"name": "Kim & <Lee>", "locale": "ko-KR", "timezone": "Asia/Seoul"},
            "code": "WINTER-77", "discount": 12000, "currency": "KRW", "expires_at": "2026-12-31T16:00:00Z",
            "cart": {"items": [{"name": "Scarf", "price": 45000, "quantity": 2}]}}
    p = expect(srv.post("/v1/templates/%s/preview" % t["id"], {"data": data}), 200)
    assert p["subject"] == "Kim & <Lee>, your code WINTER-77", p
    assert p["body_text"] == ("Hi Kim & <Lee>,\n\nWINTER-77 takes 12,000원 off Scarf until 2027년 1월 1일.\n"), p
    assert p["body_html"] == ("<p>Hi Kim &amp; &lt;Lee&gt;</p><p>WINTER-77: 12,000원 off Scarf "
                              "(x2 at 45,000원)</p>"), p
    # English, another zone, a currency with cents; missing values are left empty
    data = {"customer": {"name": "Ann", "locale": "en", "timezone": "America/Los_Angeles"},
            "code": "C1", "discount": 999, "currency": "USD", "expires_at": "2027-01-01T05:00:00Z"}
    p = expect(srv.post("/v1/templates/%s/preview" % t["id"], {"data": data}), 200)
    assert p["body_text"] == "Hi Ann,\n\nC1 takes $9.99 off  until December 31, 2026.\n", p


def test_preview_without_data_uses_the_sample_customer(srv):
    t = create(srv)
    p = expect(srv.post("/v1/templates/%s/preview" % t["id"]), 200)
    assert p["subject"] == "Kim Minji, your code SAMPLE-1234", p
    assert "5,000원" in p["body_text"] and "Wool coat" in p["body_text"], p
    bad(srv.post("/v1/templates/%s/preview" % t["id"], {"data": []}), "data")
    r = srv.post("/v1/templates/tpl_nope/preview", {})
    assert r.status == 404, show(r)


def test_messages_check_their_inline_templates_and_recipient(srv):
    t = create(srv)
    bad(srv.post("/v1/messages", {"channel": "email", "body_text": "{{customer.nmae}}",
                                  "customer": {"email": "a@example.test"}}), "body_text", "{{customer.nmae}}")
    bad(srv.post("/v1/messages", {"channel": "sms", "template_id": t["id"]}), "channel")
    bad(srv.post("/v1/messages", {"channel": "email", "template_id": t["id"], "customer": {"name": "x"}}),
        "customer.email")
    bad(srv.post("/v1/messages", {"channel": "email", "template_id": t["id"],
                                  "customer": {"email": "a@b\r\nBcc: c@d"}}), "customer.email")
    bad(srv.post("/v1/messages", {"channel": "email", "template_id": "tpl_nope",
                                  "customer": {"email": "a@example.test"}}), "template_id")
    bad(srv.post("/v1/messages", {"channel": "email", "template_id": t["id"], "body_text": "x",
                                  "customer": {"email": "a@example.test"}}), "not both")
    bad(srv.post("/v1/messages", {"channel": "webhook", "body_text": "x"}), "webhook_id")
    r = srv.get("/v1/messages?state=lost")
    bad(r, "state")


def test_viewers_read_and_preview_but_cannot_change_templates(srv):
    t = create(srv)
    tok = expect(srv.post("/v1/tokens", {"name": "v" + uniq("", 4), "role": "viewer"}), 201)["secret"]
    assert srv.request("GET", "/v1/templates/" + t["id"], token=tok).status == 200
    assert srv.request("POST", "/v1/templates/%s/preview" % t["id"], {}, token=tok).status == 200
    assert srv.request("POST", "/v1/templates", GOOD, token=tok).status == 403
    assert srv.request("DELETE", "/v1/templates/" + t["id"], token=tok).status == 403
    assert srv.request("POST", "/v1/messages", {"channel": "email"}, token=tok).status == 403


def test_a_deleted_template_is_gone_and_its_events_are_logged(srv):
    t = create(srv)
    expect(srv.request("DELETE", "/v1/templates/" + t["id"]), 200)
    assert srv.get("/v1/templates/" + t["id"]).status == 404
    assert srv.request("DELETE", "/v1/templates/" + t["id"]).status == 404
    evs = expect(srv.get("/v1/events?limit=1000"), 200)["data"]
    mine = [e["type"] for e in evs if e["subject_id"] == t["id"]]
    assert mine == ["template_created", "template_deleted"], mine
