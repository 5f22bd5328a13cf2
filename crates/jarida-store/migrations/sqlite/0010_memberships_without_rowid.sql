-- A membership is its key (reader, newsletter) and nothing else. As a rowid table it was stored
-- twice, in the table and in the index of its primary key: every membership an import wrote was
-- two b-tree inserts. WITHOUT ROWID keeps the rows in the primary key's b-tree alone. (PostgreSQL
-- has no such tables; its memberships stay a heap and an index.)
CREATE TABLE subscriber_newsletters_new (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    newsletter_id BIGINT NOT NULL REFERENCES newsletters (id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, newsletter_id)
) WITHOUT ROWID;
INSERT INTO subscriber_newsletters_new (subscriber_id, newsletter_id)
    SELECT subscriber_id, newsletter_id FROM subscriber_newsletters;
DROP TABLE subscriber_newsletters;
ALTER TABLE subscriber_newsletters_new RENAME TO subscriber_newsletters;
