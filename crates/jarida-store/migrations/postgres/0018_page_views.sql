-- Page views summed per day (see jarida_content::views): no row says anything about a reader.
CREATE TABLE page_views (
    day BIGINT NOT NULL,
    path TEXT NOT NULL,
    views BIGINT NOT NULL,
    PRIMARY KEY (day, path)
);
CREATE TABLE referrer_views (
    day BIGINT NOT NULL,
    host TEXT NOT NULL,
    views BIGINT NOT NULL,
    PRIMARY KEY (day, host)
);
CREATE TABLE edition_visits (
    day BIGINT NOT NULL,
    edition_id BIGINT NOT NULL,
    views BIGINT NOT NULL,
    PRIMARY KEY (day, edition_id)
);
