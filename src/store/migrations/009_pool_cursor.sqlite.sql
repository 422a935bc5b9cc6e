-- 009: the pool of generated codes without an index of its own. Every
-- generated code used to enter two indexes on campaign_id (codes_by_campaign
-- and the partial codes_pool); the second cost ~20% of the CPU of a
-- 1,000,000-code generation. Codes are taken from the pool in creation
-- order instead, from a per-campaign cursor over codes_by_campaign (whose
-- entries are (campaign_id, seq)): pooled codes only ever leave the pool,
-- and new ones get higher seq, so nothing behind the cursor comes back.
DROP INDEX codes_pool;
ALTER TABLE campaigns ADD COLUMN pool_after BIGINT NOT NULL DEFAULT 0;
