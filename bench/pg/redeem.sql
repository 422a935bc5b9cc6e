-- bench/pg/redeem.sql — pgbench's custom script: the same full redemption
-- promo makes (src/store/pg_redeem.c), as plain SQL in one transaction, on
-- promo's own schema and data: lock a random code of a random campaign,
-- read its campaign and the shard totals, lock the customer's usage row and
-- read the customer's facts (their row, what they spent in 365 days,
-- whether the order is already theirs), take a shard with room (SKIP
-- LOCKED), count the use in code, customer and shard, insert the
-- redemption and its event, then record the order as the customer's (their
-- row's order count and total, and the order row), in promo's lock order
-- (code, usage, shard, customer). What it leaves out is what promo adds on
-- top: HTTP, JSON, the decision and the segments in C, the idempotency and
-- replay checks, the first-order events and the audit row.
-- redeem_narrow.sql is the same without the customer's facts and order.
--   pgbench -n -M prepared -f redeem.sql -D ncamp=N -D ncodes=M -D run=R
\set c random(0, :ncamp - 1)
\set k random(1, :ncodes)
\set cust random(1, 1000)
BEGIN;
SELECT campaign_id AS cid, extract(epoch from now())::bigint AS now, nextval('pgb_seq') AS n FROM codes
  WHERE code_key = concat('PGB', :c::int, 'X', :k::int) FOR UPDATE \gset
SELECT id, max_redemptions, max_discount_total, per_customer, state FROM campaigns WHERE id = :cid;
SELECT coalesce(sum(redeemed + held), 0), coalesce(sum(discount_total + held_discount), 0)
  FROM campaign_shards WHERE campaign_id = :cid;
INSERT INTO customer_usage (campaign_id, customer_id) VALUES (:cid, concat('pgb-', :cust::int)) ON CONFLICT DO NOTHING;
SELECT uses + held FROM customer_usage WHERE campaign_id = :cid AND customer_id = concat('pgb-', :cust::int) FOR UPDATE;
SELECT order_count, total_spent, last_order_at, signup_at, attributes, computed,
  (SELECT coalesce(sum(amount), 0) FROM customer_orders WHERE customer_id = concat('pgb-', :cust::int)
     AND at > :now::bigint - 365 * 86400),
  EXISTS (SELECT 1 FROM customer_orders WHERE customer_id = concat('pgb-', :cust::int)
     AND order_id = concat('pgb-', :run::text, '-', :client_id::int, '-', :n::bigint))
  FROM customers WHERE id = concat('pgb-', :cust::int);
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
  VALUES (concat('rdm_pgb_', :run::text, '_', :client_id::int, '_', :n::bigint),
          concat('PGB', :c::int, 'X', :k::int), concat('PGB', :c::int, 'X', :k::int), :cid,
          concat('pgb-', :cust::int), concat('pgb-', :run::text, '-', :client_id::int, '-', :n::bigint),
          45000, 'KRW', 'fixed', 1000, 0, 'succeeded', :now, :sh);
INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, data)
  VALUES (concat('evt_pgb_', :run::text, '_', :n::bigint), 'redeemed', :now, :cid,
          concat('PGB', :c::int, 'X', :k::int), concat('pgb-', :cust::int), concat('pgb-', :n::bigint),
          concat('rdm_pgb_', :n::bigint), '{"order_amount":45000,"discount":1000}');
INSERT INTO customers (id, created_at, updated_at, order_count, total_spent, first_order_at, last_order_at)
  VALUES (concat('pgb-', :cust::int), :now, :now, 1, 44000, :now, :now)
  ON CONFLICT (id) DO UPDATE SET order_count = customers.order_count + 1, total_spent = customers.total_spent + 44000,
    last_order_at = greatest(customers.last_order_at, excluded.last_order_at);
INSERT INTO customer_orders (customer_id, order_id, amount, at, source)
  VALUES (concat('pgb-', :cust::int), concat('pgb-', :run::text, '-', :client_id::int, '-', :n::bigint),
          44000, :now, 'redemption');
END;
