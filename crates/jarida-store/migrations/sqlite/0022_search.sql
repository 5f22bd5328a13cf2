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
