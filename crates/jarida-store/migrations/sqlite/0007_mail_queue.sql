-- Transactional emails (confirmation, preference and welcome links, editors' notices) waiting for
-- the relay, so that a crash or a relay outage does not lose them. A claim pushes the row's
-- `next_try_at` past a lease and names itself in `claimed_by`: if its worker dies the row falls due
-- again, and a worker whose lease ran out cannot overwrite the outcome of the one that took the row
-- after it. A row is deleted once the relay takes the message (its body holds a live confirmation
-- link, which is otherwise only stored hashed); a row that failed for good keeps its error, loses
-- its body and is purged after 30 days. Erasing a reader deletes their rows.
CREATE TABLE mail_queue (
    id INTEGER PRIMARY KEY,
    envelope_from TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    next_try_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    last_error TEXT,
    failed_at INTEGER
);
CREATE INDEX mail_queue_due ON mail_queue (next_try_at) WHERE failed_at IS NULL;
