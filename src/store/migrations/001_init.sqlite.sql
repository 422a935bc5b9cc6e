-- 001: the coupon engine, SQLite flavour. Kept close to portable SQL so the
-- PostgreSQL backend's 001 differs only in sequences and types: times are
-- Unix seconds, money int64 minor units, JSON stored as text. `seq` is the
-- rowid: list order and cursor.

CREATE TABLE campaigns (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    currency           TEXT NOT NULL,
    discount_type      TEXT NOT NULL,
    discount_amount    BIGINT,
    percent_bp         BIGINT,
    max_amount         BIGINT,
    points             BIGINT,
    starts_at          BIGINT,
    ends_at            BIGINT,
    timezone           TEXT,
    max_redemptions    BIGINT,
    per_customer       BIGINT,
    max_discount_total BIGINT,
    max_issued         BIGINT,
    min_order_amount   BIGINT NOT NULL DEFAULT 0,
    categories         TEXT NOT NULL DEFAULT '[]',
    exclude_categories TEXT NOT NULL DEFAULT '[]',
    segments           TEXT NOT NULL DEFAULT '[]',
    first_order_only   BIGINT NOT NULL DEFAULT 0,
    code_validity_days BIGINT,
    metadata           TEXT NOT NULL DEFAULT '{}',
    state              BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    -- counters kept in the same transaction as the change they count
    issued             BIGINT NOT NULL DEFAULT 0,       -- codes in the campaign
    redeemed           BIGINT NOT NULL DEFAULT 0,       -- standing redemptions
    rolled_back        BIGINT NOT NULL DEFAULT 0,
    discount_total     BIGINT NOT NULL DEFAULT 0,       -- money (points campaigns: points)
    revenue            BIGINT NOT NULL DEFAULT 0,       -- order amounts after discount
    held               BIGINT NOT NULL DEFAULT 0,       -- live reservations
    held_discount      BIGINT NOT NULL DEFAULT 0
);

-- A rowid table: codes are appended in the order they are made, so bulk
-- generation writes table and per-campaign index pages sequentially; only
-- the unique key index takes random inserts (small entries, few pages).
CREATE TABLE codes (
    seq         INTEGER PRIMARY KEY,
    code_key    TEXT NOT NULL UNIQUE,                   -- normalised: upper case, no spaces or dashes
    code        TEXT NOT NULL,                          -- as shown
    campaign_id TEXT NOT NULL,
    customer_id TEXT,
    channel     TEXT,
    max_uses    BIGINT,                                 -- NULL: unlimited
    uses        BIGINT NOT NULL DEFAULT 0,              -- standing redemptions
    held        BIGINT NOT NULL DEFAULT 0,              -- live reservations
    disabled    BIGINT NOT NULL DEFAULT 0,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT,
    pooled      BIGINT NOT NULL DEFAULT 0               -- generated, not yet given to a customer
);
CREATE INDEX codes_by_campaign ON codes(campaign_id);   -- (campaign_id, seq): list order
CREATE INDEX codes_by_customer ON codes(customer_id, campaign_id) WHERE customer_id IS NOT NULL;

-- Each (pattern, charset) shape with the number of codes made from it, for
-- the keyspace guard (more than 1 valid code per 10^6 strings is refused).
CREATE TABLE code_shapes (
    pattern TEXT NOT NULL,
    charset TEXT NOT NULL,
    total   BIGINT NOT NULL,
    PRIMARY KEY (pattern, charset)
) WITHOUT ROWID;

CREATE TABLE customer_usage (
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    uses        BIGINT NOT NULL DEFAULT 0,
    held        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, customer_id)
);

CREATE TABLE redemptions (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    code_key        TEXT NOT NULL,
    code            TEXT NOT NULL,
    campaign_id     TEXT NOT NULL,
    customer_id     TEXT,
    order_id        TEXT NOT NULL,
    order_amount    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    discount_type   TEXT NOT NULL,
    discount        BIGINT NOT NULL,
    points          BIGINT NOT NULL,
    status          TEXT NOT NULL,                      -- succeeded | rolled_back
    reservation_id  TEXT,
    created_at      BIGINT NOT NULL,
    rolled_back_at  BIGINT,
    rollback_reason TEXT
);
-- A code is used at most once per order: the replay key of API.md.
CREATE UNIQUE INDEX redemptions_standing ON redemptions(code_key, order_id) WHERE status = 'succeeded';
CREATE INDEX redemptions_by_campaign ON redemptions(campaign_id, seq);
CREATE INDEX redemptions_by_customer ON redemptions(customer_id, seq);

-- The first answer to each Idempotency-Key: a redemption, or a refusal
-- reason (a key's answer is final, whatever it was).
CREATE TABLE idempotency_keys (
    idem_key      TEXT PRIMARY KEY,
    request_hash  TEXT NOT NULL,
    redemption_id TEXT,
    refusal       TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE reservations (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    code_key      TEXT NOT NULL,
    code          TEXT NOT NULL,
    campaign_id   TEXT NOT NULL,
    customer_id   TEXT,
    order_id      TEXT NOT NULL,
    order_amount  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    discount_type TEXT NOT NULL,
    discount      BIGINT NOT NULL,
    points        BIGINT NOT NULL,
    state         TEXT NOT NULL,                        -- held | confirmed | released | expired
    expires_at    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    redemption_id TEXT
);
CREATE UNIQUE INDEX reservations_held ON reservations(code_key, order_id) WHERE state = 'held';
CREATE INDEX reservations_expiry ON reservations(state, expires_at);

-- The append-only log of everything: written in the transaction of the
-- change it records (the outbox the delivery jobs read).
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL,                          -- evt_…; seq is the key (no index to maintain)
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    campaign_id TEXT,
    code_key    TEXT,
    customer_id TEXT,
    order_id    TEXT,
    subject_id  TEXT,
    reason      TEXT,
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_campaign ON events(campaign_id, seq);
CREATE INDEX events_by_type ON events(type, seq);

CREATE TABLE validation_counts (
    campaign_id TEXT NOT NULL,                          -- '' when the code was not found
    reason      TEXT NOT NULL,                          -- 'ok' or a refusal reason
    n           BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, reason)
);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    campaign_id TEXT,
    status      TEXT NOT NULL,                          -- running | done | failed
    done        BIGINT NOT NULL DEFAULT 0,
    total       BIGINT NOT NULL,
    params      TEXT NOT NULL DEFAULT '{}',
    error       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,                   -- BLAKE2b-256 hex; the secret is never stored
    role       TEXT NOT NULL,
    name       TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

-- Generated codes not yet given to anyone: where /issue takes from.
CREATE INDEX codes_pool ON codes(campaign_id) WHERE pooled = 1;
