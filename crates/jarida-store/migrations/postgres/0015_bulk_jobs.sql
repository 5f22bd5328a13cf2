-- Bulk actions on a readers' filter, worked in chunks by any process through the lease queue:
-- `cursor` is the last reader id done, `upto` the highest reader id when the job was made (those
-- who join later are left out), `next_at` the lease's end (and the due time), `holder` the claim.
CREATE TABLE bulk_jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action TEXT NOT NULL CHECK (action IN ('unsubscribe', 'add', 'remove', 'erase')),
    filter_json TEXT NOT NULL,
    newsletter_id BIGINT REFERENCES newsletters (id),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total BIGINT NOT NULL,
    done BIGINT NOT NULL DEFAULT 0,
    changed BIGINT NOT NULL DEFAULT 0,
    cursor BIGINT NOT NULL DEFAULT 0,
    upto BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    holder TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    actor TEXT NOT NULL,
    created_by BIGINT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX bulk_jobs_due ON bulk_jobs (next_at) WHERE status IN ('queued', 'running');
