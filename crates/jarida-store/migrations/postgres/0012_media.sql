-- The admin's media library: every uploaded image, its content-addressed file in media/, and
-- its alt text in each language.
CREATE TABLE media (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    original_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    alt_en TEXT NOT NULL DEFAULT '',
    alt_ar TEXT NOT NULL DEFAULT '',
    uploaded_by BIGINT,
    uploaded_at BIGINT NOT NULL
);
CREATE INDEX media_uploaded ON media (uploaded_at);
