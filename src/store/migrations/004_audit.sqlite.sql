-- 004: the audit log of API calls: every mutating call, every refused
-- authentication or authorization (401/403) and every 429. Written by the
-- group-commit writer asynchronously (a row can lag its answer by a few
-- milliseconds). Never holds a body, a header, a secret or a whole code:
-- codes in paths are masked before they get here.
CREATE TABLE audit_log (
    seq      INTEGER PRIMARY KEY,                      -- list order and cursor
    at       BIGINT NOT NULL,                           -- Unix seconds, never decreasing with seq
    token_id TEXT,                                      -- tok_…; NULL when none was recognised
    role     TEXT,
    ip       TEXT NOT NULL,                             -- the client (see [proxy] trust_forwarded_for)
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,                             -- without the query string, codes masked
    status   INTEGER NOT NULL,
    reason   TEXT,                                      -- why it was refused (401/403/429)
    count    INTEGER NOT NULL DEFAULT 1                 -- identical refusals merged into this row
);
CREATE INDEX audit_by_token ON audit_log(token_id, seq) WHERE token_id IS NOT NULL;
CREATE INDEX audit_by_ip ON audit_log(ip, seq);
CREATE INDEX audit_by_at ON audit_log(at);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
