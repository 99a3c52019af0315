-- WeChat identities: one row per (app, openid), owned by one user. `unionid` links the same
-- person across the company's apps. `session_key` is encrypted (see crate::crypto).
CREATE TABLE wechat_identities (
    appid       TEXT NOT NULL,
    openid      TEXT NOT NULL,
    unionid     TEXT,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_key TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (appid, openid)
);
CREATE INDEX ix_wechat_identities_unionid ON wechat_identities (unionid);
CREATE INDEX ix_wechat_identities_user ON wechat_identities (user_id);

-- OAuth `state` nonces already used: a state works once.
CREATE TABLE oauth_states (
    nonce      TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
