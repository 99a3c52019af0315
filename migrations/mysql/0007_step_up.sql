-- Step-up (contract section 11): when each session last proved a credential, and how (RFC
-- 8176 `amr` values, comma-joined). Refresh keeps both; `POST /auth/reauth` renews them.
-- Sessions made before this migration count as proved long ago: a sensitive change asks for
-- a fresh proof.
ALTER TABLE sessions ADD COLUMN auth_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN amr VARCHAR(64) NOT NULL DEFAULT '';
