-- 013 on PostgreSQL: every change to the segments' rules is announced on
-- the channel promo_segments: each server keeps the parsed rules in memory
-- (pg_customers.c) and its listener drops them when it hears this.
CREATE TRIGGER segments_changed AFTER INSERT OR UPDATE OR DELETE ON segments
    FOR EACH ROW EXECUTE FUNCTION promo_notify('promo_segments');
CREATE TRIGGER segments_truncated AFTER TRUNCATE ON segments
    FOR EACH STATEMENT EXECUTE FUNCTION promo_notify('promo_segments');
