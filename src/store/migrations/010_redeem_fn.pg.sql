-- 010 on PostgreSQL: the writes of a redemption in one call (one round
-- trip instead of about eight), for src/store/pg_redeem.c's fast path.
--
-- The caller has already, in the same transaction: locked the code's row,
-- locked (made) the customer's usage row of the campaign, read the
-- campaign, its shard sums and the customer's counts, and had core_decide
-- accept the use. This function then does what the step-by-step C path
-- does after an accepted decision, in the same order and with the same
-- locks (code -> customer usage -> shard -> customer):
--   take a shard with room (SKIP LOCKED first, then waiting for one),
--   count the use in the code, the customer's usage and the shard,
--   insert the redemption and its `redeemed` event,
--   make the customer (with `customer_created`) and add the order,
--   recompute the customer's order facts under the customer's row lock,
--   store the Idempotency-Key's answer.
-- It answers the shard and the customer's facts (NULL without a customer),
-- from which C recomputes the computed segments (core_segment_match).
-- With p_check, the caller predicted those facts (and from them, with
-- core_segment_match, the computed segments) and sent COMMIT in the same
-- round trip: any other outcome raises PR001 instead, so nothing commits
-- that C did not see. When the prediction moves the customer's segments
-- (p_new_computed not NULL), the function writes what pg_customers.c would: a
-- `segment_entered` per name of p_entered, then a `segment_left` per name
-- of p_left (ids p_move_ids, in that order) and the new computed list --
-- unless an enabled rule is triggered by an entered segment or a webhook
-- wants those events (C's job: PR001).
--
-- It raises SQLSTATE PR001 ("take the step-by-step path"), which rolls the
-- whole transaction back, when what follows is C's job: a live webhook
-- wants `redeemed` or `customer_created` (the outbox fan-out), or no shard
-- has room (the shards must be resliced, pg_shards_reslice), or the facts
-- are not the ones predicted (p_check; another order of the customer came
-- in between).
CREATE FUNCTION promo_redeem_write(
    p_key text, p_code text, p_campaign text, p_customer text, p_order text,
    p_amount bigint, p_currency text, p_discount_type text, p_discount bigint, p_points bigint,
    p_cost bigint, p_after bigint, p_paid bigint, p_start bigint, p_now bigint,
    p_red_id text, p_evt_id text, p_evt_data text, p_cust_evt_id text,
    p_idem_key text, p_request_hash text, p_since bigint,
    p_check boolean, p_x_count bigint, p_x_total bigint, p_x_last bigint, p_x_signup bigint, p_x_spent bigint,
    p_x_computed text, p_x_attributes text,
    p_new_computed text, p_entered text[], p_left text[], p_move_ids text[],
    OUT o_shard int, OUT o_order_count bigint, OUT o_total_spent bigint, OUT o_last_order_at bigint,
    OUT o_signup_at bigint, OUT o_attributes text, OUT o_computed text, OUT o_spent_365d bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhooks WHERE deleted_at IS NULL
               AND event_types::jsonb ?| array['redeemed', 'customer_created', '*']) THEN
        RAISE EXCEPTION 'promo: webhooks want this redemption' USING ERRCODE = 'PR001';
    END IF;
    -- The shard: taken and counted in one statement (the code's and the
    -- customer's usage rows are locked already, so the lock order holds).
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
        WITH made AS (INSERT INTO customers (id, created_at, updated_at) VALUES (p_customer, p_now, p_now)
            ON CONFLICT (id) DO NOTHING RETURNING id)
        INSERT INTO events (id, type, at, campaign_id, code_key, customer_id, order_id, subject_id, reason, data)
            SELECT p_cust_evt_id, 'customer_created', p_now, NULL, NULL, p_customer, NULL, p_customer, NULL, '{}'
            FROM made;
        INSERT INTO customer_orders (customer_id, order_id, amount, at, source)
            VALUES (p_customer, p_order, p_paid, p_now, 'redemption') ON CONFLICT (customer_id, order_id) DO NOTHING;
        -- The lock in a statement of its own before the sums (as
        -- pg_customers.c does): at READ COMMITTED the next statement's
        -- snapshot then holds every order of whoever held the lock before.
        PERFORM 1 FROM customers WHERE id = p_customer FOR UPDATE;
        UPDATE customers SET (order_count, total_spent, first_order_at, last_order_at) =
            (SELECT count(*), coalesce(sum(amount), 0), min(at), max(at) FROM customer_orders
             WHERE customer_id = p_customer)
            WHERE id = p_customer
            RETURNING order_count, total_spent, coalesce(last_order_at, 0), coalesce(signup_at, 0), attributes,
                computed, (SELECT coalesce(sum(amount), 0) FROM customer_orders
                           WHERE customer_id = p_customer AND at > p_since)
            INTO o_order_count, o_total_spent, o_last_order_at, o_signup_at, o_attributes, o_computed,
                o_spent_365d;
        IF p_check AND (o_order_count <> p_x_count OR o_total_spent <> p_x_total OR o_last_order_at <> p_x_last
                        OR o_signup_at <> p_x_signup OR o_spent_365d <> p_x_spent OR o_computed <> p_x_computed
                        OR (p_x_attributes IS NOT NULL AND o_attributes <> p_x_attributes)) THEN
            RAISE EXCEPTION 'promo: the customer''s facts moved' USING ERRCODE = 'PR001';
        END IF;
        IF p_check AND p_new_computed IS NOT NULL THEN
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
