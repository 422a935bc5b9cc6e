-- 006 on PostgreSQL: templates, webhook subscriptions and the
-- transactional outbox; the tables of 006_outbox.sqlite.sql with
-- PostgreSQL's types (`seq` an identity column, JSON kept as text). Times
-- of the outbox are Unix milliseconds, the rest Unix seconds.

CREATE TABLE templates (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    subject    TEXT,
    body_text  TEXT,
    body_html  TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE webhooks (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,                          -- JSON array of event types, or ["*"]
    secret      TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE TABLE messages (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL,                      -- queued | sending | sent | dead
    recipient       TEXT NOT NULL,
    recipient_name  TEXT,
    webhook_id      TEXT,
    event_id        TEXT,
    event_type      TEXT,
    template_id     TEXT,
    customer_id     TEXT,
    subject         TEXT,
    body_text       TEXT,
    body_html       TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    retry_base      BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,                    -- ms; while sending: when the claim lapses
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX messages_due ON messages(next_attempt_at) WHERE state IN ('queued', 'sending');
CREATE INDEX messages_by_state ON messages(state, seq);

CREATE TABLE message_attempts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  TEXT NOT NULL,
    n           BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    ok          BIGINT NOT NULL,
    status      BIGINT,
    error       TEXT
);
CREATE INDEX message_attempts_by_message ON message_attempts(message_id, seq);
