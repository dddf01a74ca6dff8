//! Seeding: a TOML or JSON document of users, teams, members, projects, API keys and content,
//! written in one transaction (`shipstar seed FILE`, `shipstar serve --seed FILE`).
//!
//! A test suite starts a server with fixed data and fixed keys. Every row goes through the
//! rules the API applies to the same input (email shape and normalisation, the password
//! length policy and Argon2id hashing with the configured cost, the slug pattern, name and
//! title limits, content shapes, periods, the key format and checksum), so a seed cannot
//! create anything the API would refuse. A key is given in full so tests can hold it; only
//! its SHA-256 and prefix are stored, as for a generated one.
//!
//! Checking happens before anything is hashed or written; every problem of the document is
//! reported at once, each named by its place (`users[1].email`). What only the database can
//! tell (a taken email or slug, an unknown reference) is found inside the write transaction
//! by the store, and the first such problem rolls the whole seed back.
//!
//! The email rule lives in `email` and the slug rule in `slug`; both are called from
//! here, not copied. Must not import `http`; talks SQL only through `store`.

use crate::accounts::{self, NewAccount, Password};
use crate::auth::api_key;
use crate::auth::password::PasswordHasher;
use crate::email::{self, Email};
use crate::keys;
use crate::roles::Role;
use crate::slug::{self, MAX_NAME_CHARS, MAX_SLUG_CHARS};
use crate::store::{
    ContentKind, SeedContent, SeedKey, SeedMember, SeedProject, SeedPublish, SeedRows, SeedTeam,
};
use serde::Deserialize;
use std::io::Read;
use std::path::Path;

/// The largest seed file read; a bigger one is refused before it is parsed.
pub const MAX_SEED_BYTES: u64 = 16 * 1024 * 1024;
/// Longest first or last name, as the API accepts.
const MAX_PERSON_NAME_CHARS: usize = 100;

/// How a seed document is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON: one object with the top-level arrays.
    Json,
    /// TOML: `[[users]]`, `[[teams]]`, ... tables.
    Toml,
}

impl Format {
    /// By file extension (`.json`, `.toml`), else by content: a document whose first
    /// non-blank character is `{` is JSON, anything else TOML.
    pub fn detect(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            Some(ext) if ext.eq_ignore_ascii_case("toml") => Format::Toml,
            _ if text.trim_start().starts_with('{') => Format::Json,
            _ => Format::Toml,
        }
    }
}

