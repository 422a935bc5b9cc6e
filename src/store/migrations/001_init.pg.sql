-- 001: the coupon engine, PostgreSQL flavour of 001_init.sqlite.sql: the
-- same tables and columns (times Unix seconds, money int64 minor units,
-- JSON as text), `seq` an identity column instead of the rowid, plus the
-- campaign counter shards (see docs/scaling.md): the campaign-wide counters
-- live in CAMPAIGN_SHARDS rows per campaign instead of on the campaign row,
-- so concurrent redemptions of one campaign do not queue on one row lock.

CREATE TABLE campaigns (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    issued             BIGINT NOT NULL DEFAULT 0        -- codes in the campaign (changed under the row lock)
);

-- The campaign-wide counters, split over a few rows per campaign. A use
-- adds to one shard; totals are the sums. When the campaign has a limit,
-- each shard owns a slice of it (quota_uses, quota_discount; NULL:
-- unlimited) and a use goes only into a shard with room for it, checked by
-- a conditional UPDATE under that shard's row lock; the slices add up to at
-- most the limit, so the limit holds exactly. When no shard has room the
-- store locks every shard of the campaign and re-slices what is left.
CREATE TABLE campaign_shards (
    campaign_id    TEXT NOT NULL,
    shard          INT NOT NULL,
    redeemed       BIGINT NOT NULL DEFAULT 0,
    rolled_back    BIGINT NOT NULL DEFAULT 0,
    discount_total BIGINT NOT NULL DEFAULT 0,
    revenue        BIGINT NOT NULL DEFAULT 0,
    held           BIGINT NOT NULL DEFAULT 0,
    held_discount  BIGINT NOT NULL DEFAULT 0,
    quota_uses     BIGINT,
    quota_discount BIGINT,
    PRIMARY KEY (campaign_id, shard)
);

CREATE TABLE codes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_key    TEXT NOT NULL UNIQUE,
    code        TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    customer_id TEXT,
    channel     TEXT,
    max_uses    BIGINT,
    uses        BIGINT NOT NULL DEFAULT 0,
    held        BIGINT NOT NULL DEFAULT 0,
    disabled    BIGINT NOT NULL DEFAULT 0,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT,
    pooled      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX codes_by_campaign ON codes(campaign_id, seq);
CREATE INDEX codes_by_customer ON codes(customer_id, campaign_id) WHERE customer_id IS NOT NULL;
CREATE INDEX codes_pool ON codes(campaign_id) WHERE pooled = 1;

CREATE TABLE code_shapes (
    pattern TEXT NOT NULL,
    charset TEXT NOT NULL,
    total   BIGINT NOT NULL,
    PRIMARY KEY (pattern, charset)
);

CREATE TABLE customer_usage (
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    uses        BIGINT NOT NULL DEFAULT 0,
    held        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, customer_id)
);

CREATE TABLE redemptions (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    status          TEXT NOT NULL,
    reservation_id  TEXT,
    created_at      BIGINT NOT NULL,
    rolled_back_at  BIGINT,
    rollback_reason TEXT,
    shard           INT NOT NULL DEFAULT 0              -- the campaign shard its use was counted in
);
CREATE UNIQUE INDEX redemptions_standing ON redemptions(code_key, order_id) WHERE status = 'succeeded';
CREATE INDEX redemptions_by_campaign ON redemptions(campaign_id, seq);
CREATE INDEX redemptions_by_customer ON redemptions(customer_id, seq);

CREATE TABLE idempotency_keys (
    idem_key      TEXT PRIMARY KEY,
    request_hash  TEXT NOT NULL,
    redemption_id TEXT,
    refusal       TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE reservations (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    state         TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    redemption_id TEXT,
    shard         INT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX reservations_held ON reservations(code_key, order_id) WHERE state = 'held';
CREATE INDEX reservations_expiry ON reservations(state, expires_at);

CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL,
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
    campaign_id TEXT NOT NULL,
    reason      TEXT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, reason)
);

CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    campaign_id TEXT,
    status      TEXT NOT NULL,
    done        BIGINT NOT NULL DEFAULT 0,
    total       BIGINT NOT NULL,
    params      TEXT NOT NULL DEFAULT '{}',
    error       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    name        TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
