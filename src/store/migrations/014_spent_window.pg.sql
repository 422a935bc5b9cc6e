-- 014 on PostgreSQL: what a customer spent in 365 days kept in their row,
-- so that a redemption no longer reads every order the customer ever made,
-- and promo_redeem_order, the successor of promo_redeem_use (011) for
-- src/store/pg_redeem.c's fast path.
--
-- The window: spent_365d is the sum of the customer's orders after
-- spent_since, written by the transaction whose xid is spent_xid. It is
-- good only while the row is still that version (spent_xid = xmin): every
-- writer of customer_orders changes the row under its lock (011's
-- comment), so a writer that does not keep these columns (the step-by-step
-- path, events, rollbacks, a server of the previous release during a
-- rolling upgrade) leaves them stale, never wrong, and the next reader sums
-- the orders as before. A reader at another cutoff moves the stored sum by
-- the orders between the two cutoffs, an index range that is empty or
-- small (customer_orders_by_at); the clock may even go back (a server whose
-- clock is behind): the orders between are then added back.
--
-- promo_redeem_order does what promo_redeem_use does, with three changes:
--   * p_since (the caller's cutoff, now - 365 days): the window columns are
--     written with the customer's row (p_spent is the sum after p_since,
--     this order included);
--   * the customer's row and the order are one statement;
--   * no webhook check: the caller's first pipeline read, after the code's
--     lock, that no webhook listens. A webhook made after that read was
--     made while this redemption ran, which may then be ordered before it
--     (as a redemption answered before the webhook was made).
-- promo_redeem_use stays for servers of the previous release.

ALTER TABLE customers ADD COLUMN spent_365d BIGINT, ADD COLUMN spent_since BIGINT, ADD COLUMN spent_xid TEXT;
-- Writers of customer_orders wait while this index is built. On a large
-- table, build it first without blocking them (docs/scaling.md,
-- "Migrations"): CREATE INDEX CONCURRENTLY customer_orders_by_at ON
-- customer_orders (customer_id, at) INCLUDE (amount); this then skips it.
CREATE INDEX IF NOT EXISTS customer_orders_by_at ON customer_orders (customer_id, at) INCLUDE (amount);

