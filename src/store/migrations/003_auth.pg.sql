-- 003: tokens with a kind, OAuth 2.0 clients (PostgreSQL flavour of
-- 003_auth.sqlite.sql).
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE tokens ADD COLUMN client_id TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
CREATE INDEX tokens_by_client ON tokens(client_id, expires_at) WHERE client_id IS NOT NULL;

CREATE TABLE oauth_clients (
    id               TEXT PRIMARY KEY,
    secret_hash      TEXT NOT NULL,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL,
    access_token_ttl BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    deleted_at       BIGINT
);
