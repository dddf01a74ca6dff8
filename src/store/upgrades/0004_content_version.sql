-- Version 4: a counter of changes to content (triggers below). A server that keeps documents
-- built from published content (the list feeds) reads it before building and serves what it
-- kept only while the counter is unchanged, so a write by any process on this database (the
-- server itself, `shipstar seed` beside it) is seen by the next request.
CREATE TABLE content_version (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    version         INTEGER NOT NULL
);
INSERT INTO content_version (id, version) VALUES (1, 0);
CREATE TRIGGER content_version_on_insert AFTER INSERT ON content
BEGIN
    UPDATE content_version SET version = version + 1;
END;
CREATE TRIGGER content_version_on_update AFTER UPDATE ON content
BEGIN
    UPDATE content_version SET version = version + 1;
END;
CREATE TRIGGER content_version_on_delete AFTER DELETE ON content
BEGIN
    UPDATE content_version SET version = version + 1;
END;
