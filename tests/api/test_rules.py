"""Automation rules (/v1/rules): cart-abandonment reminders at 24/48/72 h,
each with a fresh valid code, read from a real SMTP server; a purchase of
the cart cancels the reminders still pending; server restarts in between
change nothing; bad rules are refused at save time naming the field."""

import json
import time

import harness
from automation_util import (DAY, HOUR, Clock, code_in, customer, event, mails_to, settle, setup_server, template,
                             text_of, wait_mails)
from harness import create_campaign, expect, expect_error, uniq
from test_delivery import RECEIVER, received, start_receiver, url


def setup(srv):
    setup_server(srv)


def tasks(srv, kind, state=None):
    q = "/v1/tasks?limit=1000&kind=" + kind + ("&state=" + state if state else "")
    return expect(srv.get(q), 200)["data"]


def clear_rules(srv):
    """Every test starts without the rules of earlier ones (they would
    fire on the same events)."""
    for r in expect(srv.get("/v1/rules?limit=1000"), 200)["data"]:
        expect(srv.request("DELETE", "/v1/rules/" + r["id"]), 200)


def cart_rule(srv, delays=(24 * HOUR, 48 * HOUR, 72 * HOUR), **over):
    clear_rules(srv)
    cmp = create_campaign(srv)
    tpl = template(srv, "Hello {{customer.name}}, your {{cart.items.0.name}} is waiting. CODE:{{code}} .")
    body = {"name": "cart reminders", "trigger": {"event": "cart_abandoned"},
            "steps": [{"delay_seconds": d, "issue": {"campaign_id": cmp["id"]},
                       "message": {"template_id": tpl["id"], "channel": "email"}} for d in delays],
            "cancel_on": {"event": "purchase", "match": "cart_id"}}
    body.update(over)
    return expect(srv.post("/v1/rules", body), 201), cmp


def abandon(srv, cid, cart_id):
    return event(srv, "cart_abandoned", cid, cart_id=cart_id,
                 items=[{"name": "Wool coat", "price": 129000, "quantity": 1}], total=129000)


def check_mail(srv, m, name, cid, cmp_id):
    """The e-mail names the customer and carries a code of the campaign
    that the API says is valid for this customer."""
    text = text_of(m)
    assert ("Hello %s, your Wool coat is waiting." % name) in text, text
    assert str(m["Subject"]) == "Hi " + name, m["Subject"]
    code = code_in(text)
    r = harness.validate(srv, code, customer_id=cid)
    assert r.status == 200 and r.json["valid"] is True, harness.show(r)
    info = expect(srv.get("/v1/codes/" + code), 200)
    assert info["campaign_id"] == cmp_id and info["customer_id"] == cid, info
    return code


def test_a_cart_never_bought_gets_exactly_the_24_48_72h_reminders_each_with_a_valid_code(srv):
    clock = Clock(srv)
    rule, cmp = cart_rule(srv)
    cid, email = customer(srv, "Mina Park")
    abandon(srv, cid, "cart-1")
    assert len(tasks(srv, "rule_step", "pending")) >= 3
    clock.advance(24 * HOUR - 120)
    time.sleep(0.5 * harness.time_scale())
    assert mails_to(email) == [], "nothing before 24 h"
    clock.advance(120)
    got = wait_mails(email, 1)
    assert len(got) == 1, "the 24 h reminder"
    codes = [check_mail(srv, got[0], "Mina Park", cid, cmp["id"])]
    clock.restart()
    clock.advance(24 * HOUR)
    got = wait_mails(email, 2)
    assert len(got) == 2, "the 48 h reminder after a restart"
    codes.append(check_mail(srv, got[1], "Mina Park", cid, cmp["id"]))
    clock.restart()
    clock.advance(24 * HOUR)
    got = wait_mails(email, 3)
    assert len(got) == 3, "the 72 h reminder after a second restart"
    codes.append(check_mail(srv, got[2], "Mina Park", cid, cmp["id"]))
    clock.advance(7 * DAY)
    clock.restart()
    got = settle(email, 3)
    assert len(got) == 3, "exactly three reminders, got %d" % len(got)
    assert len(set(codes)) == 3, "each attempt carries its own code: %r" % codes
    runs = [e for e in expect(srv.get("/v1/events?limit=1000&type=rule_step_run"), 200)["data"]
            if e.get("customer_id") == cid]
    assert len(runs) == 3, runs


