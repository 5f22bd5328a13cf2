-- What came back for a message we sent: a bounce (hard, soft, refused for policy) or a complaint,
-- one row per (reader, edition, kind), so a replayed report changes nothing. Edition 0 is mail
-- outside editions (a confirmation email). Diagnostics are stored with addresses redacted; the
-- reader is the link, and erasing them unlinks the row (the edition's figures keep it).
CREATE TABLE bounces (
    id INTEGER PRIMARY KEY,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    edition_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    diagnostic TEXT NOT NULL,
    source TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE UNIQUE INDEX bounces_once ON bounces (subscriber_id, edition_id, kind);
CREATE INDEX bounces_edition ON bounces (edition_id, kind);
CREATE INDEX bounces_at ON bounces (kind, at);

-- Addresses refused while sending before this table existed: the same record, so an edition's
-- figures keep counting them.
INSERT INTO bounces (subscriber_id, edition_id, kind, status, diagnostic, source, at)
SELECT (SELECT s.id FROM subscribers s WHERE s.id = d.subscriber_id), d.edition_id, 'hard', '', '', 'smtp', COALESCE(d.done_at, 0)
FROM deliveries d WHERE d.state = 'failed' AND d.last_reply LIKE '5__ 5.1.%';

-- When returned mail paused an edition (too many hard bounces early on): an editor who resumes
-- it has looked, and it is not paused again for the same reason.
ALTER TABLE editions ADD COLUMN bounce_paused_at BIGINT;
