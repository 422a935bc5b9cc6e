-- 007 on PostgreSQL: finding codes by expiry time, for the scheduler's
-- codes_expire sweep (as 007_code_expiry.sqlite.sql).
CREATE INDEX codes_by_expiry ON codes(expires_at, seq) WHERE expires_at IS NOT NULL;
