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
