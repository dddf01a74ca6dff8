-- shipstar database schema for PostgreSQL (14 or later): the full current schema, version 7,
-- applied to a fresh database. It holds what schema.sql holds for SQLite: the same tables, the
-- same columns in the same order, the same NOT NULL, defaults, CHECK, UNIQUE and foreign keys,
-- the same indexes, and triggers with the same effect. A test (tests/integration/schemas.rs)
-- loads both and compares them.
--
-- Types, chosen so every query reads and compares the same values on both backends:
--   INTEGER -> BIGINT        SQLite integers are 64-bit; PostgreSQL's INTEGER is 32-bit. The
--                            0/1 flags (is_*) stay BIGINT too, since the queries compare them
--                            with 0 and 1.
--   TEXT    -> TEXT COLLATE "C"   byte order, as SQLite compares text, so ORDER BY, UNIQUE and
--                            the slug range scans agree with SQLite whatever the database's
--                            default collation.
--   BLOB    -> BYTEA
-- Timestamps are BIGINT unix seconds (UTC) everywhere; ids are UUID v4 text.
--
-- Two things exist here only, both documented exceptions of the comparison test:
--   rowid            Every table but content_published_counts (WITHOUT ROWID in SQLite) ends
--                    with `rowid BIGINT GENERATED ALWAYS AS IDENTITY`, the stand-in for SQLite's
--                    implicit rowid: the queries break ties on it (ORDER BY created_at, rowid),
--                    and it grows with insertion order as SQLite's does. Indexes that serve such
--                    an ordering list it last, as a SQLite index holds the rowid implicitly.
--   schema_version   One row holding the schema version, where SQLite uses PRAGMA user_version.
--                    Migrations update it in the same transaction as their changes.
--
-- audit_events.seq is SQLite's INTEGER PRIMARY KEY (an alias of the rowid there), here an
-- identity column BY DEFAULT: assigned on insert like SQLite's, and accepting explicit values
-- so a copy keeps them (a copy then moves the sequence past the largest one with setval).

CREATE TABLE schema_version (
    version         BIGINT NOT NULL
);
INSERT INTO schema_version (version) VALUES (7);

