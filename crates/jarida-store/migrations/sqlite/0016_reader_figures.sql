-- The dashboard counts readers by the day they signed up, confirmed and left: range scans on
-- these instead of reading every reader (an import's rows share one time, so these indexes grow at
-- their end and cost it little).
CREATE INDEX subscribers_created ON subscribers (created_at);
CREATE INDEX subscribers_confirmed ON subscribers (confirmed_at) WHERE confirmed_at IS NOT NULL;
CREATE INDEX subscriber_events_kind_at ON subscriber_events (kind, at);
