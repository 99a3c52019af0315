-- Nodes poll recently changed users to drop stale first-level cache entries.
CREATE INDEX ix_users_updated_at ON users (updated_at);
