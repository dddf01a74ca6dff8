//! Changing a user, and ending the sessions the change calls for (deactivation, a password
//! change or reset), in one transaction across the users and sessions families.

use super::audit::{append, Audit, AuditAction};
use super::db::{params, OptionalExtension};
use super::sessions::revoke_all_of_user;
use super::users::{email_taken, user_columns};
use super::{ConflictOnUnique, FromRow, Store, User};
use crate::error::Error;
use serde_json::json;

/// A partial update: `None` leaves a field as it is; `Some(None)` clears a name.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New email (lower-cased on write).
    pub email: Option<String>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// New given name.
    pub first_name: Option<Option<String>>,
    /// New family name.
    pub last_name: Option<Option<String>>,
    /// New active flag; deactivation also revokes every session of the user.
    pub is_active: Option<bool>,
    /// New verified flag.
    pub is_verified: Option<bool>,
    /// New superuser flag.
    pub is_superuser: Option<bool>,
}

/// Which of the user's sessions an update revokes in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeSessions<'a> {
    /// None (deactivation still revokes all).
    None,
    /// All but this session id (the caller's own password change).
    AllExcept(&'a str),
    /// All of them (an administrator's password reset).
    All,
}

impl Store {
    /// Applies `changes` to user `id` in one transaction and returns the updated user (404 if
    /// absent, 409 if the new email is taken). Deactivation revokes every session of the
    /// user; otherwise `revoke` says which sessions go, as a password change requires.
    ///
    /// In the same transaction, by `audit`, one event per kind of change that really
    /// happened (a field set to its current value is no change): `user.updated` (details:
    /// the names of the fields changed, never their values), `user.password_changed`,
    /// `user.deactivated` or `user.activated`, and one `session.revoked` summing up the
    /// sessions the change ended (details: `count` and `reason`), if any.
    pub fn update_user(
        &self,
        id: &crate::ids::UserId,
        changes: &UserChanges,
        revoke: RevokeSessions<'_>,
        audit: &Audit,
        now: i64,
    ) -> Result<User, Error> {
        self.write(|tx| {
            let before = tx
                .prepare_cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE id = ?1"
                ))
                .and_then(|mut stmt| stmt.query_row(params![id], User::from_row).optional())?
                .ok_or_else(|| Error::NotFound("User not found".into()))?;
            let mut user = before.clone();
            if let Some(email) = &changes.email {
                user.email = email.to_lowercase();
            }
            if let Some(hash) = &changes.password_hash {
                user.password_hash = hash.clone();
            }
            if let Some(first) = &changes.first_name {
                user.first_name = first.clone();
            }
            if let Some(last) = &changes.last_name {
                user.last_name = last.clone();
            }
            let deactivating = changes.is_active == Some(false) && user.is_active;
            if let Some(active) = changes.is_active {
                user.is_active = active;
            }
            if let Some(verified) = changes.is_verified {
                user.is_verified = verified;
            }
            if let Some(superuser) = changes.is_superuser {
                user.is_superuser = superuser;
            }
            tx.prepare_cached(
                "UPDATE users SET email = ?2, password_hash = ?3, first_name = ?4, last_name = ?5, \
                 is_active = ?6, is_verified = ?7, is_superuser = ?8, \
                 deactivated_at = CASE WHEN CAST(?6 AS BIGINT) = 1 THEN NULL ELSE coalesce(deactivated_at, ?9) END \
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    user.id,
                    user.email,
                    user.password_hash,
                    user.first_name,
                    user.last_name,
                    user.is_active,
                    user.is_verified,
                    user.is_superuser,
                    now
                ])
            })
            .conflict_on_unique(email_taken)?;
            let revoke = if deactivating {
                RevokeSessions::All
            } else {
                revoke
            };
            let revoked = match revoke {
                RevokeSessions::None => 0,
                RevokeSessions::AllExcept(keep) => {
                    revoke_all_of_user(tx, &user.id, Some(keep), now)?
                }
                RevokeSessions::All => revoke_all_of_user(tx, &user.id, None, now)?,
            };
            append_update_events(tx, audit, &before, &user, revoked, now)?;
            Ok(user)
        })
    }
}

/// The events of one update from `before` to `after` that ended `revoked` sessions.
fn append_update_events(
    tx: &super::db::Transaction,
    audit: &Audit,
    before: &User,
    after: &User,
    revoked: usize,
    now: i64,
) -> Result<(), Error> {
    let event = |action| {
        audit
            .event(action, now)
            .target("user", &after.id, Some(&after.email))
    };
    let changed: Vec<&str> = [
        ("email", before.email != after.email),
        ("first_name", before.first_name != after.first_name),
        ("last_name", before.last_name != after.last_name),
        ("is_verified", before.is_verified != after.is_verified),
        ("is_superuser", before.is_superuser != after.is_superuser),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect();
    if !changed.is_empty() {
        append(
            tx,
            &event(AuditAction::UserUpdated).details(json!({ "fields": changed })),
        )?;
    }
    let password_changed = before.password_hash != after.password_hash;
    if password_changed {
        append(tx, &event(AuditAction::UserPasswordChanged))?;
    }
    match (before.is_active, after.is_active) {
        (true, false) => append(tx, &event(AuditAction::UserDeactivated)).map(|_| ())?,
        (false, true) => append(tx, &event(AuditAction::UserActivated)).map(|_| ())?,
        _ => {}
    }
    if revoked > 0 {
        let reason = if before.is_active && !after.is_active {
            "user_deactivated"
        } else {
            "password_changed"
        };
        append(
            tx,
            &event(AuditAction::SessionRevoked).details(json!({
                "count": revoked,
                "reason": reason,
            })),
        )?;
    }
    Ok(())
}
