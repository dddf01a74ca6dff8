-- Version 2: published content (changelogs, blog posts, knowledge-base article sets).
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
