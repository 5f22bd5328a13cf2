-- Search moves into each process (jarida_content::search::engine, a tantivy index in memory):
-- ranking every match of a common word in FTS5 or with ts_rank cost 10-180 ms a query. The
-- database keeps each post's words as the program normalized and stemmed them, which is what the
-- processes build their index from, and `rev`, which says a post's words changed since a process
-- read them.
DROP TRIGGER IF EXISTS posts_fts_gone;
DROP TABLE IF EXISTS posts_fts;
CREATE TABLE post_terms (
    post_id INTEGER PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    rev INTEGER NOT NULL DEFAULT 1,
    title TEXT NOT NULL,
    meta TEXT NOT NULL,
    body TEXT NOT NULL
);
-- Filled again at the next start (search::ensure_indexed).
UPDATE search_state SET version = 0 WHERE id = 1;