CREATE FUNCTION promo_redeem_order(
    p_key text, p_code text, p_campaign text, p_customer text, p_order text,
    p_amount bigint, p_currency text, p_discount_type text, p_discount bigint, p_points bigint,
    p_cost bigint, p_after bigint, p_paid bigint, p_start bigint, p_now bigint,
    p_red_id text, p_evt_id text, p_evt_data text, p_cust_evt_id text,
    p_idem_key text, p_request_hash text,
    p_cust_xmin text, p_new_order boolean, p_spent bigint,
    p_new_computed text, p_entered text[], p_left text[], p_move_ids text[], p_since bigint,
    OUT o_shard int, OUT o_order_count bigint, OUT o_total_spent bigint, OUT o_last_order_at bigint,
    OUT o_signup_at bigint, OUT o_attributes text, OUT o_computed text, OUT o_spent_365d bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n_new int := CASE WHEN p_new_order THEN 1 ELSE 0 END;
BEGIN
    -- The shard: taken and counted in one statement (SKIP LOCKED first,
    -- then waiting for one with room).
    UPDATE campaign_shards SET redeemed = redeemed + 1, discount_total = discount_total + p_cost,
        revenue = revenue + p_after
        WHERE campaign_id = p_campaign AND shard = (SELECT shard FROM campaign_shards WHERE campaign_id = p_campaign
            AND (quota_uses IS NULL OR redeemed + held + 1 <= quota_uses)
            AND (quota_discount IS NULL OR discount_total + held_discount + p_cost <= quota_discount)
            ORDER BY shard < p_start, shard LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING shard INTO o_shard;
    IF NOT FOUND THEN
        UPDATE campaign_shards SET redeemed = redeemed + 1, discount_total = discount_total + p_cost,
            revenue = revenue + p_after
            WHERE campaign_id = p_campaign AND shard = (SELECT shard FROM campaign_shards WHERE campaign_id = p_campaign
                AND (quota_uses IS NULL OR redeemed + held + 1 <= quota_uses)
                AND (quota_discount IS NULL OR discount_total + held_discount + p_cost <= quota_discount)
                ORDER BY shard < p_start, shard LIMIT 1 FOR UPDATE)
            RETURNING shard INTO o_shard;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'promo: no shard has room' USING ERRCODE = 'PR001';
        END IF;
    END IF;

    WITH k AS (UPDATE codes SET uses = uses + 1 WHERE code_key = p_key)
    INSERT INTO customer_usage (campaign_id, customer_id, uses, held)
        SELECT p_campaign, p_customer, 1, 0 WHERE p_customer IS NOT NULL
        ON CONFLICT (campaign_id, customer_id) DO UPDATE SET uses = customer_usage.uses + 1;

    WITH r AS (INSERT INTO redemptions (id, code_key, code, campaign_id, customer_id, order_id, order_amount,
            currency, discount_type, discount, points, status, reservation_id, created_at, shard)
        VALUES (p_red_id, p_key, p_code, p_campaign, p_customer, p_order, p_amount, p_currency,
            p_discount_type, p_discount, p_points, 'succeeded', NULL, p_now, o_shard) RETURNING 1)
    INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, data)
        SELECT p_evt_id, 'redeemed', p_now, p_campaign, p_key, p_customer, p_order, p_red_id, p_evt_data FROM r;

    IF p_customer IS NOT NULL AND p_order IS NOT NULL THEN
        IF p_cust_xmin IS NULL THEN
            -- A new customer, made with this order's facts.
            INSERT INTO customers (id, created_at, updated_at, order_count, total_spent, first_order_at, last_order_at,
                    spent_365d, spent_since, spent_xid)
                VALUES (p_customer, p_now, p_now, n_new, p_paid * n_new,
                        CASE WHEN p_new_order THEN p_now END, CASE WHEN p_new_order THEN p_now END,
                        p_spent, p_since, pg_current_xact_id()::xid::text)
                ON CONFLICT (id) DO NOTHING
                RETURNING order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0), attributes,
                    computed
                INTO o_order_count, o_total_spent, o_last_order_at, o_signup_at, o_attributes, o_computed;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'promo: the customer was made meanwhile' USING ERRCODE = 'PR001';
            END IF;
            INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, reason, data)
                VALUES (p_cust_evt_id, 'customer_created', p_now, NULL, NULL, p_customer, NULL, p_customer, NULL, '{}');
        ELSIF p_new_order THEN
            -- The row first, then the order (the lock order above); no row
            -- from either (another version, or the order came meanwhile)
            -- leaves NOT FOUND.
            WITH u AS (UPDATE customers SET order_count = order_count + 1, total_spent = total_spent + p_paid,
                    first_order_at = least(first_order_at, p_now), last_order_at = greatest(last_order_at, p_now),
                    spent_365d = p_spent, spent_since = p_since, spent_xid = pg_current_xact_id()::xid::text
                    WHERE id = p_customer AND xmin = p_cust_xmin::xid
                    RETURNING order_count, total_spent, coalesce(last_order_at, 0) AS last_at,
                        coalesce(signup_at, 0) AS signup, attributes, computed),
                o AS (INSERT INTO customer_orders (customer_id, order_id, amount, at, source)
                    SELECT p_customer, p_order, p_paid, p_now, 'redemption' FROM u
                    ON CONFLICT (customer_id, order_id) DO NOTHING RETURNING 1)
            SELECT u.order_count, u.total_spent, u.last_at, u.signup, u.attributes, u.computed FROM u, o
                INTO o_order_count, o_total_spent, o_last_order_at, o_signup_at, o_attributes, o_computed;
        ELSE
            -- The order was the customer's already: facts unchanged, but
            -- the predicted segments need this version locked.
            SELECT order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0), attributes, computed
                INTO o_order_count, o_total_spent, o_last_order_at, o_signup_at, o_attributes, o_computed
                FROM customers WHERE id = p_customer AND xmin = p_cust_xmin::xid FOR UPDATE;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'promo: the customer''s facts moved' USING ERRCODE = 'PR001';
        END IF;
        o_spent_365d := p_spent;
        IF p_new_order AND p_cust_xmin IS NULL THEN
            INSERT INTO customer_orders (customer_id, order_id, amount, at, source)
                VALUES (p_customer, p_order, p_paid, p_now, 'redemption') ON CONFLICT (customer_id, order_id) DO NOTHING;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'promo: the order came meanwhile' USING ERRCODE = 'PR001';
            END IF;
        END IF;
        IF p_new_computed IS NOT NULL THEN
            IF EXISTS (SELECT 1 FROM rules WHERE trigger_segment = ANY (p_entered) AND deleted = 0 AND enabled = 1)
               OR EXISTS (SELECT 1 FROM webhooks WHERE deleted_at IS NULL
                          AND event_types::jsonb ?| array['segment_entered', 'segment_left']) THEN
                RAISE EXCEPTION 'promo: rules or webhooks follow these segments' USING ERRCODE = 'PR001';
            END IF;
            INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, reason, data)
                SELECT p_move_ids[m.i],
                    CASE WHEN m.i <= cardinality(p_entered) THEN 'segment_entered' ELSE 'segment_left' END,
                    p_now, NULL, NULL, p_customer, NULL, m.name, NULL, '{}'
                FROM unnest(p_entered || p_left) WITH ORDINALITY AS m(name, i) ORDER BY m.i;
            UPDATE customers SET computed = p_new_computed,
                spent_xid = CASE WHEN spent_xid = xmin::text THEN pg_current_xact_id()::xid::text END
                WHERE id = p_customer;
        END IF;
    END IF;

    IF p_idem_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (idem_key, request_hash, redemption_id, refusal, created_at)
            VALUES (p_idem_key, p_request_hash, p_red_id, NULL, p_now);
    END IF;
END
$$;
