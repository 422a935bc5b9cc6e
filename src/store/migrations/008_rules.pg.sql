-- 008 on PostgreSQL: automation rules, campaigns' expiry reminders and
-- cancellable scheduled steps (as 008_rules.sqlite.sql; docs/automation.md).

CREATE TABLE rules (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    enabled         BIGINT NOT NULL DEFAULT 1,
    trigger_event   TEXT,
    trigger_segment TEXT,
    cancel_event    TEXT,
    body            TEXT NOT NULL,
    deleted         BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX rules_by_event ON rules(trigger_event) WHERE deleted = 0;
CREATE INDEX rules_by_segment ON rules(trigger_segment) WHERE deleted = 0;
CREATE INDEX rules_by_cancel ON rules(cancel_event) WHERE deleted = 0;

CREATE TABLE campaign_reminders (
    campaign_id TEXT PRIMARY KEY,
    offsets     TEXT NOT NULL,
    template_id TEXT NOT NULL,
    channel     TEXT NOT NULL,
    webhook_id  TEXT,
    updated_at  BIGINT NOT NULL
);

ALTER TABLE tasks ADD COLUMN cancel_key TEXT;
CREATE INDEX tasks_by_cancel ON tasks(cancel_key) WHERE cancel_key IS NOT NULL;
