//! Writing a seed (users, teams, members, projects, API keys, content) in one transaction.
//!
//! The rows arrive already checked and hashed (`crate::seed` applies the same rules as the
//! API); what is left for here is what only the database can say: whether an email, slug or
//! key is taken, and whether the users and teams a row names exist. References are looked up
//! inside the transaction, so a row may name something created earlier in the same seed or
//! already in the database. The first problem rolls everything back, and its message names
//! the row (`teams[1] (slug "acme")`) and the conflict.

use super::audit::Audit;
use super::content::{first_free_slug, insert_content, publish_as};
use super::db::{params, OptionalExtension};
use super::{ContentKind, NewApiKey, NewContent, NewUser, Store};
use crate::error::Error;
use crate::ids::{ProjectId, TeamId, UserId};

/// A team to create, owned by the user with `owner_email`.
#[derive(Debug, Clone)]
pub struct SeedTeam {
    /// Display name.
    pub name: String,
    /// Slug (checked against the slug pattern).
    pub slug: String,
    /// Lower-cased email of the owner.
    pub owner_email: String,
}

/// A membership to add.
#[derive(Debug, Clone)]
pub struct SeedMember {
    /// Slug of the team.
    pub team_slug: String,
    /// Lower-cased email of the user.
    pub email: String,
    /// `admin` or `member` (a seed never adds owners but through `teams`).
    pub role: crate::roles::Role,
}

/// A project to create.
#[derive(Debug, Clone)]
pub struct SeedProject {
    /// Slug of the owning team.
    pub team_slug: String,
    /// Display name.
    pub name: String,
    /// Slug, unique on the server.
    pub slug: String,
}

/// An API key given in full; only its hash and prefix arrive here.
#[derive(Debug, Clone)]
pub struct SeedKey {
    /// Slug of the project.
    pub project_slug: String,
    /// Lower-cased email of the user the key acts as.
    pub user_email: String,
    /// Display name.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// `sk_live_` + 8 characters.
    pub key_prefix: String,
    /// Expiry instant (Unix seconds), if any.
    pub expires_at: Option<i64>,
}

/// How a seeded item is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedPublish {
    /// Left a draft.
    Draft,
    /// Published under exactly this slug (a taken one is a conflict).
    Slug(String),
    /// Published under the first free slug of `base`, `base-2`, ... (derived from the title).
    Derived(String),
}

/// A content item to create.
#[derive(Debug, Clone)]
pub struct SeedContent {
    /// Slug of the project.
    pub project_slug: String,
    /// Kind.
    pub kind: ContentKind,
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Period start.
    pub period_start: Option<i64>,
    /// Period end.
    pub period_end: Option<i64>,
    /// Draft or published, and under which slug.
    pub publish: SeedPublish,
}

/// Everything a seed creates, in the order it is written.
#[derive(Debug, Clone, Default)]
pub struct SeedRows {
    /// Users (password already hashed, email lower-cased).
    pub users: Vec<NewUser>,
    /// Teams.
    pub teams: Vec<SeedTeam>,
    /// Memberships.
    pub members: Vec<SeedMember>,
    /// Projects.
    pub projects: Vec<SeedProject>,
    /// API keys.
    pub api_keys: Vec<SeedKey>,
    /// Content.
    pub content: Vec<SeedContent>,
}

type Tx = super::db::Transaction;

/// Prefixes `err`'s message with the row it is about; conflicts stay conflicts, a missing
/// reference is a not-found, database failures keep their kind.
fn about(row: &str, err: Error) -> Error {
    match err {
        Error::Conflict(why) => Error::Conflict(format!("{row}: {why}")),
        Error::NotFound(why) => Error::NotFound(format!("{row}: {why}")),
        Error::Forbidden(why) => Error::Forbidden(format!("{row}: {why}")),
        other => other,
    }
}

