-- 005 on PostgreSQL: customers, their facts and segments, ingested events,
-- the scheduler's tasks and early access for campaigns; the tables of
-- 005_customers.sqlite.sql with PostgreSQL's types (JSON stays text, `seq`
-- an identity column). The tasks table is made here as on SQLite; the
-- scheduler does not use it on PostgreSQL yet (docs/scaling.md).

CREATE TABLE customers (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

CREATE TABLE customer_orders (
    customer_id TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    source      TEXT NOT NULL,
    PRIMARY KEY (customer_id, order_id)
);

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

CREATE TABLE ingested_events (
    id           TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    answer       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE tasks (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    due_at     BIGINT NOT NULL,
    key        TEXT NOT NULL UNIQUE,
    payload    TEXT NOT NULL DEFAULT '{}',
    state      TEXT NOT NULL DEFAULT 'pending',
    attempts   BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    done_at    BIGINT
);
CREATE INDEX tasks_due ON tasks(state, due_at);

ALTER TABLE campaigns ADD COLUMN early_segment TEXT;
ALTER TABLE campaigns ADD COLUMN early_starts_at BIGINT;