def test_a_cart_bought_after_30h_gets_only_the_first_reminder(srv):
    clock = Clock(srv)
    rule, cmp = cart_rule(srv)
    cid, email = customer(srv, "Jae Kim")
    other, other_email = customer(srv, "Ona Lee")
    abandon(srv, cid, "cart-7")
    abandon(srv, other, "cart-7")   # another customer's cart of the same id
    clock.advance(24 * HOUR + 60)
    got = wait_mails(email, 1)
    assert len(got) == 1, [text_of(m) for m in got]
    check_mail(srv, mails_to(email)[0], "Jae Kim", cid, cmp["id"])
    clock.advance(6 * HOUR)
    event(srv, "purchase", cid, cart_id="cart-8", order_id=uniq("o-", 8), amount=50000)  # another cart: no cancel
    event(srv, "purchase", cid, cart_id="cart-7", order_id=uniq("o-", 8), amount=129000)
    clock.restart()
    clock.advance(2 * DAY)
    clock.restart()
    clock.advance(DAY)
    assert len(wait_mails(other_email, 3)) == 3, "the other customer's reminders go on"
    got = settle(email, 1)
    assert len(got) == 1, "only the first reminder: got %d" % len(got)
    cancelled = [t for t in tasks(srv, "rule_step", "cancelled") if t["payload"].get("customer_id") == cid]
    assert len(cancelled) == 2, cancelled
    ev = [e for e in expect(srv.get("/v1/events?limit=1000&type=rule_steps_cancelled"), 200)["data"]
          if e.get("customer_id") == cid]
    assert len(ev) == 1 and ev[0]["subject_id"] == rule["id"], ev


def test_a_replayed_event_schedules_nothing_twice(srv):
    rule, _ = cart_rule(srv, delays=(HOUR,))
    cid, _ = customer(srv, "Replay")
    body = {"id": uniq("ev-", 12), "type": "cart_abandoned", "customer_id": cid, "properties": {"cart_id": "c"}}
    for _ in range(3):
        r = srv.post("/v1/events", body)
        assert r.status in (200, 201, 202), harness.show(r)
    mine = [t for t in tasks(srv, "rule_step") if t["payload"].get("rule_id") == rule["id"]]
    assert len(mine) == 1, mine


def test_conditions_choose_who_gets_the_steps(srv):
    rule, _ = cart_rule(srv, delays=(HOUR,), conditions=[{"property": "total", "op": ">=", "value": 100000}])
    small, _ = customer(srv, "Small")
    big, _ = customer(srv, "Big")
    event(srv, "cart_abandoned", small, cart_id="a", total=5000)
    event(srv, "cart_abandoned", big, cart_id="b", total=150000)
    who = {t["payload"]["customer_id"] for t in tasks(srv, "rule_step") if t["payload"].get("rule_id") == rule["id"]}
    assert who == {big}, who


def test_fact_conditions_read_the_customers_facts(srv):
    rule, _ = cart_rule(srv, delays=(HOUR,), conditions=[{"fact": "order_count", "op": ">=", "value": 1}])
    fresh, _ = customer(srv, "Fresh")
    buyer, _ = customer(srv, "Buyer")
    event(srv, "purchase", buyer, order_id=uniq("o-", 8), amount=1000)
    abandon(srv, fresh, "f")
    abandon(srv, buyer, "b")
    who = {t["payload"]["customer_id"] for t in tasks(srv, "rule_step") if t["payload"].get("rule_id") == rule["id"]}
    assert who == {buyer}, who


def test_rules_crud(srv):
    rule, cmp = cart_rule(srv)
    assert rule["id"].startswith("rul_") and rule["enabled"] is True and len(rule["steps"]) == 3, rule
    got = expect(srv.get("/v1/rules/" + rule["id"]), 200)
    assert got == rule, (got, rule)
    assert rule["id"] in [x["id"] for x in expect(srv.get("/v1/rules?limit=1000"), 200)["data"]]
    body = {k: v for k, v in rule.items() if k not in ("id", "created_at", "updated_at")}
    body["enabled"] = False
    put = expect(srv.request("PUT", "/v1/rules/" + rule["id"], body), 200)
    assert put["enabled"] is False and put["id"] == rule["id"], put
    # a disabled rule schedules nothing
    cid, _ = customer(srv, "Nobody")
    abandon(srv, cid, "x")
    assert not [t for t in tasks(srv, "rule_step") if t["payload"].get("rule_id") == rule["id"]]
    expect(srv.request("DELETE", "/v1/rules/" + rule["id"]), 200)
    expect_error(srv.get("/v1/rules/" + rule["id"]), 404)
    expect_error(srv.request("PUT", "/v1/rules/" + rule["id"], body), 404)