CREATE TABLE users (
    id              TEXT COLLATE "C" PRIMARY KEY,
    email           TEXT COLLATE "C" NOT NULL UNIQUE,   -- stored lower-cased: lookups are case-insensitive
    password_hash   TEXT COLLATE "C" NOT NULL,          -- Argon2id PHC string
    first_name      TEXT COLLATE "C",
    last_name       TEXT COLLATE "C",
    is_active       BIGINT NOT NULL DEFAULT 1,
    is_verified     BIGINT NOT NULL DEFAULT 0,
    is_superuser    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    deactivated_at  BIGINT,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE sessions (
    id              TEXT COLLATE "C" PRIMARY KEY,
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    generation      BIGINT NOT NULL DEFAULT 0,          -- the `gen` claim of the one live token
    rotated_at      BIGINT NOT NULL,                    -- when `generation` was issued
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    token_expires_at BIGINT NOT NULL,                   -- `exp` of the newest token issued
    user_agent      TEXT COLLATE "C",
    ip              TEXT COLLATE "C",
    revoked_at      BIGINT,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE signing_keys (
    kid             TEXT COLLATE "C" PRIMARY KEY,
    secret          BYTEA,                              -- HMAC key; never logged or printed; NULL once retired and for configured keys
    is_configured   BIGINT NOT NULL DEFAULT 0,          -- jwt_secret or a fallback: the configuration holds the secret
    created_at      BIGINT NOT NULL,                    -- began signing (configured: first start that saw it)
    superseded_at   BIGINT,                             -- a newer key signs from here on: only tokens with iat <= this verify
    retired_at      BIGINT,                             -- verifies nothing from here on
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
-- Counts every change to signing_keys (triggers below). The per-request session lookup reads
-- it in the same statement, so a running server notices a retirement on the very next request
-- without a query of its own.
CREATE TABLE signing_keys_version (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    version         BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
INSERT INTO signing_keys_version (id, version) VALUES (1, 0);
-- One row-level trigger per event, as in SQLite, all bumping the counter once per changed row.
CREATE FUNCTION signing_keys_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE signing_keys_version SET version = version + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER signing_keys_version_on_insert AFTER INSERT ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION signing_keys_version_bump();
CREATE TRIGGER signing_keys_version_on_update AFTER UPDATE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION signing_keys_version_bump();
CREATE TRIGGER signing_keys_version_on_delete AFTER DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION signing_keys_version_bump();

CREATE TABLE teams (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    slug            TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE team_members (
    team_id         TEXT COLLATE "C" NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT COLLATE "C" NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    added_at        BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members(user_id);

CREATE TABLE projects (
    id              TEXT COLLATE "C" PRIMARY KEY,
    team_id         TEXT COLLATE "C" NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    name            TEXT COLLATE "C" NOT NULL,
    slug            TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX projects_by_team ON projects(team_id);

-- deactivated_reason: NULL, or 'leak_reported' when a leak report switched the key off (then
-- leak_report_url holds the report's URL, if it gave one).
CREATE TABLE api_keys (
    id              TEXT COLLATE "C" PRIMARY KEY,
    project_id      TEXT COLLATE "C" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name            TEXT COLLATE "C" NOT NULL,
    key_hash        TEXT COLLATE "C" NOT NULL UNIQUE,   -- hex SHA-256 of the whole key; the key itself is never stored
    key_prefix      TEXT COLLATE "C" NOT NULL,          -- sk_live_ + 8 characters, to name the key
    created_by      TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    expires_in_days BIGINT,                             -- the relative expiry rule, reapplied on roll
    last_used_at    BIGINT,
    is_active       BIGINT NOT NULL DEFAULT 1,
    deactivated_at  BIGINT,
    retires_at      BIGINT,                             -- set by roll: the key stops working then
    deactivated_reason TEXT COLLATE "C",
    leak_report_url TEXT COLLATE "C",
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX api_keys_by_project ON api_keys(project_id, created_at, rowid);

CREATE TABLE api_key_usage (
    key_id          TEXT COLLATE "C" NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    day             TEXT COLLATE "C" NOT NULL,          -- UTC date, YYYY-MM-DD
    requests        BIGINT NOT NULL DEFAULT 0,
    rejected        BIGINT NOT NULL DEFAULT 0,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (key_id, day)
);

-- Published content (changelogs, blog posts, knowledge-base article sets).
CREATE TABLE content (
    id              TEXT COLLATE "C" PRIMARY KEY,
    project_id      TEXT COLLATE "C" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind            TEXT COLLATE "C" NOT NULL CHECK (kind IN ('changelog', 'blog', 'kb')),
    title           TEXT COLLATE "C" NOT NULL,
    body            TEXT COLLATE "C" NOT NULL,          -- the item's `content`: JSON text or Markdown
    period_start    BIGINT,
    period_end      BIGINT,
    public_slug     TEXT COLLATE "C",                   -- kept when unpublished, so republishing keeps the URL
    is_published    BIGINT NOT NULL DEFAULT 0,
    published_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
-- A slug names one item per kind.
CREATE UNIQUE INDEX content_slugs ON content(kind, public_slug) WHERE public_slug IS NOT NULL;
-- Public lists: newest published first (ties: newest row first), without scanning drafts.
CREATE INDEX content_published ON content(kind, published_at, rowid) WHERE is_published = 1;
CREATE INDEX content_published_by_project ON content(project_id, kind, published_at, rowid)
    WHERE is_published = 1;
-- Authoring lists: a project's items, newest first.
CREATE INDEX content_by_project ON content(project_id, created_at, rowid);
-- Published items per project and kind, kept by the triggers below, so that a public list's
-- X-Total-Count is a sum over projects rather than a count over every published item.
-- WITHOUT ROWID in SQLite, so no rowid column here either.
CREATE TABLE content_published_counts (
    kind            TEXT COLLATE "C" NOT NULL,
    project_id      TEXT COLLATE "C" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    published       BIGINT NOT NULL,
    PRIMARY KEY (kind, project_id)
);
-- The upserts name the table in `SET`: there an unqualified column would be ambiguous between
-- the existing row and EXCLUDED.
CREATE FUNCTION content_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO content_published_counts (kind, project_id, published)
        VALUES (NEW.kind, NEW.project_id, 1)
        ON CONFLICT (kind, project_id)
        DO UPDATE SET published = content_published_counts.published + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER content_counts_on_insert AFTER INSERT ON content
    FOR EACH ROW WHEN (NEW.is_published = 1) EXECUTE FUNCTION content_counts_on_insert();
CREATE FUNCTION content_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE content_published_counts SET published = published - 1
        WHERE kind = OLD.kind AND project_id = OLD.project_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER content_counts_on_delete AFTER DELETE ON content
    FOR EACH ROW WHEN (OLD.is_published = 1) EXECUTE FUNCTION content_counts_on_delete();
CREATE FUNCTION content_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE content_published_counts SET published = published - OLD.is_published
        WHERE kind = OLD.kind AND project_id = OLD.project_id;
    INSERT INTO content_published_counts (kind, project_id, published)
        VALUES (NEW.kind, NEW.project_id, NEW.is_published)
        ON CONFLICT (kind, project_id)
        DO UPDATE SET published = content_published_counts.published + NEW.is_published;
    RETURN NULL;
END;
$$;
CREATE TRIGGER content_counts_on_update AFTER UPDATE OF is_published, kind, project_id ON content
    FOR EACH ROW
    WHEN (OLD.is_published <> NEW.is_published OR OLD.kind <> NEW.kind
        OR OLD.project_id <> NEW.project_id)
    EXECUTE FUNCTION content_counts_on_update();

-- Counts every change to content: a server keeping documents built from published content
-- (the list feeds) serves them only while this is unchanged, so a write by any process on this
-- database is seen by the next request.
CREATE TABLE content_version (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    version         BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
INSERT INTO content_version (id, version) VALUES (1, 0);
CREATE FUNCTION content_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE content_version SET version = version + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER content_version_on_insert AFTER INSERT ON content
    FOR EACH ROW EXECUTE FUNCTION content_version_bump();
CREATE TRIGGER content_version_on_update AFTER UPDATE ON content
    FOR EACH ROW EXECUTE FUNCTION content_version_bump();
CREATE TRIGGER content_version_on_delete AFTER DELETE ON content
    FOR EACH ROW EXECUTE FUNCTION content_version_bump();

-- The audit log (key-security.md). Append-only: rows are inserted in the same transaction as
-- the change they record and deleted only by age (audit_retention_days).
-- No foreign keys: an event outlives the user, key or item it names.
CREATE TABLE audit_events (
    seq             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, -- insertion order: ties within one second
    id              TEXT COLLATE "C" NOT NULL UNIQUE,   -- UUID
    at              BIGINT NOT NULL,
    action          TEXT COLLATE "C" NOT NULL,          -- e.g. api_key.created
    actor_type      TEXT COLLATE "C" NOT NULL CHECK (actor_type IN ('user', 'key', 'cli', 'system', 'anonymous')),
    actor_id        TEXT COLLATE "C",
    actor_label     TEXT COLLATE "C",                   -- an email or a key prefix, never a secret
    target_type     TEXT COLLATE "C",
    target_id       TEXT COLLATE "C",
    target_label    TEXT COLLATE "C",
    team_id         TEXT COLLATE "C",
    project_id      TEXT COLLATE "C",
    ip              TEXT COLLATE "C",
    user_agent      TEXT COLLATE "C",
    details         TEXT COLLATE "C" NOT NULL DEFAULT '{}', -- JSON object: what changed, never a secret
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX audit_events_by_time ON audit_events(at);
CREATE INDEX audit_events_by_team ON audit_events(team_id, at) WHERE team_id IS NOT NULL;
CREATE INDEX audit_events_by_actor ON audit_events(actor_id, at) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_events_by_target ON audit_events(target_id, at) WHERE target_id IS NOT NULL;

-- Key activity (key-security.md): the distinct client addresses and user agents that used
-- each key in the last 30 days, at most 100 of each per key.
CREATE TABLE api_key_ips (
    key_id          TEXT COLLATE "C" NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    ip              TEXT COLLATE "C" NOT NULL,          -- the resolved client address
    first_seen_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    requests        BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (key_id, ip)
);
CREATE INDEX api_key_ips_by_time ON api_key_ips(key_id, last_seen_at);
CREATE TABLE api_key_user_agents (
    key_id          TEXT COLLATE "C" NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    user_agent      TEXT COLLATE "C" NOT NULL,          -- at most 256 characters (longer ones cut)
    first_seen_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    requests        BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (key_id, user_agent)
);
CREATE INDEX api_key_user_agents_by_time ON api_key_user_agents(key_id, last_seen_at);

-- Version 7: state the nodes share (upgrades/0007_shared_state.sql explains it). The
-- rate-limit buckets are UNLOGGED: rewritten many times a second, and losing them in a crash
-- only refills every bucket.
CREATE UNLOGGED TABLE rate_limit_buckets (
    class           TEXT COLLATE "C" NOT NULL,
    client_hash     TEXT COLLATE "C" NOT NULL,
    tat             BIGINT NOT NULL,
    admitted        BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (class, client_hash)
);
CREATE INDEX rate_limit_buckets_by_tat ON rate_limit_buckets(tat);
CREATE TABLE setup_tokens (
    token_hash      TEXT COLLATE "C" PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
