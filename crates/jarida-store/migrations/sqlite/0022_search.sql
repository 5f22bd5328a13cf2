-- Search (jarida_content::search): FTS5 over words the program has already normalized and
-- stemmed (the same for every script), so the tokenizer only splits on spaces and folds case.
-- Contentless: the text lives in `posts`; `contentless_delete` lets a post's row be replaced.
-- Prefix indexes make "the last word as the reader types" a range read.
CREATE VIRTUAL TABLE posts_fts USING fts5(
    title, meta, body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '2 3'
);
-- Its `rank` is BM25 with the fields' weights: a title word counts ten body words, a word of the
-- summary, tags, authors or sources four.
INSERT INTO posts_fts (posts_fts, rank) VALUES ('rank', 'bm25(10.0, 4.0, 1.0)');
CREATE TRIGGER posts_fts_gone AFTER DELETE ON posts BEGIN
    DELETE FROM posts_fts WHERE rowid = old.id;
END;
-- Which version of the word rules the index was built with (jarida_content::search::text::VERSION);
-- posts are indexed again at start when it differs.
CREATE TABLE search_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO search_state (id, version) VALUES (1, 0);
