-- 005: customers, their facts and segments, ingested events, the scheduler's
-- tasks, and early access for campaigns. Portable SQL: the PostgreSQL
-- backend mirrors it with its own types.

-- A customer: what a client told us (PUT /v1/customers/{id}) and facts the
-- server keeps current from events and redemptions, in the transaction of
-- the change. `computed` holds the segments the rules put the customer in
-- (a sorted JSON array), `segments` the ones set by hand.
CREATE TABLE customers (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    name           TEXT,
    email          TEXT,
    phone          TEXT,
    locale         TEXT,
    segments       TEXT NOT NULL DEFAULT '[]',
    attributes     TEXT NOT NULL DEFAULT '{}',
    computed       TEXT NOT NULL DEFAULT '[]',
    signup_at      BIGINT,
    first_order_at BIGINT,
    last_order_at  BIGINT,
    order_count    BIGINT NOT NULL DEFAULT 0,
    total_spent    BIGINT NOT NULL DEFAULT 0,
    last_seen_at   BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- Each order counted once per customer, whether a purchase event or a
-- redemption told us first: the facts are aggregates of these rows.
CREATE TABLE customer_orders (
    customer_id TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    source      TEXT NOT NULL,                      -- purchase | redemption
    PRIMARY KEY (customer_id, order_id)
);

-- Named rules over the facts (core/segment.c validates them).
CREATE TABLE segments (
    name        TEXT PRIMARY KEY,
    rule        TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
INSERT INTO segments VALUES
    ('new', '{"all":[{"fact":"has_ordered","op":"=","value":false}]}', 'no order yet', 0, 0),
    ('repeat', '{"all":[{"fact":"order_count","op":">=","value":2}]}', 'two orders or more', 0, 0),
    ('vip', '{"all":[{"fact":"spent_365d","op":">=","value":1000000}]}', 'spent 1,000,000 or more in 365 days', 0, 0),
    ('dormant', '{"all":[{"fact":"days_since_last_order","op":">=","value":90}]}', 'no order for 90 days', 0, 0);

-- Client events by their id, for idempotency: the first body's hash and
-- the answer it got.
CREATE TABLE ingested_events (
    id           TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    answer       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- The scheduler's persistent work: one row per thing to do at due_at.
-- `key` makes scheduling idempotent (the same campaign start is one task);
-- a task is claimed and completed in the transaction of its effect.
CREATE TABLE tasks (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    due_at     BIGINT NOT NULL,
    key        TEXT NOT NULL UNIQUE,
    payload    TEXT NOT NULL DEFAULT '{}',
    state      TEXT NOT NULL DEFAULT 'pending',     -- pending | done | skipped | failed
    attempts   BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    done_at    BIGINT
);
CREATE INDEX tasks_due ON tasks(state, due_at);

-- VIP early-bird windows: members of early_segment may use the campaign
-- from early_starts_at, before the public starts_at.
ALTER TABLE campaigns ADD COLUMN early_segment TEXT;
ALTER TABLE campaigns ADD COLUMN early_starts_at BIGINT;
