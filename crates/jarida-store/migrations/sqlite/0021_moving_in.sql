-- Old addresses answered with a permanent redirect: those of posts imported from another platform
-- (WordPress, Ghost, Substack) and any an editor adds. `from_path` is percent-decoded, without a
-- trailing slash; WordPress's `?p=123` and `?page_id=123` are kept as `/?p=123`.
CREATE TABLE redirects (
    from_path TEXT PRIMARY KEY,
    to_path TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which post an item of another platform became, so importing the same export again updates
-- that post (wherever its slug now is) instead of making a second one.
CREATE TABLE imported_items (
    origin TEXT PRIMARY KEY,
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE
);
CREATE INDEX imported_items_post ON imported_items (post_id);
