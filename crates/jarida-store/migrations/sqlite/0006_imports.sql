-- One row per subscriber import. The "imported" event and the membership it grants are facts about
-- the import, so they are stored once here and each imported reader points at it (`import_id`),
-- instead of one `subscriber_events` row per reader: a million-row import wrote a million events.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    format TEXT NOT NULL,
    wording TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    at INTEGER NOT NULL,
    rows_read INTEGER NOT NULL DEFAULT 0,
    rows_imported INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER
);
ALTER TABLE subscribers ADD COLUMN import_id INTEGER REFERENCES imports (id);
