-- shipstar database schema: the full current schema, applied to a fresh database.
-- Older databases are upgraded by the migrations in src/store/migrations.rs, in order.
-- Timestamps are INTEGER unix seconds (UTC) everywhere; ids are UUID v4 text.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,           -- stored lower-cased: lookups are case-insensitive
    password_hash   TEXT NOT NULL,                  -- Argon2id PHC string
    first_name      TEXT,
    last_name       TEXT,
    is_active       INTEGER NOT NULL DEFAULT 1,
    is_verified     INTEGER NOT NULL DEFAULT 0,
    is_superuser    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    deactivated_at  INTEGER
);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    generation      INTEGER NOT NULL DEFAULT 0,     -- the `gen` claim of the one live token
    rotated_at      INTEGER NOT NULL,               -- when `generation` was issued
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    token_expires_at INTEGER NOT NULL,              -- `exp` of the newest token issued
    user_agent      TEXT,
    ip              TEXT,
    revoked_at      INTEGER
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    secret          BLOB,                           -- HMAC key; never logged or printed; NULL once retired and for configured keys
    is_configured   INTEGER NOT NULL DEFAULT 0,     -- jwt_secret or a fallback: the configuration holds the secret
    created_at      INTEGER NOT NULL,               -- began signing (configured: first start that saw it)
    superseded_at   INTEGER,                        -- a newer key signs from here on: only tokens with iat <= this verify
    retired_at      INTEGER                         -- verifies nothing from here on
);
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

CREATE TABLE teams (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id         TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members(user_id);

CREATE TABLE projects (
    id              TEXT PRIMARY KEY,
    team_id         TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL
);
CREATE INDEX projects_by_team ON projects(team_id);

-- The last two columns arrived in version 6 by ALTER TABLE; they are written here exactly as
-- SQLite records an added column, so a fresh database and an upgraded one are identical.
-- deactivated_reason: NULL, or 'leak_reported' when a leak report switched the key off (then
-- leak_report_url holds the report's URL, if it gave one).
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,           -- hex SHA-256 of the whole key; the key itself is never stored
    key_prefix      TEXT NOT NULL,                  -- sk_live_ + 8 characters, to name the key
    created_by      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    expires_in_days INTEGER,                        -- the relative expiry rule, reapplied on roll
    last_used_at    INTEGER,
    is_active       INTEGER NOT NULL DEFAULT 1,
    deactivated_at  INTEGER,
    retires_at      INTEGER                         -- set by roll: the key stops working then
, deactivated_reason TEXT, leak_report_url TEXT);
CREATE INDEX api_keys_by_project ON api_keys(project_id, created_at);

CREATE TABLE api_key_usage (
    key_id          TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    day             TEXT NOT NULL,                  -- UTC date, YYYY-MM-DD
    requests        INTEGER NOT NULL DEFAULT 0,
    rejected        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);

-- Published content (changelogs, blog posts, knowledge-base article sets), since version 2.
CREATE TABLE content (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('changelog', 'blog', 'kb')),
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,                  -- the item's `content`: JSON text or Markdown
    period_start    INTEGER,
    period_end      INTEGER,
    public_slug     TEXT,                           -- kept when unpublished, so republishing keeps the URL
    is_published    INTEGER NOT NULL DEFAULT 0,
    published_at    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- A slug names one item per kind.
CREATE UNIQUE INDEX content_slugs ON content(kind, public_slug) WHERE public_slug IS NOT NULL;
-- Public lists: newest published first (ties: newest row first, read backwards from the
-- implicit rowid at the end of each entry), without scanning drafts.
CREATE INDEX content_published ON content(kind, published_at) WHERE is_published = 1;
CREATE INDEX content_published_by_project ON content(project_id, kind, published_at)
    WHERE is_published = 1;
-- Authoring lists: a project's items, newest first.
CREATE INDEX content_by_project ON content(project_id, created_at);
-- Published items per project and kind, kept by the triggers below, so that a public list's
-- X-Total-Count is a sum over projects rather than a count over every published item.
CREATE TABLE content_published_counts (
    kind            TEXT NOT NULL,
    project_id      TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    published       INTEGER NOT NULL,
    PRIMARY KEY (kind, project_id)
) WITHOUT ROWID;
CREATE TRIGGER content_counts_on_insert AFTER INSERT ON content WHEN NEW.is_published = 1
BEGIN
    INSERT INTO content_published_counts (kind, project_id, published)
        VALUES (NEW.kind, NEW.project_id, 1)
        ON CONFLICT (kind, project_id) DO UPDATE SET published = published + 1;
END;
CREATE TRIGGER content_counts_on_delete AFTER DELETE ON content WHEN OLD.is_published = 1
BEGIN
    UPDATE content_published_counts SET published = published - 1
        WHERE kind = OLD.kind AND project_id = OLD.project_id;
END;
CREATE TRIGGER content_counts_on_update AFTER UPDATE OF is_published, kind, project_id ON content
    WHEN OLD.is_published != NEW.is_published OR OLD.kind != NEW.kind
        OR OLD.project_id != NEW.project_id
BEGIN
    UPDATE content_published_counts SET published = published - OLD.is_published
        WHERE kind = OLD.kind AND project_id = OLD.project_id;
    INSERT INTO content_published_counts (kind, project_id, published)
        VALUES (NEW.kind, NEW.project_id, NEW.is_published)
        ON CONFLICT (kind, project_id) DO UPDATE SET published = published + NEW.is_published;
END;

-- Counts every change to content, since version 4: a server keeping documents built from
-- published content (the list feeds) serves them only while this is unchanged, so a write by
-- any process on this database is seen by the next request.
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

-- The audit log (key-security.md), since version 5. Append-only: rows are inserted in the
-- same transaction as the change they record and deleted only by age (audit_retention_days).
-- No foreign keys: an event outlives the user, key or item it names.
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

-- Key activity (key-security.md), since version 6: the distinct client addresses and user
-- agents that used each key in the last 30 days, at most 100 of each per key.
CREATE TABLE api_key_ips (
    key_id          TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    ip              TEXT NOT NULL,                  -- the resolved client address
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    requests        INTEGER NOT NULL,
    PRIMARY KEY (key_id, ip)
);
CREATE INDEX api_key_ips_by_time ON api_key_ips(key_id, last_seen_at);
CREATE TABLE api_key_user_agents (
    key_id          TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    user_agent      TEXT NOT NULL,                  -- at most 256 characters (longer ones cut)
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    requests        INTEGER NOT NULL,
    PRIMARY KEY (key_id, user_agent)
);
CREATE INDEX api_key_user_agents_by_time ON api_key_user_agents(key_id, last_seen_at);

-- State the nodes of one database share (scale-out.md), since version 7. Rate-limit buckets:
-- one GCRA theoretical arrival time per class and client (a SHA-256 of the client's key, never
-- the key); rows whose bucket has refilled are deleted.
CREATE TABLE rate_limit_buckets (
    class           TEXT NOT NULL,
    client_hash     TEXT NOT NULL,                  -- SHA-256 hex of the client's key
    tat             INTEGER NOT NULL,               -- unix milliseconds
    admitted        INTEGER NOT NULL,               -- 1 when the last spend was admitted
    PRIMARY KEY (class, client_hash)
);
CREATE INDEX rate_limit_buckets_by_tat ON rate_limit_buckets(tat);
-- The one-time setup links printed by the nodes, as SHA-256 of the token (never the token);
-- creating the first user deletes them all.
CREATE TABLE setup_tokens (
    token_hash      TEXT PRIMARY KEY,               -- SHA-256 hex of the token
    created_at      INTEGER NOT NULL
);
