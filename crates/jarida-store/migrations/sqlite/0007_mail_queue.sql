-- Transactional emails (confirmation and preference links) waiting for the relay, so that a crash
-- or a relay outage does not lose them. A claimed row's `next_try_at` is pushed past a lease: if its
-- worker dies, the row simply falls due again. A row is deleted once the relay takes the message (its
-- body holds a live confirmation link, which is otherwise only stored hashed); a row that failed for
-- good keeps its error and loses its body.
CREATE TABLE mail_queue (
    id INTEGER PRIMARY KEY,
    envelope_from TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    next_try_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    failed_at INTEGER
);
CREATE INDEX mail_queue_due ON mail_queue (next_try_at) WHERE failed_at IS NULL;
