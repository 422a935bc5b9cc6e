-- 012 on PostgreSQL: every change that can make a cached token wrong is
-- announced on the channel promo_tokens (pg_tokens.c keeps tokens looked up
-- by their secret's hash in memory, and each server's listener drops them
-- all when it hears this; docs/scaling.md, "What each server keeps in
-- memory"). promo_notify(channel) serves every such trigger (013 too).
-- Row-level, so that a statement that changes no row (an OAuth prune with
-- nothing to prune) stays silent; pg_notify sends one notice per
-- transaction however many rows call it. The write of a token's last use
-- (last_used_at only) is not among the columns.
CREATE FUNCTION promo_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$;
CREATE TRIGGER tokens_changed AFTER UPDATE OF secret_hash, role, name, kind, client_id, expires_at, revoked_at
    OR DELETE ON tokens FOR EACH ROW EXECUTE FUNCTION promo_notify('promo_tokens');
CREATE TRIGGER tokens_truncated AFTER TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION promo_notify('promo_tokens');
