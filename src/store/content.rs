//! Content items (changelogs, blog posts, knowledge-base article sets) and their publication.
//!
//! Public reads go through partial indexes over published rows only, ordered the way the
//! lists are served, so a page costs the same whether the table holds ten items or a hundred
//! thousand, and drafts are never scanned.

use super::audit::{append, team_of_project, Audit, AuditAction, NewAuditEvent};
use super::db::{params, OptionalExtension, Row, ToValue};
use super::{column_count, ConflictOnUnique, FromRow, Store};
use crate::error::Error;
use crate::ids::{ContentId, ProjectId};
use serde_json::json;

/// The content columns (alias `c`, with the project's name from `p`) in the order
/// [`Content`]'s [`FromRow`] reads them. A macro so that `concat!` builds each statement at compile
/// time.
macro_rules! content_columns {
    () => {
        "c.id, c.project_id, p.name, c.kind, c.title, c.body, \
         c.period_start, c.period_end, c.public_slug, c.is_published, c.published_at, \
         c.created_at, c.updated_at"
    };
}

/// The public reads. Each list has two statement shapes rather than `?2 IS NULL OR ...`, so
/// that each uses its own partial index in order and the planner never falls back to a sort;
/// a test checks every plan.
const PUBLISHED_PAGE: &str = concat!(
    "SELECT ",
    content_columns!(),
    " FROM content c JOIN projects p ON p.id = c.project_id \
     WHERE c.kind = ?1 AND c.is_published = 1 \
     ORDER BY c.published_at DESC, c.rowid DESC LIMIT ?2 OFFSET ?3"
);
const PUBLISHED_TOTAL: &str =
    "SELECT CAST(coalesce(sum(published), 0) AS BIGINT) FROM content_published_counts WHERE kind = ?1";
const PUBLISHED_PAGE_OF_PROJECT: &str = concat!(
    "SELECT ",
    content_columns!(),
    " FROM content c JOIN projects p ON p.id = c.project_id \
     WHERE c.project_id = ?1 AND c.kind = ?2 AND c.is_published = 1 \
     ORDER BY c.published_at DESC, c.rowid DESC LIMIT ?3 OFFSET ?4"
);
const PUBLISHED_TOTAL_OF_PROJECT: &str = "SELECT CAST(coalesce(sum(published), 0) AS BIGINT) \
     FROM content_published_counts WHERE project_id = ?1 AND kind = ?2";
const PUBLISHED_BY_SLUG: &str = concat!(
    "SELECT ",
    content_columns!(),
    " FROM content c JOIN projects p ON p.id = c.project_id \
     WHERE c.kind = ?1 AND c.public_slug = ?2 AND c.is_published = 1"
);

/// The three kinds of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// A release changelog: JSON text with a title and entries.
    Changelog,
    /// A blog post: Markdown text.
    Blog,
    /// A knowledge-base article set: JSON text with articles.
    Kb,
}

impl ContentKind {
    /// The stored and API name: `changelog`, `blog` or `kb`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Changelog => "changelog",
            ContentKind::Blog => "blog",
            ContentKind::Kb => "kb",
        }
    }

    /// Parses the API name; `None` for anything else.
    pub fn parse(text: &str) -> Option<ContentKind> {
        match text {
            "changelog" => Some(ContentKind::Changelog),
            "blog" => Some(ContentKind::Blog),
            "kb" => Some(ContentKind::Kb),
            _ => None,
        }
    }
}

/// A stored content item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Its id.
    pub id: ContentId,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// That project's name.
    pub project_name: String,
    /// What it is.
    pub kind: ContentKind,
    /// Title.
    pub title: String,
    /// The text: JSON for changelogs and KB sets, Markdown for blog posts.
    pub body: String,
    /// Start of the period it covers (unix seconds).
    pub period_start: Option<i64>,
    /// End of that period.
    pub period_end: Option<i64>,
    /// Public slug, once published (kept when unpublished).
    pub public_slug: Option<String>,
    /// Visible on the public endpoints.
    pub is_published: bool,
    /// When it was (last) published; `None` while unpublished.
    pub published_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Last change of any field.
    pub updated_at: i64,
}

/// What is stored for a new (draft) item.
#[derive(Debug, Clone)]
pub struct NewContent {
    /// The project.
    pub project_id: ProjectId,
    /// Its kind.
    pub kind: ContentKind,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Period start.
    pub period_start: Option<i64>,
    /// Period end.
    pub period_end: Option<i64>,
}

