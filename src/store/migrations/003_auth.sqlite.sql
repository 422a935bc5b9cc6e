-- 003: tokens with a kind, OAuth 2.0 clients (client credentials grant).
-- A token is either made by an admin (`api`, POST /v1/tokens or the
-- bootstrap) or issued to an OAuth client by POST /oauth/token (`oauth`,
-- with client_id and always an expires_at). Secrets of both, and of the
-- clients, are stored only as BLAKE2b-256 hashes.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';  -- api | oauth
ALTER TABLE tokens ADD COLUMN client_id TEXT;                     -- oauth: the client it was issued to
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;                -- kept to the minute, not per call
-- Revoking a client's live tokens, and pruning its long-expired ones.
CREATE INDEX tokens_by_client ON tokens(client_id, expires_at) WHERE client_id IS NOT NULL;

CREATE TABLE oauth_clients (
    id               TEXT PRIMARY KEY,                  -- ocl_…: the client_id of RFC 6749
    secret_hash      TEXT NOT NULL,                     -- BLAKE2b-256 hex of the client_secret
    name             TEXT NOT NULL,
    role             TEXT NOT NULL,                     -- the most its tokens may do
    access_token_ttl BIGINT NOT NULL,                   -- seconds, 1..86400
    created_at       BIGINT NOT NULL,
    deleted_at       BIGINT                             -- set once; a deleted client gets no token
);
