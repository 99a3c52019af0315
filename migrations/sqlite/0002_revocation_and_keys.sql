-- Nodes poll recent revocations so a logout on one node is honoured on all within a second.
CREATE INDEX ix_sessions_revoked_at ON sessions (revoked_at);

-- EdDSA signing keys, shared by every node. `private_key` is encrypted with the deployment's
-- encryption key (AES-256-GCM); the newest key signs, older ones verify until retired.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    algorithm   TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