/// Changes to an item; `None` leaves a field as it is, `Some(None)` clears a period bound.
#[derive(Debug, Clone, Default)]
pub struct ContentChanges {
    /// New title.
    pub title: Option<String>,
    /// New text.
    pub body: Option<String>,
    /// New period start.
    pub period_start: Option<Option<i64>>,
    /// New period end.
    pub period_end: Option<Option<i64>>,
}

/// Which of a project's items to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContentFilter {
    /// Only this kind.
    pub kind: Option<ContentKind>,
    /// Only published (`true`) or unpublished (`false`) items.
    pub published: Option<bool>,
}

/// A window of a list: at most `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Rows wanted.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// One page of a list and the number of rows in the whole list.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The rows of the page.
    pub items: Vec<Content>,
    /// Rows in the whole list.
    pub total: i64,
}

impl FromRow for Content {
    const COLUMNS: usize = column_count(content_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<Content> {
        let kind: String = row.get(first + 3)?;
        let kind = ContentKind::parse(&kind).ok_or_else(|| super::db::DbError::Conversion {
            index: first + 3,
            why: format!("unknown content kind {kind:?}"),
        })?;
        Ok(Content {
            id: row.get(first)?,
            project_id: row.get(first + 1)?,
            project_name: row.get(first + 2)?,
            kind,
            title: row.get(first + 4)?,
            body: row.get(first + 5)?,
            period_start: row.get(first + 6)?,
            period_end: row.get(first + 7)?,
            public_slug: row.get(first + 8)?,
            is_published: row.get(first + 9)?,
            published_at: row.get(first + 10)?,
            created_at: row.get(first + 11)?,
            updated_at: row.get(first + 12)?,
        })
    }
}

pub(super) fn select_content(
    conn: &super::db::Connection,
    id: &str,
) -> Result<Option<Content>, Error> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        content_columns!(),
        " FROM content c JOIN projects p ON p.id = c.project_id WHERE c.id = ?1"
    ))?;
    Ok(stmt.query_row(params![id], Content::from_row).optional()?)
}

fn content_not_found() -> Error {
    Error::NotFound("Content not found".into())
}

/// Runs a page query and its count query with the same parameters.
fn list_page(
    conn: &super::db::Connection,
    select: &str,
    count: &str,
    args: &[&dyn ToValue],
    page: Page,
) -> Result<Listed, Error> {
    let total: i64 = conn
        .prepare_cached(count)
        .and_then(|mut stmt| stmt.query_row(args, |row| row.get(0)))?;
    if total <= page.offset {
        return Ok(Listed {
            items: Vec::new(),
            total,
        });
    }
    let mut paged: Vec<&dyn ToValue> = args.to_vec();
    paged.push(&page.limit);
    paged.push(&page.offset);
    let mut stmt = conn.prepare_cached(select)?;
    let rows = stmt.query_map(paged.as_slice(), Content::from_row)?;
    let items = rows.collect::<Result<_, _>>()?;
    Ok(Listed { items, total })
}

/// An event of `action` by `audit` about `item` (labelled by its title), in its project and
/// that project's team (read on `conn`, inside the change's transaction).
fn content_event(
    conn: &super::db::Connection,
    audit: &Audit,
    action: AuditAction,
    item: &Content,
    now: i64,
) -> Result<NewAuditEvent, Error> {
    let team_id = team_of_project(conn, &item.project_id)?;
    Ok(audit
        .event(action, now)
        .target("content", &item.id, Some(&item.title))
        .team(&team_id)
        .project(&item.project_id))
}

