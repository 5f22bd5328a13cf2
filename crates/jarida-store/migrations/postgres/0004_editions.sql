-- Newsletter editions and the delivery ledger.

-- One edition of a newsletter: the posts of a period, per language, sent once.
CREATE TABLE editions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    newsletter_id BIGINT NOT NULL REFERENCES newsletters (id),
    number BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
    -- Posts published in [period_start, period_end) are its candidates.
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    -- The cadence slot it was composed for: unique, so two schedulers never compose the same slot.
    slot_at BIGINT,
    send_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    UNIQUE (newsletter_id, number),
    UNIQUE (newsletter_id, slot_at)
);
CREATE INDEX editions_status ON editions (status);

-- Subject, introduction and, once sending starts, the frozen rendering of each language.
CREATE TABLE edition_langs (
    edition_id BIGINT NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    lang TEXT NOT NULL,
    subject TEXT NOT NULL,
    intro TEXT NOT NULL,
    html TEXT,
    text TEXT,
    PRIMARY KEY (edition_id, lang)
);

-- The posts an edition carries, in order, per language.
CREATE TABLE edition_items (
    edition_id BIGINT NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    lang TEXT NOT NULL,
    position BIGINT NOT NULL,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    PRIMARY KEY (edition_id, lang, post_id)
);
CREATE INDEX edition_items_post ON edition_items (post_id);

-- The ledger: one row per (edition, subscriber), frozen when sending starts. No foreign key to the
-- subscriber: erasing a reader must not rewrite the history of an edition (the row keeps only an id).
CREATE TABLE deliveries (
    edition_id BIGINT NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    subscriber_id BIGINT NOT NULL,
    lang TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'deferred', 'failed', 'skipped')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_try_at BIGINT NOT NULL DEFAULT 0,
    first_try_at BIGINT,
    lease_until BIGINT,
    last_reply TEXT,
    done_at BIGINT,
    PRIMARY KEY (edition_id, subscriber_id)
);
CREATE INDEX deliveries_due ON deliveries (edition_id, state, next_try_at);

-- When the cadence was first seen: slots before it are never composed.
ALTER TABLE newsletters ADD COLUMN cadence_since BIGINT;
