-- bench/pg/redeem_guest.sql — the redemption of a guest checkout (no
-- customer_id), as plain SQL in one transaction on promo's schema: lock a
-- random code of a random campaign, read its campaign and the shard totals,
-- take a shard with room (SKIP LOCKED), count the use in the code and the
-- shard, insert the redemption and its event. This is the issue's "flip
-- code + campaign counter + ledger row" with nothing of a customer's, the
-- least database work a redemption does, so promo's own overhead (HTTP,
-- JSON, the decision in C, the idempotency and replay reads) weighs most.
--   pgbench -n -M prepared -f redeem_guest.sql -D ncamp=N -D ncodes=M -D run=R
\set c random(0, :ncamp - 1)
\set k random(1, :ncodes)
BEGIN;
SELECT campaign_id AS cid FROM codes WHERE code_key = concat('PGB', :c::int, 'X', :k::int) FOR UPDATE \gset
SELECT id, max_redemptions, max_discount_total, per_customer, state FROM campaigns WHERE id = :cid;
SELECT coalesce(sum(redeemed + held), 0), coalesce(sum(discount_total + held_discount), 0)
  FROM campaign_shards WHERE campaign_id = :cid;
SELECT shard AS sh FROM campaign_shards WHERE campaign_id = :cid
  AND (quota_uses IS NULL OR redeemed + held + 1 <= quota_uses)
  AND (quota_discount IS NULL OR discount_total + held_discount + 1000 <= quota_discount)
  ORDER BY shard < :k::int % 16, shard LIMIT 1 FOR UPDATE SKIP LOCKED \gset
UPDATE codes SET uses = uses + 1 WHERE code_key = concat('PGB', :c::int, 'X', :k::int);
UPDATE campaign_shards SET redeemed = redeemed + 1, discount_total = discount_total + 1000, revenue = revenue + 44000
  WHERE campaign_id = :cid AND shard = :sh;
INSERT INTO redemptions (id, code_key, code, campaign_id, customer_id, order_id, order_amount, currency,
  discount_type, discount, points, status, created_at, shard)
  VALUES (concat('rdm_pgb_', :run::text, '_', :client_id::int, '_', nextval('pgb_seq')),
          concat('PGB', :c::int, 'X', :k::int), concat('PGB', :c::int, 'X', :k::int), :cid,
          NULL, concat('pgb-', :run::text, '-', :client_id::int, '-', currval('pgb_seq')),
          45000, 'KRW', 'fixed', 1000, 0, 'succeeded', extract(epoch from now())::bigint, :sh);
INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, data)
  VALUES (concat('evt_pgb_', currval('pgb_seq')), 'redeemed', extract(epoch from now())::bigint, :cid,
          concat('PGB', :c::int, 'X', :k::int), NULL, concat('pgb-', currval('pgb_seq')),
          concat('rdm_pgb_', currval('pgb_seq')), '{"order_amount":45000,"discount":1000}');
END;
