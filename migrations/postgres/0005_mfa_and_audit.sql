-- TOTP second factor: one row per user who has started setup. `secret` is sealed (see
-- crate::crypto); `enabled_at` is null until a code confirms the setup. `last_step` is the
-- highest 30-second step accepted, so a code is never accepted twice (on any node).
CREATE TABLE mfa_totp (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     VARCHAR(255) NOT NULL,
    enabled_at BIGINT,
    last_step  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Recovery codes, stored only as keyed hashes; each works once.
CREATE TABLE mfa_recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash CHAR(64) NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Sign-ins waiting for their second factor: the hash of the `mfa_token`, single use.
-- `identifier` is the normalised identifier the password was given for (its lockout counts
-- wrong codes).
CREATE TABLE mfa_challenges (
    token_hash CHAR(64) PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identifier VARCHAR(255) NOT NULL,
    ip         VARCHAR(45),
    user_agent VARCHAR(512),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX ix_mfa_challenges_user ON mfa_challenges (user_id);

-- The audit trail. No foreign key: the record of what happened outlives the account.
-- `detail` is a small JSON object; nothing secret is ever written here.
CREATE TABLE audit_log (
    id         BIGINT PRIMARY KEY,
    user_id    BIGINT,
    actor_id   BIGINT,
    event      VARCHAR(32) NOT NULL,
    ip         VARCHAR(45),
    user_agent VARCHAR(512),
    at         BIGINT NOT NULL,
    detail     TEXT
);
CREATE INDEX ix_audit_log_user ON audit_log (user_id, id);
CREATE INDEX ix_audit_log_event ON audit_log (event, id);
