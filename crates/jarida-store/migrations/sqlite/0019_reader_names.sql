-- The admin's search of the start of a name: a range of this index instead of reading every reader
-- (365 ms at a million readers). Partial: readers without a name, common in imported lists, cost
-- nothing to add. SQLite's lower() folds ASCII only; the search folds the query the same way.
CREATE INDEX subscribers_name_lower ON subscribers (lower(name)) WHERE name <> '';
