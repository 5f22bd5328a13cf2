-- Search moves into each process (jarida_content::search::engine, a tantivy index in memory):
-- ranking every match of a common word with ts_rank cost 80-180 ms a query. The database keeps
-- each post's words as the program normalized and stemmed them, which is what every process
-- builds its index from, and `rev`, which says a post's words changed since a process read them.
DROP TABLE IF EXISTS post_search;
CREATE TABLE post_terms (
    post_id BIGINT PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    rev BIGINT NOT NULL DEFAULT 1,
    title TEXT NOT NULL,
    meta TEXT NOT NULL,
    body TEXT NOT NULL
);
-- Filled again at the next start (search::ensure_indexed).
UPDATE search_state SET version = 0 WHERE id = 1;
