-- One-time codes (contract section 10). An existing account's email and phone start
-- unverified; a code, or WeChat's phone-number API, proves them.
ALTER TABLE users ADD COLUMN email_verified SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN phone_verified SMALLINT NOT NULL DEFAULT 0;

-- The live code of each (channel, target, purpose), only as a keyed hash: a newer send
-- replaces it, `tries` counts wrong guesses (dead at 5), `used_at` makes it single use on every
-- node (a conditional update). `user_id` is the signed-in user a code was sent for (verify,
-- change, reauth), which alone may use it.
CREATE TABLE codes (
    channel    TEXT NOT NULL,
    target     TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    user_id    BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    tries      SMALLINT NOT NULL DEFAULT 0,
    used_at    BIGINT,
    PRIMARY KEY (channel, target, purpose)
);

-- Every send that was delivered (or is being delivered): the resend interval and the daily
-- cap are counted here, so they hold across nodes without Redis. A failed delivery removes its
-- row.
CREATE TABLE code_sends (
    id      BIGINT PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL,
    target  TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX ix_code_sends_target ON code_sends (channel, target, sent_at);

-- One row per target, locked by every send to it, so two nodes cannot both pass the resend
-- interval or the daily cap at once.
CREATE TABLE code_targets (
    channel TEXT NOT NULL,
    target  TEXT NOT NULL,
    PRIMARY KEY (channel, target)
);
