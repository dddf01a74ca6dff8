//! The eleven MCP tools: their definitions and what each call does.
//!
//! Every tool is a thin reading of its arguments around the function the matching HTTP route
//! calls (`public::published_of_project`, `public::published_by_slug`, `content::create`,
//! `content::update`, `content::publish`, `content::unpublish`, `content::content_for`, the
//! store's project listing), so a change made through MCP has the same rules and the same
//! effects on feeds, ETags and counts as one made over HTTP. Arguments are the route's body
//! fields and are checked by the same `JsonFields` readers; their problems keep the routes'
//! locations (`["body", "title"]`), which the transport turns into a message for the assistant.
//!
//! Every tool acts on the project of the calling key only: list and read tools are scoped to
//! it, and writes go through the same project checks as the routes.

use super::schemas;
use super::Revision;
use crate::api::dto;
use crate::api::extract::{JsonFields, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use crate::api::internal::content::{self, MAX_PUBLIC_SLUG_CHARS};
use crate::api::principal::Caller;
use crate::api::router::parse_id;
use crate::api::{public, App};
use crate::error::{Error, FieldError};
use crate::ids::{ContentId, ProjectId};
use crate::store::{Audit, ContentFilter, ContentKind, Listed, Page};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// What a tool does, for its annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Reads only.
    Read,
    /// Adds something new; nothing existing changes.
    Create,
    /// Changes an item; the same call twice has the effect of one.
    Change,
    /// Takes an item off the public endpoints; the same call twice has the effect of one.
    Withdraw,
}

/// One tool: its name, what it says about itself, and its schemas.
#[derive(Debug)]
pub struct Tool {
    /// The name clients call it by.
    pub name: &'static str,
    title: &'static str,
    description: &'static str,
    effect: Effect,
    /// The names of its arguments (any other is refused).
    arguments: &'static [&'static str],
    input: fn() -> Value,
    output: fn() -> Value,
}

const PAGE_ARGS: &[&str] = &["limit", "offset"];
const CONTENT_ARGS: &[&str] = &["type", "title", "content", "period_start", "period_end"];
const CHANGE_ARGS: &[&str] = &["id", "title", "content", "period_start", "period_end"];

fn list_changelogs_output() -> Value {
    schemas::list_of(schemas::public_item(ContentKind::Changelog))
}
fn list_blogs_output() -> Value {
    schemas::list_of(schemas::public_item(ContentKind::Blog))
}
fn list_kb_output() -> Value {
    schemas::list_of(schemas::public_item(ContentKind::Kb))
}
fn changelog_output() -> Value {
    schemas::public_item(ContentKind::Changelog)
}
fn blog_output() -> Value {
    schemas::public_item(ContentKind::Blog)
}
fn kb_output() -> Value {
    schemas::public_item(ContentKind::Kb)
}
fn drafts_output() -> Value {
    schemas::list_of(schemas::internal_item())
}

/// Every tool, in the order `tools/list` gives them.
pub static TOOLS: &[Tool] = &[
    Tool {
        name: "list_changelogs",
        title: "List changelogs",
        description: "Published changelogs of this project, newest first, with the total \
            count. Each item is the public changelog object; its `content` is JSON text with \
            a title and entries (category, title, description).",
        effect: Effect::Read,
        arguments: PAGE_ARGS,
        input: schemas::page_input,
        output: list_changelogs_output,
    },
    Tool {
        name: "get_changelog",
        title: "Get a changelog",
        description: "One published changelog of this project by its public slug.",
        effect: Effect::Read,
        arguments: &["slug"],
        input: schemas::slug_input,
        output: changelog_output,
    },
    Tool {
        name: "list_blog_posts",
        title: "List blog posts",
        description: "Published blog posts of this project, newest first, with the total \
            count. A post's `content` is Markdown.",
        effect: Effect::Read,
        arguments: PAGE_ARGS,
        input: schemas::page_input,
        output: list_blogs_output,
    },
    Tool {
        name: "get_blog_post",
        title: "Get a blog post",
        description: "One published blog post of this project by its public slug.",
        effect: Effect::Read,
        arguments: &["slug"],
        input: schemas::slug_input,
        output: blog_output,
    },
    Tool {
        name: "list_kb_article_sets",
        title: "List KB article sets",
        description: "Published knowledge-base article sets of this project, newest first, \
            with the total count. A set's `content` is JSON text with articles (category, \
            title, body).",
        effect: Effect::Read,
        arguments: PAGE_ARGS,
        input: schemas::page_input,
        output: list_kb_output,
    },
    Tool {
        name: "get_kb_article_set",
        title: "Get a KB article set",
        description: "One published knowledge-base article set of this project by its \
            public slug.",
        effect: Effect::Read,
        arguments: &["slug"],
        input: schemas::slug_input,
        output: kb_output,
    },
    Tool {
        name: "list_drafts",
        title: "List drafts",
        description: "Unpublished items of this project (all kinds, or one `type`), newest \
            created first, with their ids for update_content and publish_content.",
        effect: Effect::Read,
        arguments: &["type", "limit", "offset"],
        input: schemas::drafts_input,
        output: drafts_output,
    },
    Tool {
        name: "create_content",
        title: "Create content",
        description: "Creates an unpublished changelog, blog post or KB article set in this \
            project. A blog post's content is Markdown; a changelog's is JSON text \
            {\"title\", \"entries\": [{\"category\", \"title\", \"description\"}]}; a KB \
            set's is JSON text {\"articles\": [{\"category\", \"title\", \"body\"}]}.",
        effect: Effect::Create,
        arguments: CONTENT_ARGS,
        input: schemas::create_input,
        output: schemas::internal_item,
    },
    Tool {
        name: "update_content",
        title: "Update content",
        description: "Changes the title, content or period of an item of this project; \
            fields left out stay as they are. A published item changes on its public \
            endpoints and feeds at once.",
        effect: Effect::Change,
        arguments: CHANGE_ARGS,
        input: schemas::update_input,
        output: schemas::internal_item,
    },
    Tool {
        name: "publish_content",
        title: "Publish content",
        description: "Publishes an item of this project under `slug`, or its earlier slug, \
            or one made from its title. It appears on the public endpoints and feeds.",
        effect: Effect::Change,
        arguments: &["id", "slug"],
        input: schemas::publish_input,
        output: schemas::internal_item,
    },
    Tool {
        name: "unpublish_content",
        title: "Unpublish content",
        description: "Takes an item of this project off the public endpoints and feeds; it \
            keeps its slug for a later publish.",
        effect: Effect::Withdraw,
        arguments: &["id"],
        input: schemas::id_input,
        output: schemas::internal_item,
    },
];

