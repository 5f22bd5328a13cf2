-- Newsletters readers can subscribe to; the first one exists from the start.
CREATE TABLE newsletters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO newsletters (slug, name, created_at) VALUES ('main', 'Newsletter', 0);

-- Identity values are never reused, so old signed links cannot point at a new reader
CREATE TABLE subscribers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    lang TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
    source TEXT NOT NULL,
    consent_at BIGINT,
    consent_ip TEXT,
    consent_user_agent TEXT,
    consent_form TEXT,
    consent_wording TEXT,
    confirmed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscribers_status ON subscribers (status);

CREATE TABLE subscriber_newsletters (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    newsletter_id BIGINT NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, newsletter_id)
);

-- Append-only history of a subscriber; erased with the subscriber.
CREATE TABLE subscriber_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX subscriber_events_subscriber ON subscriber_events (subscriber_id, at);

-- Addresses that must never be mailed or re-imported, kept as SHA-256 of the normalized address.
CREATE TABLE suppressions (
    email_sha256 TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);

-- Single-use tokens (confirmation links), stored hashed.
CREATE TABLE subscriber_tokens (
    token_sha256 TEXT PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- Fixed-window counters shared by every process (rate limits on what the public can trigger).
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL
);
