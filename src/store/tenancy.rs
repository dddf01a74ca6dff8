//! Teams, their members with roles, and the projects teams own.

use super::{is_unique_violation, map_err, Store};
use crate::error::Error;
use rusqlite::{params, OptionalExtension};

/// A team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// UUID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unique slug.
    pub slug: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A project owned by a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// UUID.
    pub id: String,
    /// Owning team.
    pub team_id: String,
    /// Display name.
    pub name: String,
    /// Slug, unique across the server.
    pub slug: String,
    /// Unix seconds.
    pub created_at: i64,
}

pub(super) fn insert_team(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    slug: &str,
    owner_id: &str,
    now: i64,
) -> Result<Team, Error> {
    let team = Team {
        id: crate::ids::uuid_v4(),
        name: name.to_string(),
        slug: slug.to_string(),
        created_at: now,
    };
    tx.prepare_cached("INSERT INTO teams (id, name, slug, created_at) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut stmt| stmt.execute(params![team.id, team.name, team.slug, now]))
        .map_err(|err| {
            if is_unique_violation(&err) {
                Error::Conflict("A team with this slug already exists.".into())
            } else {
                map_err(err)
            }
        })?;
    tx.prepare_cached(
        "INSERT INTO team_members (team_id, user_id, role, added_at) VALUES (?1, ?2, 'owner', ?3)",
    )
    .and_then(|mut stmt| stmt.execute(params![team.id, owner_id, now]))
    .map_err(map_err)?;
    Ok(team)
}

pub(super) fn insert_project(
    tx: &rusqlite::Transaction<'_>,
    team_id: &str,
    name: &str,
    slug: &str,
    now: i64,
) -> Result<Project, Error> {
    let project = Project {
        id: crate::ids::uuid_v4(),
        team_id: team_id.to_string(),
        name: name.to_string(),
        slug: slug.to_string(),
        created_at: now,
    };
    tx.prepare_cached(
        "INSERT INTO projects (id, team_id, name, slug, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            project.id,
            team_id,
            project.name,
            project.slug,
            now
        ])
    })
    .map_err(|err| {
        if is_unique_violation(&err) {
            Error::Conflict("A project with this slug already exists.".into())
        } else {
            map_err(err)
        }
    })?;
    Ok(project)
}

impl Store {
    /// The team with this slug, if any.
    pub fn team_by_slug(&self, slug: &str) -> Result<Option<Team>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT id, name, slug, created_at FROM teams WHERE slug = ?1")
            .map_err(map_err)?;
        stmt.query_row([slug], |row| {
            Ok(Team {
                id: row.get(0)?,
                name: row.get(1)?,
                slug: row.get(2)?,
                created_at: row.get(3)?,
            })
        })
        .optional()
        .map_err(map_err)
    }

    /// The project with this slug, if any.
    pub fn project_by_slug(&self, slug: &str) -> Result<Option<Project>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, team_id, name, slug, created_at FROM projects WHERE slug = ?1",
            )
            .map_err(map_err)?;
        stmt.query_row([slug], |row| {
            Ok(Project {
                id: row.get(0)?,
                team_id: row.get(1)?,
                name: row.get(2)?,
                slug: row.get(3)?,
                created_at: row.get(4)?,
            })
        })
        .optional()
        .map_err(map_err)
    }

    /// The role (`owner`, `admin`, `member`) of `user_id` in `team_id`, if a member.
    pub fn member_role(&self, team_id: &str, user_id: &str) -> Result<Option<String>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT role FROM team_members WHERE team_id = ?1 AND user_id = ?2")
            .map_err(map_err)?;
        stmt.query_row([team_id, user_id], |row| row.get(0))
            .optional()
            .map_err(map_err)
    }
}
