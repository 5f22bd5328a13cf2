-- Transactional emails (confirmation and preference links) waiting for the relay, so that a crash
-- or a relay outage does not lose them. A claimed row's `next_try_at` is pushed past a lease: if its
-- worker dies, the row simply falls due again. A row is deleted once the relay takes the message (its
-- body holds a live confirmation link, which is otherwise only stored hashed); a row that failed for
-- good keeps its error and loses its body.
CREATE TABLE mail_queue (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    envelope_from TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    next_try_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    failed_at BIGINT
);
CREATE INDEX mail_queue_due ON mail_queue (next_try_at) WHERE failed_at IS NULL;
