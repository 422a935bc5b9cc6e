-- 015 on PostgreSQL: promo_no_room(), the error a redemption's single
-- statement raises when no counter shard of the campaign has room.
--
-- A redemption without a customer (a guest checkout) writes everything in
-- one SQL statement (SQL_REDEEM_GUEST in src/store/pg_redeem.c) instead
-- of a call of promo_redeem_order: the shard taken and counted, the code's
-- use, the redemption, its event and the idempotency row, as data-modifying
-- CTEs. Measured with pgbench on promo's schema, that statement does 8 %
-- more redemptions a second than the PL/pgSQL call doing the same writes
-- (bench/pg/README.md). When neither a free shard (SKIP LOCKED) nor a busy
-- one with room exists, the statement calls this function, which raises
-- PR001 so that the transaction is rolled back and retried step by step,
-- as promo_redeem_order does; it runs on that rare path only.
CREATE FUNCTION promo_no_room() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'promo: no shard has room' USING ERRCODE = 'PR001';
END
$$;
