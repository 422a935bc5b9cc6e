-- 004: the audit log of API calls (PostgreSQL flavour of 004_audit.sqlite.sql).
CREATE TABLE audit_log (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       BIGINT NOT NULL,
    token_id TEXT,
    role     TEXT,
    ip       TEXT NOT NULL,
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,
    status   INTEGER NOT NULL,
    reason   TEXT,
    count    BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX audit_by_token ON audit_log(token_id, seq) WHERE token_id IS NOT NULL;
CREATE INDEX audit_by_ip ON audit_log(ip, seq);
CREATE INDEX audit_by_at ON audit_log(at);

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION promo_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION promo_append_only();
