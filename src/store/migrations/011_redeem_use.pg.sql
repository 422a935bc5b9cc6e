-- 011 on PostgreSQL: promo_redeem_use, the successor of promo_redeem_write
-- (010) for src/store/pg_redeem.c's fast path. It does the same writes in
-- the same lock order (code -> customer usage -> shard -> customer) and
-- raises SQLSTATE PR001 in the same cases, with one difference: the
-- customer's facts are moved by this order instead of recomputed over all
-- their orders.
--
-- Why that is exact: every writer of customer_orders (pg_customers.c, this
-- function, 010) sets order_count, total_spent, first_order_at and
-- last_order_at under the customer's row lock, so the stored columns are
-- the aggregates of the committed orders. The caller read the row's xmin
-- (p_cust_xmin; NULL when there was no row) with those columns and the
-- spend of the last 365 days; the row is taken here only if it is still
-- that version (an UPDATE ... WHERE xmin re-checks the newest version after
-- waiting for its lock), so no order came or went in between and the
-- caller's facts plus this order are the facts. Any other version (another
-- order, an attribute, a segment change) raises PR001 and the step-by-step
-- path recomputes everything.
--
-- promo_redeem_write stays: a server of the previous release calls it
-- during a rolling upgrade, and it is still correct.
CREATE FUNCTION promo_redeem_use(
    p_key text, p_code text, p_campaign text, p_customer text, p_order text,
    p_amount bigint, p_currency text, p_discount_type text, p_discount bigint, p_points bigint,
    p_cost bigint, p_after bigint, p_paid bigint, p_start bigint, p_now bigint,
    p_red_id text, p_evt_id text, p_evt_data text, p_cust_evt_id text,
    p_idem_key text, p_request_hash text,
    p_cust_xmin text, p_new_order boolean, p_spent bigint,
    p_new_computed text, p_entered text[], p_left text[], p_move_ids text[],
    OUT o_shard int, OUT o_order_count bigint, OUT o_total_spent bigint, OUT o_last_order_at bigint,
    OUT o_signup_at bigint, OUT o_attributes text, OUT o_computed text, OUT o_spent_365d bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n_new int := CASE WHEN p_new_order THEN 1 ELSE 0 END;
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE deleted_at IS NULL
               AND event_types::jsonb ?| array['redeemed', 'customer_created', '*']) THEN
        RAISE EXCEPTION 'promo: webhooks want this redemption' USING ERRCODE = 'PR001';
    END IF;
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
            INSERT INTO customers (id, created_at, updated_at, order_count, total_spent, first_order_at, last_order_at)
                VALUES (p_customer, p_now, p_now, n_new, p_paid * n_new,
                        CASE WHEN p_new_order THEN p_now END, CASE WHEN p_new_order THEN p_now END)
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
            UPDATE customers SET order_count = order_count + 1, total_spent = total_spent + p_paid,
                first_order_at = least(first_order_at, p_now), last_order_at = greatest(last_order_at, p_now)
                WHERE id = p_customer AND xmin = p_cust_xmin::xid
                RETURNING order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0), attributes,
                    computed
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
        IF p_new_order THEN
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
            UPDATE customers SET computed = p_new_computed WHERE id = p_customer;
        END IF;
    END IF;

    IF p_idem_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (idem_key, request_hash, redemption_id, refusal, created_at)
            VALUES (p_idem_key, p_request_hash, p_red_id, NULL, p_now);
    END IF;
END
$$;
