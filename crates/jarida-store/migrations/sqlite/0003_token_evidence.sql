-- The consent evidence of a sign-up travels with its confirmation token and reaches the subscriber
-- only on confirmation: an unconfirmed sign-up of a known address changes nothing on its record.
ALTER TABLE subscriber_tokens ADD COLUMN lang TEXT;
ALTER TABLE subscriber_tokens ADD COLUMN consent_at BIGINT;
ALTER TABLE subscriber_tokens ADD COLUMN consent_ip TEXT;
ALTER TABLE subscriber_tokens ADD COLUMN consent_user_agent TEXT;
ALTER TABLE subscriber_tokens ADD COLUMN consent_form TEXT;
ALTER TABLE subscriber_tokens ADD COLUMN consent_wording TEXT;
