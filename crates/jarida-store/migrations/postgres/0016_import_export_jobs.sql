-- Two more kinds of reader job: an export of a filter to a CSV file, and a CSV import uploaded in the
-- admin (its options in `filter_json`, its progress in bytes of the file, its report when done).
ALTER TABLE bulk_jobs DROP CONSTRAINT bulk_jobs_action_check;
ALTER TABLE bulk_jobs ADD CONSTRAINT bulk_jobs_action_check
    CHECK (action IN ('unsubscribe', 'add', 'remove', 'erase', 'export', 'import'));
ALTER TABLE bulk_jobs ADD COLUMN report_json TEXT;
