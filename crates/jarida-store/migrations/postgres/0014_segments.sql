-- Segments: a readers' filter saved under a name (the JSON of `directory::ReaderFilter`). An edition
-- may be limited to one; a segment an unsent edition uses cannot be deleted.
CREATE TABLE segments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    filter_json TEXT NOT NULL,
    created_by BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
ALTER TABLE editions ADD COLUMN segment_id BIGINT REFERENCES segments (id);
