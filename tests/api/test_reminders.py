"""Expiry reminders (/v1/campaigns/{id}/reminders): a code issued on day 0
with 7-day validity gets its D-3, D-1 and D-day e-mails (read from a real
SMTP server) while unused, across server restarts; redeemed on day 5, the
D-1 and D-day reminders are not sent; bad settings are refused naming the
field."""

import time

import harness
from automation_util import (DAY, HOUR, Clock, code_in, customer, mails_to, settle, setup_server, template, text_of,
                             wait_mails)
from harness import create_campaign, expect, expect_error, uniq

LEAD = 6 * HOUR  # reminders are due 6 h before their day boundary (docs/automation.md)


def setup(srv):
    setup_server(srv)


def reminding_campaign(srv, offsets=(3, 1, 0)):
    cmp = create_campaign(srv, code_validity_days=7)
    tpl = template(srv, "Dear {{customer.name}}, CODE:{{code}} ends on {{expires_at}}.",
                   subject="{{customer.name}}, your code ends soon")
    r = expect(srv.request("PUT", "/v1/campaigns/%s/reminders" % cmp["id"],
                           {"expiry_offsets_days": list(offsets), "template_id": tpl["id"], "channel": "email"}), 200)
    assert r["expiry_offsets_days"] == list(offsets) and r["template_id"] == tpl["id"], r
    assert expect(srv.get("/v1/campaigns/%s/reminders" % cmp["id"]), 200) == r
    return cmp


def issue(srv, cmp_id, cid):
    return expect(srv.post("/v1/campaigns/%s/issue" % cmp_id, {"customer_id": cid}), 201)


def reminder_tasks(srv, code):
    ts = expect(srv.get("/v1/tasks?limit=1000&kind=expiry_reminder"), 200)["data"]
    return sorted((t for t in ts if t["payload"]["code"] == code.replace("-", "").upper()),
                  key=lambda t: -t["payload"]["offset_days"])


def check(srv, m, name, code, cid):
    text = text_of(m)
    assert ("Dear %s," % name) in text and str(m["Subject"]) == name + ", your code ends soon", text
    assert code_in(text) == code, (text, code)
    r = harness.validate(srv, code, customer_id=cid)
    assert r.status == 200 and r.json["valid"] is True, harness.show(r)


def test_an_unused_code_gets_its_d3_d1_and_dday_reminders(srv):
    clock = Clock(srv)
    cmp = reminding_campaign(srv)
    cid, email = customer(srv, "Sora Choi")
    code = issue(srv, cmp["id"], cid)["code"]
    assert len(reminder_tasks(srv, code)) == 3
    clock.advance(4 * DAY - LEAD - 60)
    time.sleep(0.5 * harness.time_scale())
    assert mails_to(email) == [], "nothing before D-3"
    clock.advance(120)
    got = wait_mails(email, 1)
    assert len(got) == 1, "D-3"
    check(srv, got[0], "Sora Choi", code, cid)
    clock.restart()
    clock.advance(2 * DAY)
    got = wait_mails(email, 2)
    assert len(got) == 2, "D-1 after a restart"
    check(srv, got[1], "Sora Choi", code, cid)
    clock.restart()
    clock.advance(DAY)
    got = wait_mails(email, 3)
    assert len(got) == 3, "D-day after a second restart"
    check(srv, got[2], "Sora Choi", code, cid)
    clock.advance(5 * DAY)
    assert len(settle(email, 3)) == 3, "exactly three reminders"
    assert [t["state"] for t in reminder_tasks(srv, code)] == ["done", "done", "done"]


def test_a_code_redeemed_on_day_5_gets_no_d1_or_dday_reminder(srv):
    clock = Clock(srv)
    cmp = reminding_campaign(srv)
    cid, email = customer(srv, "Hana Yoon")
    code = issue(srv, cmp["id"], cid)["code"]
    clock.advance(4 * DAY)
    got = wait_mails(email, 1)
    assert len(got) == 1, "D-3 while unused"
    check(srv, got[0], "Hana Yoon", code, cid)
    clock.advance(DAY)
    r = harness.redeem(srv, code, customer_id=cid, oid=uniq("o-", 8))
    assert r.status in (200, 201), harness.show(r)
    clock.restart()
    clock.advance(3 * DAY)
    assert len(settle(email, 1)) == 1, "no reminder after the code was used"
    assert [t["state"] for t in reminder_tasks(srv, code)] == ["done", "skipped", "skipped"]


def test_a_disabled_code_and_a_campaign_without_reminders_get_none(srv):
    clock = Clock(srv)
    cmp = reminding_campaign(srv)
    plain = create_campaign(srv, code_validity_days=7)
    cid, email = customer(srv, "Quiet")
    code = issue(srv, cmp["id"], cid)["code"]
    other = issue(srv, plain["id"], cid)["code"]
    assert reminder_tasks(srv, other) == []
    expect(srv.post("/v1/codes/%s/disable" % code), 200)
    clock.advance(8 * DAY)
    assert settle(email, 0) == []
    assert [t["state"] for t in reminder_tasks(srv, code)] == ["skipped"] * 3


def test_a_short_lived_code_gets_only_the_reminders_still_ahead(srv):
    cmp = create_campaign(srv, code_validity_days=2)
    tpl = template(srv, "CODE:{{code}}")
    expect(srv.request("PUT", "/v1/campaigns/%s/reminders" % cmp["id"],
                       {"expiry_offsets_days": [3, 1, 0], "template_id": tpl["id"], "channel": "email"}), 200)
    cid, _ = customer(srv, "Short")
    code = issue(srv, cmp["id"], cid)["code"]
    assert [t["payload"]["offset_days"] for t in reminder_tasks(srv, code)] == [1, 0]


def test_bad_reminder_settings_are_refused_naming_the_field(srv):
    cmp = create_campaign(srv)
    tpl = template(srv, "CODE:{{code}}")
    url = "/v1/campaigns/%s/reminders" % cmp["id"]
    good = {"expiry_offsets_days": [3, 1, 0], "template_id": tpl["id"], "channel": "email"}
    cases = [
        (dict(good, expiry_offsets_days=[]), "expiry_offsets_days"),
        (dict(good, expiry_offsets_days=[3, -1]), "expiry_offsets_days[1]"),
        (dict(good, expiry_offsets_days=[1, 1]), "expiry_offsets_days[1]"),
        (dict(good, expiry_offsets_days="3,1,0"), "expiry_offsets_days"),
        (dict(good, template_id="tpl_nonexistent"), "template_id"),
        (dict(good, channel="sms"), "channel"),
        (dict(good, channel="webhook"), "webhook_id"),
        (dict(good, colour="red"), "colour"),
    ]
    for body, field in cases:
        expect_error(srv.request("PUT", url, body), 400, "bad_request", field=field, what=repr(body))
    expect_error(srv.get(url), 404)
    expect_error(srv.request("PUT", "/v1/campaigns/cmp_none/reminders", good), 404)
    expect(srv.request("PUT", url, good), 200)
    expect(srv.request("DELETE", url), 200)
    expect_error(srv.get(url), 404)
