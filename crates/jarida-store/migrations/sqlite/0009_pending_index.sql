-- The status index held every subscriber, nearly all of them 'active': each imported reader cost an
-- index insert that no query needed (sending reads most active readers, where a scan is the plan
-- anyway). Only the hourly purge looks readers up by status, and it looks for pending ones: the
-- index keeps those alone, so a confirmed import adds nothing to it.
DROP INDEX subscribers_status;
CREATE INDEX subscribers_pending ON subscribers (created_at) WHERE status = 'pending';
