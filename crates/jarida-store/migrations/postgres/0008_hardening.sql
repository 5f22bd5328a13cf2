-- The name typed with a sign-up travels with its token like the rest of its evidence: only a
-- confirmed link may put a name on the record (a stranger's first sign-up must not name the owner).
ALTER TABLE subscriber_tokens ADD COLUMN name TEXT;
-- Expired rate-limit windows are purged; this finds them without a scan.
CREATE INDEX rate_limits_window ON rate_limits (window_start);
CREATE INDEX subscriber_tokens_expiry ON subscriber_tokens (expires_at);
