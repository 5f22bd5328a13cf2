-- Addresses compare byte by byte, as SQLite's do: the admin's prefix search is then a range of the
-- unique index under any database collation (under a locale's collation a range can miss
-- addresses, and `LIKE 'x%'` cannot use the index at all). Addresses are stored lower-cased, so
-- nothing a reader sees changes.
ALTER TABLE subscribers ALTER COLUMN email TYPE TEXT COLLATE "C";
