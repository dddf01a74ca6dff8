-- Version 3: signing keys record when a newer key took over (older keys then verify only the
-- tokens they signed before) and when they were retired; configured keys get rows of their own
-- (without the secret) so a fallback's takeover moment is kept; a counter of changes lets a
-- running server notice a retirement at once.
ALTER TABLE signing_keys RENAME TO signing_keys_v2;
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    secret          BLOB,                           -- HMAC key; never logged or printed; NULL once retired and for configured keys
    is_configured   INTEGER NOT NULL DEFAULT 0,     -- jwt_secret or a fallback: the configuration holds the secret
    created_at      INTEGER NOT NULL,               -- began signing (configured: first start that saw it)
    superseded_at   INTEGER,                        -- a newer key signs from here on: only tokens with iat <= this verify
    retired_at      INTEGER                         -- verifies nothing from here on
);
-- Every key but the newest was superseded when the next newer one was added.
INSERT INTO signing_keys (kid, secret, created_at, superseded_at)
    SELECT o.kid, o.secret, o.created_at,
           (SELECT min(n.created_at) FROM signing_keys_v2 n
             WHERE (n.created_at, n.rowid) > (o.created_at, o.rowid))
    FROM signing_keys_v2 o ORDER BY o.created_at, o.rowid;
DROP TABLE signing_keys_v2;
-- Counts every change to signing_keys (triggers below). The per-request session lookup reads
-- it in the same statement, so a running server notices a retirement on the very next request
-- without a query of its own.
CREATE TABLE signing_keys_version (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    version         INTEGER NOT NULL
);
INSERT INTO signing_keys_version (id, version) VALUES (1, 0);
CREATE TRIGGER signing_keys_version_on_insert AFTER INSERT ON signing_keys
BEGIN
    UPDATE signing_keys_version SET version = version + 1;
END;
CREATE TRIGGER signing_keys_version_on_update AFTER UPDATE ON signing_keys
BEGIN
    UPDATE signing_keys_version SET version = version + 1;
END;
CREATE TRIGGER signing_keys_version_on_delete AFTER DELETE ON signing_keys
BEGIN
    UPDATE signing_keys_version SET version = version + 1;
END;
