-- Accounts and sessions. Times are Unix milliseconds (BIGINT) in every dialect, so the same
-- row types decode on SQLite, MySQL/MariaDB and PostgreSQL. Uniqueness lives in the database:
-- `username_key` (NFKC + lower case), `email_key` (lower case) and the normalised `phone`.
-- Key columns use binary ASCII collation so MySQL's own case/accent folding never decides.
CREATE TABLE users (
    id            BIGINT NOT NULL PRIMARY KEY,
    username      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    username_key  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email         VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NULL,
    email_key     VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NULL,
    phone         VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
    password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
    nickname      VARCHAR(64) NULL,
    avatar_url    VARCHAR(512) NULL,
    status        SMALLINT NOT NULL DEFAULT 1,
    roles         VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'user',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE KEY uq_users_username_key (username_key),
    UNIQUE KEY uq_users_email_key (email_key),
    UNIQUE KEY uq_users_phone (phone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per sign-in; `id` is the `sid` claim of the session's access tokens.
CREATE TABLE sessions (
    id           BIGINT NOT NULL PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    ip           VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
    user_agent   VARCHAR(512) NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT NULL,
    KEY ix_sessions_user (user_id),
    CONSTRAINT fk_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Refresh tokens, stored only as SHA-256 hashes. A used token stays (with `used_at`) so a
-- second presentation can be recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash  CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    session_id  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NULL,
    KEY ix_refresh_tokens_session (session_id),
    CONSTRAINT fk_refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
