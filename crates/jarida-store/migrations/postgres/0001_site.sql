-- Users of the admin side (the owner first).
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'editor')),
    created_at BIGINT NOT NULL
);

-- Small process-wide settings and one-time secrets (stored hashed).
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Bumped on every content change; each serving process polls it to drop its page cache.
CREATE TABLE content_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO content_version (id, version) VALUES (1, 1);

CREATE TABLE posts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lang TEXT NOT NULL,
    slug TEXT NOT NULL,
    translation_key TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('report', 'news', 'design')),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body_md TEXT NOT NULL,
    body_html TEXT NOT NULL,
    body_text TEXT NOT NULL,
    authors_json TEXT NOT NULL,
    cover TEXT,
    cover_alt TEXT,
    featured BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'published')),
    published_at BIGINT,
    updated_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Hash of the last saved input: re-importing an unchanged file writes nothing.
    fingerprint TEXT NOT NULL,
    UNIQUE (lang, slug)
);
CREATE INDEX posts_listing ON posts (lang, status, published_at);
CREATE INDEX posts_translation ON posts (translation_key);

CREATE TABLE post_authors (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    PRIMARY KEY (post_id, position)
);
CREATE INDEX post_authors_slug ON post_authors (slug);

CREATE TABLE post_tags (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    PRIMARY KEY (post_id, position)
);
CREATE INDEX post_tags_slug ON post_tags (slug);

CREATE TABLE sources (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    publisher TEXT NOT NULL,
    authors TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    date TEXT,
    PRIMARY KEY (post_id, position)
);

CREATE TABLE corrections (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    corrected_at BIGINT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX corrections_time ON corrections (corrected_at);
CREATE INDEX corrections_post ON corrections (post_id);
