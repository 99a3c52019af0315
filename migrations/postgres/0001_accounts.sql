-- Accounts and sessions. Times are Unix milliseconds (BIGINT) in every dialect, so the same
-- row types decode on SQLite, MySQL/MariaDB and PostgreSQL. Uniqueness lives in the database:
-- `username_key` (NFKC + lower case), `email_key` (lower case) and the normalised `phone`.
CREATE TABLE users (
    id            BIGINT PRIMARY KEY,
    username      VARCHAR(32) NOT NULL,
    username_key  VARCHAR(32) NOT NULL,
    email         VARCHAR(254),
    email_key     VARCHAR(254),
    phone         VARCHAR(16),
    password_hash VARCHAR(255),
    nickname      VARCHAR(64),
    avatar_url    VARCHAR(512),
    status        SMALLINT NOT NULL DEFAULT 1,
    roles         VARCHAR(255) NOT NULL DEFAULT 'user',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT uq_users_username_key UNIQUE (username_key),
    CONSTRAINT uq_users_email_key UNIQUE (email_key),
    CONSTRAINT uq_users_phone UNIQUE (phone)
);

-- One row per sign-in; `id` is the `sid` claim of the session's access tokens.
CREATE TABLE sessions (
    id           BIGINT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip           VARCHAR(45),
    user_agent   VARCHAR(512),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX ix_sessions_user ON sessions (user_id);

-- Refresh tokens, stored only as SHA-256 hashes. A used token stays (with `used_at`) so a
-- second presentation can be recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash  CHAR(64) PRIMARY KEY,
    session_id  BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);