// Field names are the HTTP API's. No `Debug`: passwords and keys live in these.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    users: Vec<UserDoc>,
    #[serde(default)]
    teams: Vec<TeamDoc>,
    #[serde(default)]
    members: Vec<MemberDoc>,
    #[serde(default)]
    projects: Vec<ProjectDoc>,
    #[serde(default)]
    api_keys: Vec<KeyDoc>,
    #[serde(default)]
    content: Vec<ContentDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserDoc {
    email: String,
    password: String,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(default)]
    is_superuser: bool,
    #[serde(default)]
    is_verified: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamDoc {
    name: String,
    slug: String,
    owner: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberDoc {
    team: String,
    email: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectDoc {
    team: String,
    name: String,
    slug: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyDoc {
    project: String,
    user: String,
    name: String,
    key: String,
    expires_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentDoc {
    project: String,
    #[serde(rename = "type")]
    kind: String,
    title: String,
    content: String,
    period_start: Option<String>,
    period_end: Option<String>,
    published: bool,
    slug: Option<String>,
}

/// A seed that passed every check, passwords not yet hashed.
pub struct Checked {
    users: Vec<NewAccount>,
    rows: SeedRows,
}

impl Checked {
    /// How many rows of each kind, for the one line `shipstar seed` prints.
    pub fn summary(&self) -> String {
        format!(
            "{} users, {} teams, {} members, {} projects, {} API keys, {} content items",
            self.users.len(),
            self.rows.teams.len(),
            self.rows.members.len(),
            self.rows.projects.len(),
            self.rows.api_keys.len(),
            self.rows.content.len()
        )
    }

    /// Hashes every password with `hasher` (the configured Argon2id cost) and returns the
    /// rows to write.
    pub fn hash_passwords(self, hasher: &PasswordHasher) -> Result<SeedRows, String> {
        let mut rows = self.rows;
        for account in self.users {
            let user = accounts::build_user(hasher, account).map_err(|err| err.to_string())?;
            rows.users.push(user);
        }
        Ok(rows)
    }
}

/// Reads the seed at `path` (at most [`MAX_SEED_BYTES`]) and checks it, content against
/// `max_content_bytes` as the API does. The error is one line naming the file and every
/// problem.
pub fn read(path: &Path, now: i64, max_content_bytes: usize) -> Result<Checked, String> {
    let file = std::fs::File::open(path)
        .map_err(|err| format!("cannot read seed file {}: {err}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_SEED_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|err| format!("cannot read seed file {}: {err}", path.display()))?;
    if text.len() as u64 > MAX_SEED_BYTES {
        return Err(format!(
            "seed file {} is larger than {MAX_SEED_BYTES} bytes",
            path.display()
        ));
    }
    check(&text, Format::detect(path, &text), now, max_content_bytes)
        .map_err(|problems| format!("seed file {}: {problems}", path.display()))
}

/// Parses and checks a seed document; the error lists every problem, `; `-separated.
pub fn check(
    text: &str,
    format: Format,
    now: i64,
    max_content_bytes: usize,
) -> Result<Checked, String> {
    let doc: Document = match format {
        Format::Json => serde_json::from_str(text).map_err(|err| format!("not valid JSON: {err}")),
        Format::Toml => toml::from_str(text).map_err(|err| {
            let line = err
                .span()
                .and_then(|span| text.get(..span.start))
                .map_or(1, |before| before.matches('\n').count() + 1);
            format!(
                "not valid TOML at line {line}: {}",
                err.message().trim().replace('\n', "; ")
            )
        }),
    }?;
    let mut problems = Problems::default();
    let checked = check_document(doc, now, max_content_bytes, &mut problems);
    if problems.0.is_empty() {
        Ok(checked)
    } else {
        Err(problems.0.join("; "))
    }
}

/// Every problem found, each prefixed with its place in the document.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, place: String, problem: impl std::fmt::Display) {
        self.0.push(format!("{place}: {problem}"));
    }

    fn chars(&mut self, place: String, text: &str, min: usize, max: usize) {
        let count = text.chars().count();
        if count < min || count > max {
            self.add(place, format!("must have {min} to {max} characters"));
        }
    }

    fn slug(&mut self, place: String, text: &str, max: usize) {
        if !slug::is_valid(text, max) {
            self.add(
                place,
                format!(
                    "{text:?} is not a valid slug: up to {max} lower-case letters, digits and \
                     single hyphens"
                ),
            );
        }
    }

    /// The email lower-cased, as every other way of naming a user stores it.
    fn email(&mut self, place: String, email: &str) -> String {
        match self.valid_email(place, email) {
            Some(valid) => valid.into_string(),
            None => email::normalise(email),
        }
    }

    /// The email in normal form, or `None` with the problem recorded.
    fn valid_email(&mut self, place: String, email: &str) -> Option<Email> {
        let valid = Email::parse(email).ok();
        if valid.is_none() {
            self.add(place, format!("{email:?} is not a valid email address"));
        }
        valid
    }

    fn datetime(&mut self, place: String, text: Option<&str>) -> Option<i64> {
        let text = text?;
        match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            Ok(at) => Some(at.unix_timestamp()),
            Err(_) => {
                self.add(
                    place,
                    format!("{text:?} is not an RFC 3339 datetime such as 2025-03-01T00:00:00Z"),
                );
                None
            }
        }
    }
}

fn check_document(
    doc: Document,
    now: i64,
    max_content_bytes: usize,
    problems: &mut Problems,
) -> Checked {
    let mut users = Vec::new();
    for (i, user) in doc.users.into_iter().enumerate() {
        let email = problems.valid_email(format!("users[{i}].email"), &user.email);
        let password = Password::parse(&user.password).ok();
        if password.is_none() {
            // Never the password itself: this line may end up in a log.
            problems.add(
                format!("users[{i}].password"),
                "must have 8 to 1024 characters",
            );
        }
        for (field, name) in [
            ("first_name", &user.first_name),
            ("last_name", &user.last_name),
        ] {
            if let Some(name) = name {
                problems.chars(
                    format!("users[{i}].{field}"),
                    name,
                    0,
                    MAX_PERSON_NAME_CHARS,
                );
            }
        }
        // A user with a problem is left out: the seed is refused as a whole anyway.
        if let (Some(email), Some(password)) = (email, password) {
            users.push(NewAccount {
                first_name: user.first_name,
                last_name: user.last_name,
                is_superuser: user.is_superuser,
                is_verified: user.is_verified,
                ..NewAccount::plain(email, password)
            });
        }
    }
    let mut rows = SeedRows::default();
    for (i, team) in doc.teams.into_iter().enumerate() {
        problems.chars(format!("teams[{i}].name"), &team.name, 1, MAX_NAME_CHARS);
        problems.slug(format!("teams[{i}].slug"), &team.slug, MAX_SLUG_CHARS);
        let owner_email = problems.email(format!("teams[{i}].owner"), &team.owner);
        rows.teams.push(SeedTeam {
            name: team.name,
            slug: team.slug,
            owner_email,
        });
    }
    for (i, member) in doc.members.into_iter().enumerate() {
        let email = problems.email(format!("members[{i}].email"), &member.email);
        // Owners come from `teams[].owner`, as the API adds members as admin or member.
        let role = match Role::parse(&member.role) {
            Some(role) if role < Role::Owner => role,
            _ => {
                problems.add(
                    format!("members[{i}].role"),
                    format!("{:?} is not \"admin\" or \"member\"", member.role),
                );
                // A placeholder: a seed with any problem is refused whole.
                Role::Member
            }
        };
        rows.members.push(SeedMember {
            team_slug: member.team,
            email,
            role,
        });
    }
    for (i, project) in doc.projects.into_iter().enumerate() {
        problems.chars(
            format!("projects[{i}].name"),
            &project.name,
            1,
            MAX_NAME_CHARS,
        );
        problems.slug(format!("projects[{i}].slug"), &project.slug, MAX_SLUG_CHARS);
        rows.projects.push(SeedProject {
            team_slug: project.team,
            name: project.name,
            slug: project.slug,
        });
    }
    for (i, key) in doc.api_keys.into_iter().enumerate() {
        problems.chars(
            format!("api_keys[{i}].name"),
            &key.name,
            1,
            keys::MAX_NAME_CHARS,
        );
        let user_email = problems.email(format!("api_keys[{i}].user"), &key.user);
        if !api_key::is_well_formed(&key.key) {
            // The key is not echoed: it may be a real one with a typo.
            problems.add(
                format!("api_keys[{i}].key"),
                format!(
                    "not a well-formed API key (sk_live_ + {} base62 characters with a valid \
                     checksum); generate one with `shipstar key create` on any database",
                    api_key::RANDOM_CHARS + api_key::CHECKSUM_CHARS
                ),
            );
        }
        let expires_at = problems.datetime(
            format!("api_keys[{i}].expires_at"),
            key.expires_at.as_deref(),
        );
        if expires_at.is_some_and(|at| !keys::expiry_is_acceptable(at, now)) {
            problems.add(format!("api_keys[{i}].expires_at"), "must be in the future");
        }
        rows.api_keys.push(SeedKey {
            project_slug: key.project,
            user_email,
            name: key.name,
            key_hash: api_key::hash(&key.key),
            key_prefix: api_key::prefix_of(&key.key),
            expires_at,
        });
    }
    for (i, item) in doc.content.into_iter().enumerate() {
        if let Some(seed) = check_content(i, item, max_content_bytes, problems) {
            rows.content.push(seed);
        }
    }
    Checked { users, rows }
}

fn check_content(
    i: usize,
    item: ContentDoc,
    max_content_bytes: usize,
    problems: &mut Problems,
) -> Option<SeedContent> {
    let place = |field: &str| format!("content[{i}].{field}");
    let kind = ContentKind::parse(&item.kind);
    if kind.is_none() {
        problems.add(
            place("type"),
            format!("{:?} is not \"changelog\", \"blog\" or \"kb\"", item.kind),
        );
    }
    problems.chars(
        place("title"),
        &item.title,
        1,
        crate::content::MAX_TITLE_CHARS,
    );
    let period_start = problems.datetime(place("period_start"), item.period_start.as_deref());
    let period_end = problems.datetime(place("period_end"), item.period_end.as_deref());
    if let (Some(start), Some(end)) = (period_start, period_end) {
        if end < start {
            problems.add(place("period_end"), "must not be before period_start");
        }
    }
    let kind = kind?;
    for problem in crate::content::validate(kind, &item.content, max_content_bytes) {
        // The API's location is ["body", "content", ...]; here it is content[i].content....
        let inner: Vec<String> = problem
            .loc
            .iter()
            .skip(2)
            .map(|part| match part {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        let mut at = place("content");
        for part in inner {
            at.push('.');
            at.push_str(&part);
        }
        problems.add(at, problem.msg);
    }
    if kind == ContentKind::Kb && (period_start.is_some() || period_end.is_some()) {
        problems.add(place("period_start"), "KB article sets have no period");
    }
    let publish = match (item.published, item.slug) {
        (false, None) => SeedPublish::Draft,
        (false, Some(_)) => {
            problems.add(
                place("slug"),
                "a slug is given on publishing: set published = true or leave it out",
            );
            SeedPublish::Draft
        }
        (true, Some(slug)) => {
            problems.slug(place("slug"), &slug, crate::content::MAX_PUBLIC_SLUG_CHARS);
            SeedPublish::Slug(slug)
        }
        // As the publish route does without a slug: from the title, then -2, -3, ...
        (true, None) => {
            SeedPublish::Derived(slug::from_name(&item.title, kind.as_str(), MAX_SLUG_CHARS))
        }
    };
    Some(SeedContent {
        project_slug: item.project,
        kind,
        title: item.title,
        body: item.content,
        period_start,
        period_end,
        publish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default `max_content_bytes`.
    const MAX_CONTENT: usize = 262_144;
    const NOW: i64 = 1_750_000_000;

    fn key() -> String {
        api_key::generate().raw
    }

    fn full_toml(key: &str) -> String {
        format!(
            r#"
[[users]]
email = "Ann@Example.com"
password = "ann-password"
is_superuser = true

[[teams]]
name = "Acme"
slug = "acme"
owner = "ann@example.com"

[[projects]]
team = "acme"
name = "Web"
slug = "web"

[[api_keys]]
project = "web"
user = "ann@example.com"
name = "CI"
key = "{key}"
expires_at = "2099-01-01T00:00:00Z"

[[content]]
project = "web"
type = "changelog"
title = "Release 1.0"
content = '{{"title": "1.0", "entries": [{{"category": "Added", "title": "All", "description": "x"}}]}}'
published = true
slug = "release-1-0"

[[content]]
project = "web"
type = "blog"
title = "Draft"
content = "Soon."
published = false
"#
        )
    }

    #[test]
    fn a_full_toml_seed_is_checked_into_rows() {
        let key = key();
        let checked = check(&full_toml(&key), Format::Toml, NOW, MAX_CONTENT).unwrap();
        assert_eq!(
            checked.summary(),
            "1 users, 1 teams, 0 members, 1 projects, 1 API keys, 2 content items"
        );
        assert_eq!(checked.users[0].email.as_str(), "ann@example.com");
        let rows = &checked.rows;
        assert_eq!(rows.api_keys[0].key_hash, api_key::hash(&key));
        assert_eq!(rows.api_keys[0].key_prefix, api_key::prefix_of(&key));
        assert_eq!(
            rows.content[0].publish,
            SeedPublish::Slug("release-1-0".into())
        );
        assert_eq!(rows.content[1].publish, SeedPublish::Draft);
    }

    #[test]
    fn json_and_toml_are_told_apart_by_extension_then_content() {
        assert_eq!(Format::detect(Path::new("a.json"), ""), Format::Json);
        assert_eq!(Format::detect(Path::new("a.TOML"), "{"), Format::Toml);
        assert_eq!(
            Format::detect(Path::new("seed"), "  {\"users\": []}"),
            Format::Json
        );
        assert_eq!(Format::detect(Path::new("seed"), "[[users]]"), Format::Toml);
    }

    #[test]
    fn an_empty_document_is_an_empty_seed() {
        assert!(check("{}", Format::Json, NOW, MAX_CONTENT).is_ok());
        assert!(check("", Format::Toml, NOW, MAX_CONTENT).is_ok());
    }

    #[test]
    fn every_problem_is_named_by_its_place_and_no_secret_is_echoed() {
        let doc = r#"{
            "users": [{"email": "not-an-email", "password": "short"}],
            "teams": [{"name": "", "slug": "Bad Slug", "owner": "a@example.com"}],
            "members": [{"team": "t", "email": "b@example.com", "role": "owner"}],
            "api_keys": [{"project": "p", "user": "a@example.com", "name": "k",
                          "key": "sk_live_made-up-key", "expires_at": "2000-01-01T00:00:00Z"}],
            "content": [{"project": "p", "type": "kb", "title": "t", "content": "{}",
                         "period_start": "2025-01-01T00:00:00Z", "published": false,
                         "slug": "x"}]
        }"#;
        let message = check(doc, Format::Json, NOW, MAX_CONTENT).err().unwrap();
        for expected in [
            "users[0].email: \"not-an-email\" is not a valid email address",
            "users[0].password: must have 8 to 1024 characters",
            "teams[0].name: must have 1 to 100 characters",
            "teams[0].slug: \"Bad Slug\" is not a valid slug",
            "members[0].role: \"owner\" is not",
            "api_keys[0].key: not a well-formed API key",
            "api_keys[0].expires_at: must be in the future",
            "content[0].content.articles: Field required",
            "content[0].period_start: KB article sets have no period",
            "content[0].slug: a slug is given on publishing",
        ] {
            assert!(message.contains(expected), "{expected}\n{message}");
        }
        assert!(!message.contains("short\""), "{message}");
        assert!(!message.contains("made-up"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        let message = check(
            "[[users]]\nemail = \"a@b.co\"\npasword = \"x\"\n",
            Format::Toml,
            NOW,
            MAX_CONTENT,
        )
        .err()
        .unwrap();
        assert!(message.contains("pasword"), "{message}");
        let message = check("{\"user\": []}", Format::Json, NOW, MAX_CONTENT)
            .err()
            .unwrap();
        assert!(message.contains("unknown field `user`"), "{message}");
        let message = check(
            "{\"content\": [{\"project\": \"p\", \"type\": \"blog\", \"title\": \"t\", \
             \"content\": \"x\", \"published\": \"yes\"}]}",
            Format::Json,
            NOW,
            MAX_CONTENT,
        )
        .err()
        .unwrap();
        assert!(message.contains("expected a boolean"), "{message}");
    }

    #[test]
    fn a_published_item_without_a_slug_takes_one_from_its_title() {
        let doc = "[[content]]\nproject = \"p\"\ntype = \"blog\"\ntitle = \"Hello, World!\"\n\
                   content = \"Hi\"\npublished = true\n";
        let checked = check(doc, Format::Toml, NOW, MAX_CONTENT).unwrap();
        assert_eq!(
            checked.rows.content[0].publish,
            SeedPublish::Derived("hello-world".into())
        );
    }
}
