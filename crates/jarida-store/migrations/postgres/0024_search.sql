-- Search (jarida_content::search): a tsvector per post over words the program has already
-- normalized and stemmed, built with the 'simple' configuration (no stemming of its own), the
-- title weighted A, summary, tags, authors and sources B, the body D.
CREATE TABLE post_search (
    post_id BIGINT PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    doc tsvector NOT NULL
);
CREATE INDEX post_search_doc ON post_search USING GIN (doc);
-- Which version of the word rules the index was built with (jarida_content::search::text::VERSION);
-- posts are indexed again at start when it differs.
CREATE TABLE search_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO search_state (id, version) VALUES (1, 0);
