-- Two more kinds of reader job: an export of a filter to a CSV file, and a CSV import uploaded in the
-- admin (its options in `filter_json`, its progress in bytes of the file, its report when done).
-- SQLite cannot change a CHECK constraint: the table is made again with the new one.
CREATE TABLE bulk_jobs_new (
    id INTEGER PRIMARY KEY,
    action TEXT NOT NULL CHECK (action IN ('unsubscribe', 'add', 'remove', 'erase', 'export', 'import')),
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
    finished_at BIGINT,
    report_json TEXT
);
INSERT INTO bulk_jobs_new (id, action, filter_json, newsletter_id, status, total, done, changed, cursor, upto,
    next_at, holder, attempts, error, actor, created_by, created_at, started_at, finished_at)
SELECT id, action, filter_json, newsletter_id, status, total, done, changed, cursor, upto,
    next_at, holder, attempts, error, actor, created_by, created_at, started_at, finished_at FROM bulk_jobs;
DROP TABLE bulk_jobs;
ALTER TABLE bulk_jobs_new RENAME TO bulk_jobs;
CREATE INDEX bulk_jobs_due ON bulk_jobs (next_at) WHERE status IN ('queued', 'running');