/// Publishes `item` under `slug` inside `tx` (see [`Store::publish_content`]) with its
/// `content.published` event by `audit` (details: the slug, and the earlier one when it
/// moves). Already published under `slug`, nothing changes and nothing is recorded.
pub(super) fn publish_as(
    tx: &super::db::Connection,
    mut item: Content,
    slug: &str,
    audit: &Audit,
    now: i64,
) -> Result<Content, Error> {
    if item.is_published && item.public_slug.as_deref() == Some(slug) {
        return Ok(item);
    }
    let moved_from = item.public_slug.clone().filter(|_| item.is_published);
    let published_at = item
        .published_at
        .filter(|_| item.is_published)
        .unwrap_or(now);
    tx.prepare_cached(
        "UPDATE content SET public_slug = ?2, is_published = 1, published_at = ?3, \
         updated_at = ?4 WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![item.id, slug, published_at, now]))
    .conflict_on_unique(|| {
        Error::Conflict(format!(
            "The slug '{slug}' is already used by another {}",
            item.kind.as_str()
        ))
    })?;
    item.public_slug = Some(slug.to_string());
    item.is_published = true;
    item.published_at = Some(published_at);
    item.updated_at = now;
    let details = match moved_from {
        Some(old) => json!({"slug": slug, "old_slug": old}),
        None => json!({"slug": slug}),
    };
    let event =
        content_event(tx, audit, AuditAction::ContentPublished, &item, now)?.details(details);
    append(tx, &event)?;
    Ok(item)
}

/// The first of `base`, `base-2`, `base-3`, ... that no item of `kind` holds.
pub(super) fn first_free_slug(
    conn: &super::db::Connection,
    kind: ContentKind,
    base: &str,
) -> Result<String, Error> {
    // Slugs are `[a-z0-9-]`, so every `base-...` sorts between `base-` and `base.` ('.'
    // follows '-'): a range over the unique slug index, not a scan.
    let prefix = format!("{base}-");
    let upper = format!("{base}.");
    let mut stmt = conn.prepare_cached(
        "SELECT public_slug FROM content WHERE kind = ?1 \
         AND (public_slug = ?2 OR (public_slug > ?3 AND public_slug < ?4))",
    )?;
    let slugs = stmt
        .query_map(params![kind.as_str(), base, prefix, upper], |row| {
            row.get::<String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let taken: std::collections::HashSet<u64> = slugs
        .iter()
        .filter_map(|slug| {
            if slug == base {
                return Some(1);
            }
            let suffix = slug.strip_prefix(&prefix)?;
            let n: u64 = suffix.parse().ok()?;
            // Only the canonical spelling: `base-02` does not hold `base-2`.
            (n >= 2 && n.to_string() == suffix).then_some(n)
        })
        .collect();
    let free = (1..).find(|n| !taken.contains(n)).unwrap_or(1);
    Ok(if free == 1 {
        base.to_string()
    } else {
        format!("{base}-{free}")
    })
}

/// Inserts a new draft inside `tx` with its `content.created` event by `audit` (details: its
/// type), and returns it. Every way content is made (route, MCP, seed) comes through here.
pub(super) fn insert_content(
    tx: &super::db::Transaction,
    new: &NewContent,
    audit: &Audit,
    now: i64,
) -> Result<Content, Error> {
    let id = ContentId::new_v4();
    tx.prepare_cached(
        "INSERT INTO content (id, project_id, kind, title, body, period_start, \
         period_end, is_published, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            id,
            new.project_id,
            new.kind.as_str(),
            new.title,
            new.body,
            new.period_start,
            new.period_end,
            now
        ])
    })?;
    let item = select_content(tx, &id)?.ok_or_else(content_not_found)?;
    let event = content_event(tx, audit, AuditAction::ContentCreated, &item, now)?
        .details(json!({"type": item.kind.as_str()}));
    append(tx, &event)?;
    Ok(item)
}

impl Store {
    /// A number that changes with every committed write to content (create, update,
    /// publish, unpublish, delete) by any process on this database, and only then: the
    /// `content_version` counter, raised by triggers in the write's own transaction.
    ///
    /// A reader that takes the number *before* reading content may keep what it read under
    /// that number: while the number is unchanged no write has committed since, so the kept
    /// copy is what a fresh read would give. One indexed single-row read.
    pub fn content_generation(&self) -> Result<u64, Error> {
        let conn = self.conn()?;
        let version: i64 = conn
            .prepare_cached("SELECT version FROM content_version WHERE id = 1")
            .and_then(|mut stmt| stmt.query_row(params![], |row| row.get(0)))?;
        // The counter starts at 0 and only grows.
        Ok(u64::try_from(version).unwrap_or_default())
    }

    /// Stores a new draft and its `content.created` event by `audit`, in one transaction.
    pub fn create_content(
        &self,
        new: &NewContent,
        audit: &Audit,
        now: i64,
    ) -> Result<Content, Error> {
        self.write(|tx| insert_content(tx, new, audit, now))
    }

    /// The item with this id, published or not.
    pub fn content_by_id(&self, id: &ContentId) -> Result<Option<Content>, Error> {
        let conn = self.conn()?;
        select_content(&conn, id)
    }