def test_bad_rules_are_refused_at_save_time_naming_the_field(srv):
    cmp = create_campaign(srv)
    tpl = template(srv, "CODE:{{code}}")
    good_step = {"delay_seconds": 60, "issue": {"campaign_id": cmp["id"]},
                 "message": {"template_id": tpl["id"], "channel": "email"}}

    def rule(**over):
        b = {"name": "r", "trigger": {"event": "cart_abandoned"}, "steps": [dict(good_step)]}
        b.update(over)
        return b

    def step(**over):
        s = dict(good_step)
        s.update(over)
        return [s]

    cases = [
        (rule(name=""), "name"),
        (rule(trigger={}), "trigger"),
        (rule(trigger={"event": "a", "segment_entered": "vip"}), "trigger"),
        (rule(trigger={"segment_entered": "Bad Name!"}), "trigger.segment_entered"),
        (rule(steps=[]), "steps"),
        (rule(steps=[good_step] * 11), "steps"),
        (rule(steps=step(delay_seconds=-1)), "steps[0].delay_seconds"),
        (rule(steps=step(delay_seconds="1h")), "steps[0].delay_seconds"),
        (rule(steps=[good_step, {"delay_seconds": 5}]), "steps[1]"),
        (rule(steps=step(issue={"campaign_id": "cmp_nonexistent"})), "steps[0].issue.campaign_id"),
        (rule(steps=step(message={"template_id": "tpl_nonexistent", "channel": "email"})),
         "steps[0].message.template_id"),
        (rule(steps=step(message={"template_id": tpl["id"], "channel": "sms"})), "steps[0].message.channel"),
        (rule(steps=step(message={"template_id": tpl["id"], "channel": "webhook"})),
         "steps[0].message.webhook_id"),
        (rule(steps=step(wait=3)), "steps[0].wait"),
        (rule(conditions=[{"property": "total", "op": "~", "value": 1}]), "conditions[0].op"),
        (rule(conditions=[{"property": "total", "op": ">", "value": "big"}]), "conditions[0].value"),
        (rule(conditions="all"), "conditions"),
        (rule(conditions=[{"fact": "shoe_size", "op": "=", "value": 1}]), "conditions[0].fact"),
        (rule(cancel_on={"match": "cart_id"}), "cancel_on.event"),
        (rule(colour="red"), "colour"),
    ]
    before = expect(srv.get("/v1/rules?limit=1000"), 200)["data"]
    for body, field in cases:
        expect_error(srv.post("/v1/rules", body), 400, "bad_request", field=field, what=repr(body))
    assert expect(srv.get("/v1/rules?limit=1000"), 200)["data"] == before, "nothing stored"
    ok = expect(srv.post("/v1/rules", rule()), 201)
    expect_error(srv.request("PUT", "/v1/rules/" + ok["id"], rule(steps=[])), 400, field="steps")
    assert expect(srv.get("/v1/rules/" + ok["id"]), 200) == ok, "a refused PUT changes nothing"


def test_entering_a_segment_triggers_a_rule(srv):
    clear_rules(srv)
    tpl = template(srv, "Welcome to VIP, {{customer.name}}!", subject="VIP")
    expect(srv.post("/v1/rules", {"name": "vip welcome", "trigger": {"segment_entered": "vip"},
                                  "steps": [{"message": {"template_id": tpl["id"], "channel": "email"}}]}), 201)
    cid, email = customer(srv, "Yuna Seo")
    event(srv, "purchase", cid, order_id=uniq("o-", 8), amount=400000)
    time.sleep(0.3 * harness.time_scale())
    assert mails_to(email) == [], "not VIP yet"
    event(srv, "purchase", cid, order_id=uniq("o-", 8), amount=700000)
    got = wait_mails(email, 1)
    assert len(got) == 1 and "Welcome to VIP, Yuna Seo!" in text_of(got[0]), [text_of(m) for m in got]


def test_a_refused_issue_is_recorded_and_a_message_needing_the_code_is_not_sent(srv):
    clock = Clock(srv)
    rule, cmp = cart_rule(srv, delays=(HOUR, 2 * HOUR))
    expect(srv.patch("/v1/campaigns/" + cmp["id"], {"limits": {"per_customer": 1}}), 200)
    cid, email = customer(srv, "Limit")
    abandon(srv, cid, "cart-l")
    clock.advance(HOUR + 10)
    assert len(wait_mails(email, 1)) == 1
    clock.advance(HOUR)
    runs = harness.poll(lambda: [e for e in expect(srv.get("/v1/events?limit=1000&type=rule_step_run"), 200)["data"]
                                 if e.get("customer_id") == cid and e.get("reason")])
    assert runs and runs[0]["reason"] == "customer_limit_reached", runs
    assert len(settle(email, 1)) == 1, "the second message needs {{code}}: not sent"


def test_a_step_can_send_through_a_webhook(srv):
    if not RECEIVER:
        start_receiver()
    clear_rules(srv)
    u = url("ok")
    hook = expect(srv.post("/v1/webhooks", {"url": u, "event_types": ["rule_message"]}), 201)
    cmp = create_campaign(srv)
    tpl = template(srv, "Hi {{customer.name}}, CODE:{{code}} .")
    expect(srv.post("/v1/rules", {"name": "hook", "trigger": {"event": "wishlist_price_drop"},
                                  "steps": [{"issue": {"campaign_id": cmp["id"]},
                                             "message": {"template_id": tpl["id"], "channel": "webhook",
                                                         "webhook_id": hook["id"]}}]}), 201)
    cid, _ = customer(srv, "Hook Han")
    event(srv, "wishlist_price_drop", cid, sku="S-1")
    got = harness.poll(lambda: received(u), timeout=5)
    assert got and got[0]["status"] == 200, got
    doc = json.loads(got[0]["body"])
    assert doc["type"] == "rule_message" and doc["data"]["customer"]["name"] == "Hook Han", doc
    assert doc["data"]["event"] == {"sku": "S-1"}, doc
    code = doc["data"]["code"]
    assert doc["data"]["message"]["text"] == "Hi Hook Han, CODE:%s ." % code, doc
    r = harness.validate(srv, code, customer_id=cid)
    assert r.status == 200 and r.json["valid"] is True, harness.show(r)