fn user_id(tx: &Tx, email: &str) -> Result<(UserId, bool), Error> {
    tx.prepare_cached("SELECT id, is_superuser FROM users WHERE email = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![email], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })?
        .ok_or_else(|| Error::NotFound(format!("no user with email {email}")))
}

fn team_id(tx: &Tx, slug: &str) -> Result<TeamId, Error> {
    tx.prepare_cached("SELECT id FROM teams WHERE slug = ?1")
        .and_then(|mut stmt| stmt.query_row(params![slug], |row| row.get(0)).optional())?
        .ok_or_else(|| Error::NotFound(format!("no team with slug {slug}")))
}

/// The project's id and its team's id.
fn project_ids(tx: &Tx, slug: &str) -> Result<(ProjectId, TeamId), Error> {
    tx.prepare_cached("SELECT id, team_id FROM projects WHERE slug = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![slug], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })?
        .ok_or_else(|| Error::NotFound(format!("no project with slug {slug}")))
}

impl Store {
    /// Writes every row of `rows` in one transaction: all of it or, on the first conflict or
    /// missing reference, none of it. The error names the row (`users[2] (carol@example.com)`)
    /// and the problem. A key's user must be a member of the project's team (or a superuser),
    /// as for keys made any other way.
    ///
    /// Each user, team, membership and project created appends its event (`user.created`
    /// with `via: "seed"`, `team.created`, `member.added`, `project.created`) by `audit` in
    /// the same transaction, so a refused seed leaves no event either; so do the keys and
    /// content (`api_key.created`, `content.created`, `content.published`): a seed is a
    /// command, and its changes are recorded as if made one by one.
    pub fn apply_seed(&self, rows: &SeedRows, audit: &Audit, now: i64) -> Result<(), Error> {
        self.write(|tx| {
            for (i, user) in rows.users.iter().enumerate() {
                let created = super::users::insert_user(tx, user, now)
                    .map_err(|err| about(&format!("users[{i}] ({})", user.email), err))?;
                super::users::append_user_created(tx, audit, &created, "seed", now)?;
            }
            for (i, team) in rows.teams.iter().enumerate() {
                let row = format!("teams[{i}] (slug {:?})", team.slug);
                let (owner, _) = user_id(tx, &team.owner_email).map_err(|e| about(&row, e))?;
                let created = super::tenancy::insert_team(tx, &team.name, &team.slug, &owner, now)
                    .map_err(|e| about(&row, e))?;
                super::tenancy::append_team_created(tx, audit, &created, &owner, now)?;
            }
            for (i, member) in rows.members.iter().enumerate() {
                let row = format!("members[{i}] ({} in {:?})", member.email, member.team_slug);
                let team = team_id(tx, &member.team_slug).map_err(|e| about(&row, e))?;
                let (user, _) = user_id(tx, &member.email).map_err(|e| about(&row, e))?;
                super::tenancy::insert_member(tx, &team, &user, member.role, now)
                    .map_err(|e| about(&row, e))?;
                super::tenancy::append_member_added(tx, audit, &team, &user, member.role, now)?;
            }
            for (i, project) in rows.projects.iter().enumerate() {
                let row = format!("projects[{i}] (slug {:?})", project.slug);
                let team = team_id(tx, &project.team_slug).map_err(|e| about(&row, e))?;
                let created =
                    super::tenancy::insert_project(tx, &team, &project.name, &project.slug, now)
                        .map_err(|e| about(&row, e))?;
                super::tenancy::append_project_created(tx, audit, &created, now)?;
            }
            for (i, key) in rows.api_keys.iter().enumerate() {
                let row = format!("api_keys[{i}] ({})", key.key_prefix);
                let (project, team) =
                    project_ids(tx, &key.project_slug).map_err(|e| about(&row, e))?;
                let (user, is_superuser) =
                    user_id(tx, &key.user_email).map_err(|e| about(&row, e))?;
                if !is_superuser && super::tenancy::role_in(tx, &team, &user)?.is_none() {
                    return Err(Error::Forbidden(format!(
                        "{row}: {} is not a member of the team of project {:?}; add them \
                         under members",
                        key.user_email, key.project_slug
                    )));
                }
                let new = NewApiKey {
                    project_id: project,
                    name: key.name.clone(),
                    key_hash: key.key_hash.clone(),
                    key_prefix: key.key_prefix.clone(),
                    created_by: user,
                    expires_at: key.expires_at,
                    expires_in_days: None,
                };
                super::api_keys::insert_key_audited(tx, &new, audit, now)
                    .map_err(|e| about(&row, e))?;
            }
            for (i, item) in rows.content.iter().enumerate() {
                let row = format!("content[{i}] ({:?})", item.title);
                let (project, _) =
                    project_ids(tx, &item.project_slug).map_err(|e| about(&row, e))?;
                let new = NewContent {
                    project_id: project,
                    kind: item.kind,
                    title: item.title.clone(),
                    body: item.body.clone(),
                    period_start: item.period_start,
                    period_end: item.period_end,
                };
                let stored = insert_content(tx, &new, audit, now)?;
                let slug = match &item.publish {
                    SeedPublish::Draft => continue,
                    SeedPublish::Slug(slug) => slug.clone(),
                    SeedPublish::Derived(base) => first_free_slug(tx, item.kind, base)?,
                };
                publish_as(tx, stored, &slug, audit, now).map_err(|e| about(&row, e))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    fn user(email: &str) -> NewUser {
        NewUser::with_hash(
            crate::email::Email::parse(email).unwrap(),
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        )
    }

    fn seeder() -> Audit {
        Audit::cli("shipstar seed")
    }

    fn rows() -> SeedRows {
        SeedRows {
            users: vec![user("ann@example.com"), user("bob@example.com")],
            teams: vec![SeedTeam {
                name: "Acme".into(),
                slug: "acme".into(),
                owner_email: "ann@example.com".into(),
            }],
            members: vec![SeedMember {
                team_slug: "acme".into(),
                email: "bob@example.com".into(),
                role: crate::roles::Role::Member,
            }],
            projects: vec![SeedProject {
                team_slug: "acme".into(),
                name: "Web".into(),
                slug: "web".into(),
            }],
            api_keys: vec![SeedKey {
                project_slug: "web".into(),
                user_email: "bob@example.com".into(),
                name: "CI".into(),
                key_hash: "ab".repeat(32),
                key_prefix: "sk_live_AAAAAAAA".into(),
                expires_at: None,
            }],
            content: vec![
                SeedContent {
                    project_slug: "web".into(),
                    kind: ContentKind::Blog,
                    title: "Hello".into(),
                    body: "Hi".into(),
                    period_start: None,
                    period_end: None,
                    publish: SeedPublish::Derived("hello".into()),
                },
                SeedContent {
                    project_slug: "web".into(),
                    kind: ContentKind::Blog,
                    title: "Hello".into(),
                    body: "Again".into(),
                    period_start: None,
                    period_end: None,
                    publish: SeedPublish::Derived("hello".into()),
                },
            ],
        }
    }

    #[test]
    fn a_seed_creates_every_row_and_derived_slugs_do_not_collide() {
        let temp = temp_store();
        temp.store.apply_seed(&rows(), &seeder(), 1_000).unwrap();
        let project = temp.store.project_by_slug("web").unwrap().unwrap();
        assert_eq!(
            temp.store.api_keys_of_project(&project.id).unwrap().len(),
            1
        );
        assert!(temp
            .store
            .published_by_slug(ContentKind::Blog, "hello")
            .unwrap()
            .is_some());
        let second = temp
            .store
            .published_by_slug(ContentKind::Blog, "hello-2")
            .unwrap();
        assert!(second.is_some());
        // The keys and content are recorded as the command's changes, in the seed's order.
        let events = temp
            .store
            .audit_events(
                &crate::store::AuditFilter {
                    actions: vec!["api_key.".into(), "content.".into()],
                    ..Default::default()
                },
                crate::store::Page {
                    limit: 100,
                    offset: 0,
                },
            )
            .unwrap()
            .events;
        let mut seen: Vec<(&str, &str)> = events
            .iter()
            .map(|e| {
                assert_eq!(e.event.actor_kind, crate::store::ActorKind::Cli);
                assert_eq!(e.event.actor_label.as_deref(), Some("shipstar seed"));
                assert_eq!(e.event.project_id.as_deref(), Some(project.id.as_str()));
                (e.event.action.as_str(), e.event.details.as_str())
            })
            .collect();
        seen.reverse();
        assert_eq!(
            seen,
            [
                ("api_key.created", r#"{"expires_at":null,"name":"CI"}"#),
                ("content.created", r#"{"type":"blog"}"#),
                ("content.published", r#"{"slug":"hello"}"#),
                ("content.created", r#"{"type":"blog"}"#),
                ("content.published", r#"{"slug":"hello-2"}"#),
            ]
        );
    }

    #[test]
    fn a_conflict_changes_nothing_and_names_the_row() {
        let temp = temp_store();
        let mut seed = rows();
        seed.users.push(user("ann@example.com"));
        let err = temp.store.apply_seed(&seed, &seeder(), 1_000).unwrap_err();
        assert!(
            matches!(&err, Error::Conflict(why) if why.starts_with("users[2] (ann@example.com)")),
            "{err}"
        );
        assert_eq!(temp.store.count_users().unwrap(), 0);
    }

    #[test]
    fn a_key_for_someone_outside_the_team_is_refused() {
        let temp = temp_store();
        let mut seed = rows();
        seed.members.clear();
        let err = temp.store.apply_seed(&seed, &seeder(), 1_000).unwrap_err();
        assert!(
            matches!(&err, Error::Forbidden(why) if why.contains("api_keys[0]")),
            "{err}"
        );
        assert!(temp.store.team_by_slug("acme").unwrap().is_none());
    }

    #[test]
    fn a_missing_reference_names_it() {
        let temp = temp_store();
        let mut seed = rows();
        seed.projects[0].team_slug = "nope".into();
        let err = temp.store.apply_seed(&seed, &seeder(), 1_000).unwrap_err();
        assert_eq!(
            err,
            Error::NotFound("projects[0] (slug \"web\"): no team with slug nope".into())
        );
    }
}
