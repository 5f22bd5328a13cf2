-- What owners changed in the admin over the configuration file (see jarida_store::settings): one row
-- per dotted configuration key, its value as JSON. A key without a row takes the file's value.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
-- Moved by every change, so each process notices another's and applies it.
CREATE TABLE settings_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO settings_version (id, version) VALUES (1, 0);
