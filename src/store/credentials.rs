//! The per-request credential lookups: a presented session or API key joined to its user
//! (and, for a key, the project's team and the user's role there) in one indexed query.

use super::api_keys::key_columns;
use super::db::{params, OptionalExtension};
use super::sessions::session_columns;
use super::users::user_columns;
use super::{ApiKey, FromRow, Session, Store, User};
use crate::error::Error;
use crate::roles::Role;

/// Everything needed to decide whether a presented key may act, from one indexed lookup.
#[derive(Debug, Clone)]
pub struct KeyHolder {
    /// The key.
    pub key: ApiKey,
    /// The team that owns the key's project.
    pub team_id: crate::ids::TeamId,
    /// The user the key acts as.
    pub user: User,
    /// That user's role in the team, if still a member.
    pub role: Option<Role>,
}

impl Store {
    /// The session with this id together with its user and the signing keys' change counter,
    /// in one lookup: the per-request token check needs all three, and reading the counter
    /// here lets a running server notice a retired signing key without a query of its own.
    pub fn session_with_user(&self, id: &str) -> Result<Option<(Session, User, i64)>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            session_columns!("s"),
            ", ",
            user_columns!("u"),
            ", (SELECT version FROM signing_keys_version WHERE id = 1) AS keys_version \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?1"
        ))?;
        Ok(stmt
            .query_row(params![id], |row| {
                let keys_version: Option<i64> = row.get(Session::COLUMNS + User::COLUMNS)?;
                Ok((
                    Session::from_row(row)?,
                    User::from_row_at(row, Session::COLUMNS)?,
                    keys_version.unwrap_or_default(),
                ))
            })
            .optional()?)
    }

    /// The key with this hash with its owner, their role in the project's team, and the
    /// team: one lookup through the unique index on `key_hash`.
    pub fn key_holder_by_hash(&self, key_hash: &str) -> Result<Option<KeyHolder>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            key_columns!(),
            ", p.team_id, (SELECT role FROM team_members m \
             WHERE m.team_id = p.team_id AND m.user_id = k.created_by), ",
            user_columns!("u"),
            " FROM api_keys k JOIN projects p ON p.id = k.project_id \
             JOIN users u ON u.id = k.created_by WHERE k.key_hash = ?1"
        ))?;
        Ok(stmt
            .query_row(params![key_hash], |row| {
                Ok(KeyHolder {
                    key: ApiKey::from_row(row)?,
                    team_id: row.get(ApiKey::COLUMNS)?,
                    role: row.get(ApiKey::COLUMNS + 1)?,
                    user: User::from_row_at(row, ApiKey::COLUMNS + 2)?,
                })
            })
            .optional()?)
    }
}
