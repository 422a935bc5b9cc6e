-- 008: automation rules, campaigns' expiry reminders, and cancellable
-- scheduled steps (docs/automation.md).

-- A rule: the whole validated body (core/rule.c) in `body`; the columns
-- beside it are what the writer looks rules up by when an event lands.
CREATE TABLE rules (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    enabled         BIGINT NOT NULL DEFAULT 1,
    trigger_event   TEXT,                             -- an event type, or NULL
    trigger_segment TEXT,                             -- a segment entered, or NULL
    cancel_event    TEXT,                             -- cancel_on.event, or NULL
    body            TEXT NOT NULL,
    deleted         BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX rules_by_event ON rules(trigger_event) WHERE deleted = 0;
CREATE INDEX rules_by_segment ON rules(trigger_segment) WHERE deleted = 0;
CREATE INDEX rules_by_cancel ON rules(cancel_event) WHERE deleted = 0;

-- Expiry reminders of a campaign's codes: one task per offset (days before
-- the expiry) for each code issued to a customer.
CREATE TABLE campaign_reminders (
    campaign_id TEXT PRIMARY KEY,
    offsets     TEXT NOT NULL,                        -- JSON array of days, e.g. [3,1,0]
    template_id TEXT NOT NULL,
    channel     TEXT NOT NULL,                        -- email | webhook
    webhook_id  TEXT,
    updated_at  BIGINT NOT NULL
);

-- A pending rule step carries the key a later event cancels it by
-- ("rule:<rule id>:<customer>:<match value>").
ALTER TABLE tasks ADD COLUMN cancel_key TEXT;
CREATE INDEX tasks_by_cancel ON tasks(cancel_key) WHERE cancel_key IS NOT NULL;
