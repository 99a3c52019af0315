-- The refresh reuse grace (contract section 11): a rotated refresh token keeps its successor,
-- sealed under the encryption key, for `HUFU_REFRESH_REUSE_GRACE` only, so a duplicate of the
-- same rotation (a lost response, two racing tabs) gets the same successor instead of revoking
-- the session. Cleared once the grace has passed.
ALTER TABLE refresh_tokens ADD COLUMN successor VARCHAR(255) NULL;
