-- Accounts and sessions. Times are Unix milliseconds (BIGINT) in every dialect, so the same
-- row types decode on SQLite, MySQL/MariaDB and PostgreSQL. Uniqueness lives in the database:
-- `username_key` (NFKC + lower case), `email_key` (lower case) and the normalised `phone`.
CREATE TABLE users (
    id            BIGINT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL,
    email         TEXT,
    email_key     TEXT,
    phone         TEXT,
    password_hash TEXT,
    nickname      TEXT,
    avatar_url    TEXT,
    status        SMALLINT NOT NULL DEFAULT 1,
    roles         TEXT NOT NULL DEFAULT 'user',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX uq_users_username_key ON users (username_key);
CREATE UNIQUE INDEX uq_users_email_key ON users (email_key);
CREATE UNIQUE INDEX uq_users_phone ON users (phone);

-- One row per sign-in; `id` is the `sid` claim of the session's access tokens.
CREATE TABLE sessions (
    id           BIGINT PRIMARY KEY NOT NULL,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip           TEXT,
    user_agent   TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX ix_sessions_user ON sessions (user_id);

-- Refresh tokens, stored only as SHA-256 hashes. A used token stays (with `used_at`) so a
-- second presentation can be recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    session_id  BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);