/// The tool called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|tool| tool.name == name)
}

impl Tool {
    /// The tool's definition as `tools/list` gives it at `revision`: titles and output
    /// schemas from 2025-06-18 on, annotations from 2025-03-26 on.
    pub fn definition(&self, revision: Revision) -> Value {
        let mut definition = json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": (self.input)(),
        });
        if revision.has_structured_output() {
            definition["title"] = json!(self.title);
            definition["outputSchema"] = (self.output)();
        }
        if revision.has_annotations() {
            let read_only = self.effect == Effect::Read;
            let mut annotations = json!({
                "title": self.title,
                "readOnlyHint": read_only,
                "openWorldHint": false,
            });
            if !read_only {
                annotations["destructiveHint"] = json!(self.effect == Effect::Withdraw);
                annotations["idempotentHint"] = json!(self.effect != Effect::Create);
            }
            definition["annotations"] = annotations;
        }
        definition
    }

    /// Runs the tool for `caller`, a key of project `project_id`: the result as serialised
    /// JSON (an object, the `structuredContent`), or the error the matching route would answer.
    /// The result is serialised once, straight from the wire shapes, as the routes do. A write
    /// is recorded in the audit log as done by `audit` (the key, at the client's address), in
    /// the same transaction, exactly as the matching route records it.
    pub fn call(
        &self,
        app: &App,
        caller: &Caller,
        audit: &Audit,
        project_id: &ProjectId,
        args: &Map<String, Value>,
    ) -> Result<Box<RawValue>, Error> {
        let mut fields = JsonFields::new(args);
        for name in args.keys() {
            if !self.arguments.contains(&name.as_str()) {
                fields.problems.push(FieldError::new(
                    &["body", name],
                    "extra_forbidden",
                    "Extra inputs are not permitted",
                ));
            }
        }
        match self.name {
            "list_changelogs" => published_list(app, project_id, ContentKind::Changelog, fields),
            "list_blog_posts" => published_list(app, project_id, ContentKind::Blog, fields),
            "list_kb_article_sets" => published_list(app, project_id, ContentKind::Kb, fields),
            "get_changelog" => published_item(app, project_id, ContentKind::Changelog, fields),
            "get_blog_post" => published_item(app, project_id, ContentKind::Blog, fields),
            "get_kb_article_set" => published_item(app, project_id, ContentKind::Kb, fields),
            "list_drafts" => drafts(app, project_id, fields),
            "create_content" => {
                fields.finish()?;
                let project = content::admit_to_project(app, caller, project_id)?;
                internal(&content::create(app, audit, project, args)?)
            }
            "update_content" => {
                let item = item_named(app, caller, fields)?;
                internal(&content::update(app, audit, &item, args)?)
            }
            "publish_content" => {
                let item = item_named(app, caller, fields)?;
                internal(&content::publish(app, audit, &item, args)?)
            }
            "unpublish_content" => {
                let item = item_named(app, caller, fields)?;
                internal(&content::unpublish(app, audit, &item)?)
            }
            other => Err(Error::Internal(format!(
                "tool {other} has no implementation"
            ))),
        }
    }
}

