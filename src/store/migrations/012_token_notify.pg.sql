-- 012 on PostgreSQL: every change that can make a cached token wrong is
-- announced on the channel promo_tokens (pg_tokens.c keeps tokens looked up
-- by their secret's hash in memory, and each server's listener drops them
-- all when it hears this). Row-level, so that a statement that changes no
-- row (an OAuth prune with nothing to prune) stays silent; pg_notify sends
-- one notice per transaction however many rows call it. The statement a
-- token's last use writes (last_used_at only) is not among the columns.
CREATE FUNCTION promo_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('promo_tokens', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER tokens_changed AFTER UPDATE OF secret_hash, role, name, kind, client_id, expires_at, revoked_at
    OR DELETE ON tokens FOR EACH ROW EXECUTE FUNCTION promo_tokens_changed();
CREATE TRIGGER tokens_truncated AFTER TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION promo_tokens_changed();
