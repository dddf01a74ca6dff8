-- Version 5: the audit log (key-security.md). Append-only: rows are inserted in the same
-- transaction as the change they record and deleted only by age (audit_retention_days). No
-- foreign keys: an event outlives the user, key or item it names.
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY,            -- insertion order: ties within one second
    id              TEXT NOT NULL UNIQUE,           -- UUID
    at              INTEGER NOT NULL,
    action          TEXT NOT NULL,                  -- e.g. api_key.created
    actor_type      TEXT NOT NULL CHECK (actor_type IN ('user', 'key', 'cli', 'system', 'anonymous')),
    actor_id        TEXT,
    actor_label     TEXT,                           -- an email or a key prefix, never a secret
    target_type     TEXT,
    target_id       TEXT,
    target_label    TEXT,
    team_id         TEXT,
    project_id      TEXT,
    ip              TEXT,
    user_agent      TEXT,
    details         TEXT NOT NULL DEFAULT '{}'      -- JSON object: what changed, never a secret
);
CREATE INDEX audit_events_by_time ON audit_events(at);
CREATE INDEX audit_events_by_team ON audit_events(team_id, at) WHERE team_id IS NOT NULL;
CREATE INDEX audit_events_by_actor ON audit_events(actor_id, at) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_events_by_target ON audit_events(target_id, at) WHERE target_id IS NOT NULL;