    /// A project's items matching `filter`, newest created first.
    pub fn content_of_project(
        &self,
        project_id: &ProjectId,
        filter: ContentFilter,
        page: Page,
    ) -> Result<Listed, Error> {
        let conn = self.conn()?;
        // NULL parameters switch a condition off, so one cached statement serves every filter.
        let kind = filter.kind.map(ContentKind::as_str);
        let args: [&dyn ToValue; 3] = [&project_id, &kind, &filter.published];
        macro_rules! conditions {
            () => {
                "c.project_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR c.kind = ?2) \
                 AND (CAST(?3 AS BIGINT) IS NULL OR c.is_published = ?3)"
            };
        }
        list_page(
            &conn,
            concat!(
                "SELECT ",
                content_columns!(),
                " FROM content c JOIN projects p ON p.id = c.project_id WHERE ",
                conditions!(),
                " ORDER BY c.created_at DESC, c.rowid DESC LIMIT ?4 OFFSET ?5"
            ),
            concat!("SELECT count(*) FROM content c WHERE ", conditions!()),
            &args,
            page,
        )
    }

    /// Applies `changes` to item `id` (404 if absent) and returns it, with its
    /// `content.updated` event by `audit` in the same transaction (details: the names of the
    /// fields whose value changed, as the API names them). Changes that leave every value as
    /// it is write nothing at all: no row, no event, no new feed generation.
    pub fn update_content(
        &self,
        id: &ContentId,
        changes: &ContentChanges,
        audit: &Audit,
        now: i64,
    ) -> Result<Content, Error> {
        self.write(|tx| {
            let mut item = select_content(tx, id)?.ok_or_else(content_not_found)?;
            let mut fields: Vec<&str> = Vec::new();
            if let Some(title) = changes.title.as_ref().filter(|t| **t != item.title) {
                item.title = title.clone();
                fields.push("title");
            }
            if let Some(body) = changes.body.as_ref().filter(|b| **b != item.body) {
                item.body = body.clone();
                fields.push("content");
            }
            if let Some(start) = changes.period_start.filter(|s| *s != item.period_start) {
                item.period_start = start;
                fields.push("period_start");
            }
            if let Some(end) = changes.period_end.filter(|e| *e != item.period_end) {
                item.period_end = end;
                fields.push("period_end");
            }
            if fields.is_empty() {
                return Ok(item);
            }
            item.updated_at = now;
            tx.prepare_cached(
                "UPDATE content SET title = ?2, body = ?3, period_start = ?4, period_end = ?5, \
                 updated_at = ?6 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    item.id,
                    item.title,
                    item.body,
                    item.period_start,
                    item.period_end,
                    now
                ])
            })?;
            let event = content_event(tx, audit, AuditAction::ContentUpdated, &item, now)?
                .details(json!({"fields": fields}));
            append(tx, &event)?;
            Ok(item)
        })
    }

    /// Publishes item `id` under `slug`, recording `content.published` by `audit`. Publishing
    /// an item already published under that slug changes (and records) nothing; under another
    /// slug, it moves (keeping `published_at`). A slug held by another item of the same kind
    /// is a 409.
    pub fn publish_content(
        &self,
        id: &ContentId,
        slug: &str,
        audit: &Audit,
        now: i64,
    ) -> Result<Content, Error> {
        self.write(|tx| {
            let item = select_content(tx, id)?.ok_or_else(content_not_found)?;
            publish_as(tx, item, slug, audit, now)
        })
    }

    /// Publishes item `id` under the first of `base`, `base-2`, `base-3`, ... that no item of
    /// its kind holds (published or not), recording `content.published` by `audit`. The
    /// choice and the write share one transaction, so a concurrent publish cannot take the
    /// slug in between, and there is no limit on how many items may share a title.
    pub fn publish_content_derived(
        &self,
        id: &ContentId,
        base: &str,
        audit: &Audit,
        now: i64,
    ) -> Result<Content, Error> {
        self.write(|tx| {
            let item = select_content(tx, id)?.ok_or_else(content_not_found)?;
            let slug = first_free_slug(tx, item.kind, base)?;
            publish_as(tx, item, &slug, audit, now)
        })
    }

    /// Takes item `id` off the public endpoints (it keeps its slug for a later republish),
    /// recording `content.unpublished` by `audit` (details: the slug). An item that is not
    /// published changes (and records) nothing.
    pub fn unpublish_content(
        &self,
        id: &ContentId,
        audit: &Audit,
        now: i64,
    ) -> Result<Content, Error> {
        self.write(|tx| {
            let mut item = select_content(tx, id)?.ok_or_else(content_not_found)?;
            if !item.is_published {
                return Ok(item);
            }
            tx.prepare_cached(
                "UPDATE content SET is_published = 0, published_at = NULL, updated_at = ?2 \
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![id, now]))?;
            item.is_published = false;
            item.published_at = None;
            item.updated_at = now;
            let event = content_event(tx, audit, AuditAction::ContentUnpublished, &item, now)?
                .details(json!({"slug": item.public_slug}));
            append(tx, &event)?;
            Ok(item)
        })
    }

    /// Deletes item `id` with its `content.deleted` event by `audit` in the same transaction
    /// (details: its type); false (and no event) when it did not exist.
    pub fn delete_content(&self, id: &ContentId, audit: &Audit, now: i64) -> Result<bool, Error> {
        self.write(|tx| {
            let Some(item) = select_content(tx, id)? else {
                return Ok(false);
            };
            let event = content_event(tx, audit, AuditAction::ContentDeleted, &item, now)?
                .details(json!({"type": item.kind.as_str()}));
            tx.prepare_cached("DELETE FROM content WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute(params![id]))?;
            append(tx, &event)?;
            Ok(true)
        })
    }

    /// Published items of `kind`, newest `published_at` first; only those of `project_id`
    /// when given.
    pub fn published_content(
        &self,
        kind: ContentKind,
        project_id: Option<&str>,
        page: Page,
    ) -> Result<Listed, Error> {
        let conn = self.conn()?;
        let kind = kind.as_str();
        match project_id {
            None => list_page(&conn, PUBLISHED_PAGE, PUBLISHED_TOTAL, &[&kind], page),
            Some(project_id) => list_page(
                &conn,
                PUBLISHED_PAGE_OF_PROJECT,
                PUBLISHED_TOTAL_OF_PROJECT,
                &[&project_id, &kind],
                page,
            ),
        }
    }

    /// The published item of `kind` with this slug.
    pub fn published_by_slug(
        &self,
        kind: ContentKind,
        slug: &str,
    ) -> Result<Option<Content>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(PUBLISHED_BY_SLUG)?;
        Ok(stmt
            .query_row(params![kind.as_str(), slug], Content::from_row)
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    fn project(store: &Store) -> crate::ids::ProjectId {
        let owner = store
            .create_user(
                &crate::store::NewUser::with_hash(
                    crate::email::Email::parse("owner@example.com").unwrap(),
                    "x".into(),
                ),
                &crate::store::Audit::cli("test"),
                "test",
                1,
            )
            .unwrap();
        let team = store
            .create_team(
                "Acme",
                "acme",
                &owner.id,
                &crate::store::Audit::cli("test"),
                1,
            )
            .unwrap();
        store
            .create_project(&team.id, "Web", "web", &crate::store::Audit::cli("test"), 1)
            .unwrap()
            .id
    }

    fn draft(
        store: &Store,
        project_id: &ProjectId,
        kind: ContentKind,
        title: &str,
        now: i64,
    ) -> Content {
        store
            .create_content(
                &NewContent {
                    project_id: project_id.clone(),
                    kind,
                    title: title.into(),
                    body: "text".into(),
                    period_start: None,
                    period_end: None,
                },
                &by(),
                now,
            )
            .unwrap()
    }

    /// The actor of the tests' writes.
    fn by() -> Audit {
        Audit::cli("test")
    }

    const ALL: Page = Page {
        limit: 100,
        offset: 0,
    };

    #[test]
    fn a_write_by_another_handle_on_the_same_file_raises_the_generation() {
        // Another process (`shipstar seed` beside a running server) opens its own handle.
        let temp = temp_store();
        let other = Store::open(temp.store.path().unwrap()).unwrap();
        let before = temp.store.content_generation().unwrap();
        let project_id = project(&other);
        draft(&other, &project_id, ContentKind::Blog, "From elsewhere", 10);
        assert!(temp.store.content_generation().unwrap() > before);
    }

    #[test]
    fn every_content_write_and_only_that_raises_the_generation() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        let mut last = store.content_generation().unwrap();
        let mut changed = |what: &str| {
            let now = store.content_generation().unwrap();
            assert!(now > last, "{what} did not raise the generation");
            last = now;
        };
        let item = draft(store, &project_id, ContentKind::Blog, "A", 10);
        changed("create");
        let changes = ContentChanges {
            title: Some("B".into()),
            body: None,
            period_start: None,
            period_end: None,
        };
        store.update_content(&item.id, &changes, &by(), 11).unwrap();
        changed("update");
        store.publish_content(&item.id, "a", &by(), 12).unwrap();
        changed("publish");
        store.unpublish_content(&item.id, &by(), 13).unwrap();
        changed("unpublish");
        store
            .publish_content_derived(&item.id, "b", &by(), 14)
            .unwrap();
        changed("publish with a derived slug");
        let before_reads = store.content_generation().unwrap();
        store
            .published_content(ContentKind::Blog, None, ALL)
            .unwrap();
        store.published_by_slug(ContentKind::Blog, "b").unwrap();
        store.content_by_id(&item.id).unwrap();
        assert_eq!(
            store.content_generation().unwrap(),
            before_reads,
            "reads change nothing"
        );
        assert!(store.delete_content(&item.id, &by(), 99).unwrap());
        let now = store.content_generation().unwrap();
        assert!(now > before_reads, "delete did not raise the generation");
    }

    #[test]
    fn publish_lists_newest_first_and_unpublish_hides() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        let a = draft(store, &project_id, ContentKind::Changelog, "A", 10);
        let b = draft(store, &project_id, ContentKind::Changelog, "B", 11);
        store.publish_content(&a.id, "a", &by(), 20).unwrap();
        store.publish_content(&b.id, "b", &by(), 30).unwrap();
        let listed = store
            .published_content(ContentKind::Changelog, None, ALL)
            .unwrap();
        assert_eq!(listed.total, 2);
        let slugs: Vec<_> = listed.items.iter().map(|c| c.public_slug.clone()).collect();
        assert_eq!(slugs, [Some("b".into()), Some("a".into())]);
        store.unpublish_content(&b.id, &by(), 40).unwrap();
        assert!(store
            .published_by_slug(ContentKind::Changelog, "b")
            .unwrap()
            .is_none());
        let listed = store
            .published_content(ContentKind::Changelog, Some(&project_id), ALL)
            .unwrap();
        assert_eq!(listed.total, 1);
        // Blog posts are a separate list.
        assert_eq!(
            store
                .published_content(ContentKind::Blog, None, ALL)
                .unwrap()
                .total,
            0
        );
    }

    #[test]
    fn items_published_in_the_same_second_list_newest_row_first() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        for name in ["one", "two", "three"] {
            let item = draft(store, &project_id, ContentKind::Changelog, name, 5);
            store.publish_content(&item.id, name, &by(), 7).unwrap();
        }
        let titles = |listed: Listed| -> Vec<String> {
            listed.items.into_iter().map(|item| item.title).collect()
        };
        let public = store
            .published_content(ContentKind::Changelog, None, ALL)
            .unwrap();
        assert_eq!(titles(public), ["three", "two", "one"]);
        let authoring = store
            .content_of_project(&project_id, ContentFilter::default(), ALL)
            .unwrap();
        assert_eq!(titles(authoring), ["three", "two", "one"]);
    }

    #[test]
    fn published_counts_follow_publish_unpublish_and_delete() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        let total = |kind| store.published_content(kind, None, ALL).unwrap().total;
        let items: Vec<Content> = (0..3)
            .map(|n| draft(store, &project_id, ContentKind::Blog, &format!("b{n}"), n))
            .collect();
        for item in &items {
            store
                .publish_content(&item.id, &item.title, &by(), 10)
                .unwrap();
        }
        // Publishing again changes nothing.
        store
            .publish_content(&items[0].id, "b0", &by(), 11)
            .unwrap();
        assert_eq!(total(ContentKind::Blog), 3);
        assert_eq!(total(ContentKind::Changelog), 0);
        store.unpublish_content(&items[0].id, &by(), 12).unwrap();
        store.unpublish_content(&items[0].id, &by(), 13).unwrap();
        assert_eq!(total(ContentKind::Blog), 2);
        assert!(store.delete_content(&items[1].id, &by(), 99).unwrap());
        assert!(store.delete_content(&items[0].id, &by(), 99).unwrap());
        let listed = store
            .published_content(ContentKind::Blog, Some(&project_id), ALL)
            .unwrap();
        assert_eq!((listed.total, listed.items.len()), (1, 1));
    }

    #[test]
    fn slugs_are_unique_per_kind_and_republishing_is_a_no_op() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        let a = draft(store, &project_id, ContentKind::Changelog, "A", 10);
        let b = draft(store, &project_id, ContentKind::Changelog, "B", 10);
        let post = draft(store, &project_id, ContentKind::Blog, "P", 10);
        let first = store.publish_content(&a.id, "same", &by(), 20).unwrap();
        assert!(matches!(
            store.publish_content(&b.id, "same", &by(), 21),
            Err(Error::Conflict(_))
        ));
        store.publish_content(&post.id, "same", &by(), 22).unwrap();
        let again = store.publish_content(&a.id, "same", &by(), 50).unwrap();
        assert_eq!(again, first);
        assert!(matches!(
            store.publish_content(&ContentId::new_v4(), "x", &by(), 1),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn derived_slugs_take_the_first_free_number_without_a_limit() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        let publish = |title: &str| {
            let item = draft(store, &project_id, ContentKind::Changelog, title, 10);
            store
                .publish_content_derived(&item.id, "weekly", &by(), 20)
                .unwrap()
                .public_slug
                .unwrap()
        };
        // Look-alikes hold nothing of the sequence.
        for taken in ["weekly-3", "weekly-02", "weeklyx", "weekly-x"] {
            let item = draft(store, &project_id, ContentKind::Changelog, taken, 10);
            store.publish_content(&item.id, taken, &by(), 20).unwrap();
        }
        // Another kind's slugs do not count.
        let post = draft(store, &project_id, ContentKind::Blog, "p", 10);
        store
            .publish_content(&post.id, "weekly", &by(), 20)
            .unwrap();
        assert_eq!(publish("a"), "weekly");
        assert_eq!(publish("b"), "weekly-2");
        assert_eq!(publish("c"), "weekly-4");
        for n in 5..=30 {
            assert_eq!(publish("more"), format!("weekly-{n}"));
        }
        // An unpublished item keeps its slug reserved.
        let first = store
            .published_by_slug(ContentKind::Changelog, "weekly")
            .unwrap()
            .unwrap();
        store.unpublish_content(&first.id, &by(), 30).unwrap();
        assert_eq!(publish("d"), "weekly-31");
        assert!(matches!(
            store.publish_content_derived(&ContentId::new_v4(), "x", &by(), 1),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn project_lists_filter_and_page() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        for n in 0..5 {
            let item = draft(store, &project_id, ContentKind::Blog, "x", n);
            if n % 2 == 0 {
                store
                    .publish_content(&item.id, &format!("p{n}"), &by(), 100)
                    .unwrap();
            }
        }
        draft(store, &project_id, ContentKind::Kb, "k", 9);
        let filter = ContentFilter {
            kind: Some(ContentKind::Blog),
            published: Some(true),
        };
        let page = Page {
            limit: 2,
            offset: 1,
        };
        let listed = store.content_of_project(&project_id, filter, page).unwrap();
        assert_eq!(listed.total, 3);
        assert_eq!(listed.items.len(), 2);
        let all = store
            .content_of_project(&project_id, ContentFilter::default(), ALL)
            .unwrap();
        assert_eq!(all.total, 6);
        assert_eq!(all.items[0].kind, ContentKind::Kb);
        let past_end = Page {
            limit: 5,
            offset: 6,
        };
        assert!(store
            .content_of_project(&project_id, ContentFilter::default(), past_end)
            .unwrap()
            .items
            .is_empty());
    }

    #[test]
    fn public_reads_with_bound_parameters_use_the_indexes() {
        // Plans do not look at bound values (the store's connections enable SQLite's query
        // planner stability guarantee), so the parameterised statements must find the
        // indexes on their own.
        let temp = temp_store();
        let conn = temp.store.conn().unwrap();
        let cases: [(&str, &str, &[&dyn ToValue]); 5] = [
            (
                PUBLISHED_PAGE,
                "INDEX content_published",
                &[&"blog", &20, &40],
            ),
            (
                PUBLISHED_PAGE_OF_PROJECT,
                "INDEX content_published",
                &[&"x", &"blog", &20, &0],
            ),
            (
                PUBLISHED_TOTAL,
                "content_published_counts USING PRIMARY KEY",
                &[&"blog"],
            ),
            (
                PUBLISHED_TOTAL_OF_PROJECT,
                "content_published_counts USING PRIMARY KEY",
                &[&"x", &"blog"],
            ),
            (
                PUBLISHED_BY_SLUG,
                "INDEX content_slugs",
                &[&"changelog", &"v1-0"],
            ),
        ];
        for (sql, index, args) in cases {
            let plan: Vec<String> = conn
                .prepare_cached(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(args, |row| row.get::<String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let plan = plan.join("; ");
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }

    /// Every content event, oldest first.
    fn content_events(store: &Store) -> Vec<crate::store::AuditEvent> {
        let filter = crate::store::AuditFilter {
            actions: vec!["content.".into()],
            ..crate::store::AuditFilter::default()
        };
        let mut events = store.audit_events(&filter, ALL).unwrap().events;
        events.reverse();
        events
    }

    #[test]
    fn every_content_change_records_one_event_and_a_no_op_or_refusal_records_none() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        let team_id = store.project_by_id(&project_id).unwrap().unwrap().team_id;
        let item = draft(store, &project_id, ContentKind::Blog, "Launch", 10);
        let other = draft(store, &project_id, ContentKind::Blog, "Other", 10);
        let changes = ContentChanges {
            title: Some("Launch day".into()),
            body: Some("text".into()),
            period_start: Some(Some(5)),
            period_end: None,
        };
        store.update_content(&item.id, &changes, &by(), 11).unwrap();
        // The same values again: no row written, no event.
        let generation = store.content_generation().unwrap();
        store.update_content(&item.id, &changes, &by(), 12).unwrap();
        assert_eq!(store.content_generation().unwrap(), generation);
        store
            .publish_content(&item.id, "launch", &by(), 13)
            .unwrap();
        store
            .publish_content(&item.id, "launch", &by(), 14)
            .unwrap();
        store
            .publish_content(&item.id, "launch-day", &by(), 15)
            .unwrap();
        let taken = store.publish_content(&other.id, "launch-day", &by(), 16);
        assert!(matches!(taken, Err(Error::Conflict(_))));
        store.unpublish_content(&item.id, &by(), 17).unwrap();
        store.unpublish_content(&item.id, &by(), 18).unwrap();
        assert!(store.delete_content(&item.id, &by(), 19).unwrap());
        assert!(!store.delete_content(&item.id, &by(), 20).unwrap());

        let events = content_events(store);
        let summary: Vec<(AuditAction, i64, serde_json::Value)> = events
            .iter()
            .map(|e| {
                let details = serde_json::from_str(&e.event.details).unwrap();
                (e.event.action, e.event.at, details)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (AuditAction::ContentCreated, 10, json!({"type": "blog"})),
                (AuditAction::ContentCreated, 10, json!({"type": "blog"})),
                (
                    AuditAction::ContentUpdated,
                    11,
                    json!({"fields": ["title", "period_start"]})
                ),
                (AuditAction::ContentPublished, 13, json!({"slug": "launch"})),
                (
                    AuditAction::ContentPublished,
                    15,
                    json!({"slug": "launch-day", "old_slug": "launch"})
                ),
                (
                    AuditAction::ContentUnpublished,
                    17,
                    json!({"slug": "launch-day"})
                ),
                (AuditAction::ContentDeleted, 19, json!({"type": "blog"})),
            ]
        );
        for event in &events[2..] {
            let target = event.event.target.clone().unwrap();
            assert_eq!(target.kind, "content");
            assert_eq!(target.id.as_deref(), Some(item.id.as_str()));
            assert_eq!(target.label.as_deref(), Some("Launch day"));
            assert_eq!(event.event.team_id.as_deref(), Some(team_id.as_str()));
            assert_eq!(event.event.project_id.as_deref(), Some(project_id.as_str()));
        }
    }

    #[test]
    fn a_content_change_whose_event_cannot_be_written_does_not_land() {
        let temp = temp_store();
        let store = &temp.store;
        let project_id = project(store);
        let item = draft(store, &project_id, ContentKind::Blog, "Launch", 10);
        store
            .conn()
            .unwrap()
            .execute_batch("ALTER TABLE audit_events RENAME TO audit_events_gone")
            .unwrap();
        let new = NewContent {
            project_id: project_id.clone(),
            kind: ContentKind::Blog,
            title: "Second".into(),
            body: "text".into(),
            period_start: None,
            period_end: None,
        };
        assert!(store.create_content(&new, &by(), 11).is_err());
        assert!(store
            .publish_content(&item.id, "launch", &by(), 12)
            .is_err());
        assert!(store.delete_content(&item.id, &by(), 13).is_err());
        let listed = store
            .content_of_project(&project_id, ContentFilter::default(), ALL)
            .unwrap();
        assert_eq!(listed.total, 1);
        assert!(!listed.items[0].is_published);
    }
}
