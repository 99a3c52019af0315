-- TOTP second factor: one row per user who has started setup. `secret` is sealed (see
-- crate::crypto); `enabled_at` is null until a code confirms the setup. `last_step` is the
-- highest 30-second step accepted, so a code is never accepted twice (on any node).
CREATE TABLE mfa_totp (
    user_id    BIGINT NOT NULL PRIMARY KEY,
    secret     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    enabled_at BIGINT NULL,
    last_step  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    CONSTRAINT fk_mfa_totp_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Recovery codes, stored only as keyed hashes; each works once.
CREATE TABLE mfa_recovery_codes (
    user_id   BIGINT NOT NULL,
    code_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    used_at   BIGINT NULL,
    PRIMARY KEY (user_id, code_hash),
    CONSTRAINT fk_mfa_recovery_codes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Sign-ins waiting for their second factor: the hash of the `mfa_token`, single use.
-- `identifier` is the normalised identifier the password was given for (its lockout counts
-- wrong codes).
CREATE TABLE mfa_challenges (
    token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    identifier VARCHAR(255) NOT NULL,
    ip         VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
    user_agent VARCHAR(512) NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NULL,
    KEY ix_mfa_challenges_user (user_id),
    CONSTRAINT fk_mfa_challenges_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The audit trail. No foreign key: the record of what happened outlives the account.
-- `detail` is a small JSON object; nothing secret is ever written here.
CREATE TABLE audit_log (
    id         BIGINT NOT NULL PRIMARY KEY,
    user_id    BIGINT NULL,
    actor_id   BIGINT NULL,
    event      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ip         VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
    user_agent VARCHAR(512) NULL,
    at         BIGINT NOT NULL,
    detail     TEXT NULL,
    KEY ix_audit_log_user (user_id, id),
    KEY ix_audit_log_event (event, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