/// A value as serialised JSON (the wire shapes always serialise; a failure would be a bug).
fn to_json(value: &impl Serialize) -> Result<Box<RawValue>, Error> {
    serde_json::value::to_raw_value(value)
        .map_err(|err| Error::Internal(format!("serialising: {err}")))
}

fn internal(item: &crate::store::Content) -> Result<Box<RawValue>, Error> {
    to_json(&dto::content_internal(item))
}

/// `limit` (1..=100, default 20) and `offset` (>= 0, default 0), as the list routes take them.
fn page(fields: &mut JsonFields<'_>) -> Page {
    Page {
        limit: fields
            .optional_int("limit", 1, MAX_PAGE_LIMIT)
            .unwrap_or(DEFAULT_PAGE_LIMIT),
        offset: fields.optional_int("offset", 0, i64::MAX).unwrap_or(0),
    }
}

/// A page of items in some wire shape, and the total over every page.
#[derive(Serialize)]
struct PageOf<T> {
    items: Vec<T>,
    total: i64,
}

/// `{"items": [...], "total": n}` of a page, each item in the shape `shape` gives it.
fn page_of<'a, T: Serialize>(
    listed: &'a Listed,
    shape: impl Fn(&'a crate::store::Content) -> T,
) -> Result<Box<RawValue>, Error> {
    to_json(&PageOf {
        items: listed.items.iter().map(shape).collect(),
        total: listed.total,
    })
}

fn published_list(
    app: &App,
    project_id: &str,
    kind: ContentKind,
    mut fields: JsonFields<'_>,
) -> Result<Box<RawValue>, Error> {
    let page = page(&mut fields);
    fields.finish()?;
    let listed = public::published_of_project(app, kind, project_id, page)?;
    page_of(&listed, dto::content_public)
}

fn published_item(
    app: &App,
    project_id: &ProjectId,
    kind: ContentKind,
    mut fields: JsonFields<'_>,
) -> Result<Box<RawValue>, Error> {
    let slug = fields.string("slug", 1, MAX_PUBLIC_SLUG_CHARS);
    fields.finish()?;
    let slug = slug.unwrap_or_default();
    let item = public::published_by_slug(app, kind, &slug, &["body", "slug"])?;
    // Slugs are unique per kind across projects; another project's item is simply not
    // among this key's content.
    if item.project_id != *project_id {
        return Err(Error::NotFound(public::not_found_detail(kind).into()));
    }
    to_json(&dto::content_public(&item))
}

fn drafts(
    app: &App,
    project_id: &ProjectId,
    mut fields: JsonFields<'_>,
) -> Result<Box<RawValue>, Error> {
    let kind =
        fields
            .optional_string("type", 0, 16)
            .and_then(|text| match ContentKind::parse(&text) {
                Some(kind) => Some(kind),
                None => {
                    fields
                        .problems
                        .push(content::kind_problem(&["body", "type"]));
                    None
                }
            });
    let page = page(&mut fields);
    fields.finish()?;
    let filter = ContentFilter {
        kind,
        published: Some(false),
    };
    let listed = app.store.content_of_project(project_id, filter, page)?;
    page_of(&listed, dto::content_internal)
}

/// The item named by the `id` argument, if the caller may work on it (as the item routes).
fn item_named(
    app: &App,
    caller: &Caller,
    mut fields: JsonFields<'_>,
) -> Result<crate::store::Content, Error> {
    let id = fields.string("id", 1, 64);
    fields.finish()?;
    let id = parse_id::<ContentId>(id.as_deref().unwrap_or_default())?;
    content::content_for(app, caller, &id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_eleven_tools_with_unique_names_and_arguments_matching_their_schemas() {
        assert_eq!(TOOLS.len(), 11);
        for (index, tool) in TOOLS.iter().enumerate() {
            assert_eq!(find(tool.name).map(|found| found.name), Some(tool.name));
            assert!(TOOLS[..index].iter().all(|other| other.name != tool.name));
            let schema = (tool.input)();
            let mut declared: Vec<&str> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            declared.sort_unstable();
            let mut arguments = tool.arguments.to_vec();
            arguments.sort_unstable();
            assert_eq!(declared, arguments, "{}", tool.name);
        }
    }

    #[test]
    fn read_tools_and_only_they_are_read_only() {
        for tool in TOOLS {
            let definition = tool.definition(Revision::V2025_11_25);
            let read_only = definition["annotations"]["readOnlyHint"] == true;
            assert_eq!(
                read_only,
                tool.name.starts_with("list_") || tool.name.starts_with("get_"),
                "{}",
                tool.name
            );
            assert!(definition["outputSchema"].is_object());
        }
    }

    #[test]
    fn older_revisions_get_no_output_schema_and_the_oldest_no_annotations() {
        let tool = &TOOLS[0];
        let old = tool.definition(Revision::V2025_03_26);
        assert!(old.get("outputSchema").is_none() && old.get("title").is_none());
        assert!(old["annotations"].is_object());
        assert!(tool
            .definition(Revision::V2024_11_05)
            .get("annotations")
            .is_none());
    }
}
