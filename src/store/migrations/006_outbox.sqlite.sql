-- 006: message templates, webhook subscriptions and the transactional
-- outbox. A message row is written in the same transaction as the change
-- that causes it (an event of the log, a POST /v1/messages), and the
-- delivery workers send it afterwards, outside any transaction: at least
-- once, with retries, every attempt kept. Times of the outbox are Unix
-- milliseconds (backoff runs in milliseconds); the rest Unix seconds.

CREATE TABLE templates (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,                    -- tpl_…
    name       TEXT NOT NULL,
    subject    TEXT,                                    -- e-mail subject: text, never escaped
    body_text  TEXT,                                    -- text body (and what webhooks/SMS carry)
    body_html  TEXT,                                    -- HTML body: values HTML-escaped
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT                                   -- set once; messages keep their rendered text
);

-- The secret signs deliveries, so it is kept as given (it must be
-- recoverable, unlike token hashes): see docs/security.md.
CREATE TABLE webhooks (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,                   -- whk_…
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,                          -- JSON array of event types, or ["*"]
    secret      TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,               -- msg_…: also X-Promo-Delivery
    channel         TEXT NOT NULL,                      -- email | webhook
    state           TEXT NOT NULL,                      -- queued | sending | sent | dead
    recipient       TEXT NOT NULL,                      -- e-mail address or webhook URL
    recipient_name  TEXT,                               -- e-mail: the To: display name
    webhook_id      TEXT,
    event_id        TEXT,                               -- the event a webhook delivery carries
    event_type      TEXT,
    template_id     TEXT,
    customer_id     TEXT,
    subject         TEXT,
    body_text       TEXT,                               -- e-mail text, or the webhook's JSON body
    body_html       TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,          -- every attempt ever made
    retry_base      BIGINT NOT NULL DEFAULT 0,          -- attempts before the last manual retry
    next_attempt_at BIGINT NOT NULL,                    -- ms; while sending: when the claim lapses
    last_error      TEXT,
    created_at      BIGINT NOT NULL,                    -- ms
    sent_at         BIGINT                              -- ms
);
-- The workers' question "what is due?" reads only this index.
CREATE INDEX messages_due ON messages(next_attempt_at) WHERE state IN ('queued', 'sending');
CREATE INDEX messages_by_state ON messages(state, seq);

CREATE TABLE message_attempts (
    seq         INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL,
    n           BIGINT NOT NULL,                        -- 1-based, per message
    started_at  BIGINT NOT NULL,                        -- ms
    duration_ms BIGINT NOT NULL,
    ok          BIGINT NOT NULL,
    status      BIGINT,                                 -- HTTP status, or SMTP reply code
    error       TEXT
);
CREATE INDEX message_attempts_by_message ON message_attempts(message_id, seq);
