-- WeChat identities: one row per (app, openid), owned by one user. `unionid` links the same
-- person across the company's apps. `session_key` is encrypted (see crate::crypto).
CREATE TABLE wechat_identities (
    appid       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    openid      VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    unionid     VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
    user_id     BIGINT NOT NULL,
    session_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (appid, openid),
    KEY ix_wechat_identities_unionid (unionid),
    KEY ix_wechat_identities_user (user_id),
    CONSTRAINT fk_wechat_identities_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- OAuth `state` nonces already used: a state works once.
CREATE TABLE oauth_states (
    nonce      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
