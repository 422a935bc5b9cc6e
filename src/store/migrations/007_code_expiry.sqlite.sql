-- 007: finding codes by expiry time, for the scheduler's codes_expire sweep.
CREATE INDEX codes_by_expiry ON codes(expires_at, seq) WHERE expires_at IS NOT NULL;
