-- bench/pg/redeem_narrow.sql — redeem.sql without the customer facts
-- (the customers row and the customer_orders insert that promo makes when
-- a redemption names a customer): lock a random code of a random campaign,
-- read its campaign and the shard totals, lock the customer's usage row,
-- take a shard with room (SKIP LOCKED), count the use in the code, the
-- customer and the shard, insert the redemption and its event. Kept as the
-- earlier, narrower baseline; bench_pg.py prints its ratio for comparison.
--   pgbench -n -M prepared -f redeem_narrow.sql -D ncamp=N -D ncodes=M -D run=R
\set c random(0, :ncamp - 1)
\set k random(1, :ncodes)
\set cust random(1, 1000)
BEGIN;
SELECT campaign_id AS cid FROM codes WHERE code_key = concat('PGB', :c::int, 'X', :k::int) FOR UPDATE \gset
SELECT id, max_redemptions, max_discount_total, per_customer, state FROM campaigns WHERE id = :cid;
SELECT coalesce(sum(redeemed + held), 0), coalesce(sum(discount_total + held_discount), 0)
  FROM campaign_shards WHERE campaign_id = :cid;
INSERT INTO customer_usage (campaign_id, customer_id) VALUES (:cid, concat('pgb-', :cust::int)) ON CONFLICT DO NOTHING;
SELECT uses + held FROM customer_usage WHERE campaign_id = :cid AND customer_id = concat('pgb-', :cust::int) FOR UPDATE;
SELECT shard AS sh FROM campaign_shards WHERE campaign_id = :cid
  AND (quota_uses IS NULL OR redeemed + held + 1 <= quota_uses)
  AND (quota_discount IS NULL OR discount_total + held_discount + 1000 <= quota_discount)
  ORDER BY shard < :k::int % 16, shard LIMIT 1 FOR UPDATE SKIP LOCKED \gset
UPDATE codes SET uses = uses + 1 WHERE code_key = concat('PGB', :c::int, 'X', :k::int);
UPDATE customer_usage SET uses = uses + 1 WHERE campaign_id = :cid AND customer_id = concat('pgb-', :cust::int);
UPDATE campaign_shards SET redeemed = redeemed + 1, discount_total = discount_total + 1000, revenue = revenue + 44000
  WHERE campaign_id = :cid AND shard = :sh;
INSERT INTO redemptions (id, code_key, code, campaign_id, customer_id, order_id, order_amount, currency,
  discount_type, discount, points, status, created_at, shard)
  VALUES (concat('rdm_pgb_', :run::text, '_', :client_id::int, '_', nextval('pgb_seq')),
          concat('PGB', :c::int, 'X', :k::int), concat('PGB', :c::int, 'X', :k::int), :cid,
          concat('pgb-', :cust::int), concat('pgb-', :run::text, '-', :client_id::int, '-', currval('pgb_seq')),
          45000, 'KRW', 'fixed', 1000, 0, 'succeeded', extract(epoch from now())::bigint, :sh);
INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, data)
  VALUES (concat('evt_pgb_', currval('pgb_seq')), 'redeemed', extract(epoch from now())::bigint, :cid,
          concat('PGB', :c::int, 'X', :k::int), concat('pgb-', :cust::int), concat('pgb-', currval('pgb_seq')),
          concat('rdm_pgb_', currval('pgb_seq')), '{"order_amount":45000,"discount":1000}');
END;
