-- A search lists the readers whose name matches in name order, then by id among readers of the
-- same name, and pages by a cursor on both. SQLite's index ends with the rowid already; here the id
-- is added so a page is one range of the index with no sort, however many readers share a name.
DROP INDEX subscribers_name_lower;
CREATE INDEX subscribers_name_lower ON subscribers ((lower(name) COLLATE "C"), id) WHERE name <> '';
