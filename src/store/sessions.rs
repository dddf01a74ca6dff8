//! Sessions: one row per login, carrying the generation of its one live token.
//!
//! Refresh rotates the generation with a conditional update (`WHERE generation = ?`), so of
//! two concurrent refreshes exactly one rotates and the other sees the newer generation.

use super::audit::{append, email_of, Audit, AuditAction};
use super::db::{params, OptionalExtension, Row};
use super::{column_count, FromRow, Store, User};
use crate::error::Error;
use crate::ids::{SessionId, UserId};

/// The session columns in the order [`Session`]'s [`FromRow`] reads them:
/// `session_columns!()` bare, `session_columns!("s")` qualified for a join. A macro so that
/// `concat!` builds each statement at compile time.
macro_rules! session_columns {
    ($($alias:literal)?) => {
        columns!($($alias)?; "id", "user_id", "generation", "rotated_at", "created_at",
            "last_seen_at", "token_expires_at", "user_agent", "ip", "revoked_at")
    };
}
pub(super) use session_columns;

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id; the `sid` claim.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// The `gen` claim of the current token.
    pub generation: i64,
    /// When the current generation was issued (unix seconds).
    pub rotated_at: i64,
    /// Login time (unix seconds); the absolute maximum age counts from here.
    pub created_at: i64,
    /// Last time a token of this session was used (unix seconds, coarse).
    pub last_seen_at: i64,
    /// `exp` of the newest token issued.
    pub token_expires_at: i64,
    /// `User-Agent` at login, truncated.
    pub user_agent: Option<String>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl FromRow for Session {
    const COLUMNS: usize = column_count(session_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<Session> {
        Ok(Session {
            id: row.get(first)?,
            user_id: row.get(first + 1)?,
            generation: row.get(first + 2)?,
            rotated_at: row.get(first + 3)?,
            created_at: row.get(first + 4)?,
            last_seen_at: row.get(first + 5)?,
            token_expires_at: row.get(first + 6)?,
            user_agent: row.get(first + 7)?,
            ip: row.get(first + 8)?,
            revoked_at: row.get(first + 9)?,
        })
    }
}

/// Revokes every live session of `user_id` except `keep`; returns how many.
pub(super) fn revoke_all_of_user(
    tx: &super::db::Transaction,
    user_id: &UserId,
    keep: Option<&str>,
    now: i64,
) -> Result<usize, Error> {
    Ok(tx
        .prepare_cached(
            "UPDATE sessions SET revoked_at = ?3 \
             WHERE user_id = ?1 AND revoked_at IS NULL AND id IS DISTINCT FROM ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![user_id, keep, now]))?)
}

impl Store {
    /// Creates a session of `user` at generation 0 whose first token expires at
    /// `token_expires_at`, and appends `auth.login_succeeded` (by `audit`, about the user,
    /// naming the session in `details`) in the same transaction; `None` (and nothing written)
    /// when the stored user is no longer active or no longer has `user.password_hash`.
    ///
    /// A login checks the password against the user as read before hashing. A deactivation
    /// or password change committed meanwhile (on any node) ended every session there was,
    /// but not this one, still to come: so the transaction that makes it checks again, and a
    /// login that raced a change gets what it would have got after it.
    pub fn create_session(
        &self,
        user: &User,
        user_agent: Option<&str>,
        ip: Option<&str>,
        audit: &Audit,
        now: i64,
        token_expires_at: i64,
    ) -> Result<Option<Session>, Error> {
        let session = Session {
            id: SessionId::new_v4(),
            user_id: user.id.clone(),
            generation: 0,
            rotated_at: now,
            created_at: now,
            last_seen_at: now,
            token_expires_at,
            user_agent: user_agent.map(str::to_string),
            ip: ip.map(str::to_string),
            revoked_at: None,
        };
        self.write(|tx| {
            let stored: Option<(bool, String)> = tx
                .prepare_cached("SELECT is_active, password_hash FROM users WHERE id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row(params![user.id], |row| Ok((row.get(0)?, row.get(1)?)))
                })
                .optional()?;
            if stored.is_none_or(|(active, hash)| !active || hash != user.password_hash) {
                return Ok(None);
            }
            tx.prepare_cached(concat!(
                "INSERT INTO sessions (",
                session_columns!(),
                ") \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(params![
                    session.id,
                    session.user_id,
                    session.generation,
                    session.rotated_at,
                    session.created_at,
                    session.last_seen_at,
                    session.token_expires_at,
                    session.user_agent,
                    session.ip,
                    session.revoked_at
                ])
            })?;
            let event = audit
                .event(AuditAction::LoginSucceeded, now)
                .target("user", &user.id, Some(&user.email))
                .details(serde_json::json!({ "session_id": session.id }));
            append(tx, &event)?;
            Ok(Some(()))
        })
        .map(|created| created.map(|()| session))
    }

    /// The session with this id, revoked or not.
    pub fn session_by_id(&self, id: &SessionId) -> Result<Option<Session>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?1"
        ))?;
        Ok(stmt.query_row(params![id], Session::from_row).optional()?)
    }

    /// Moves a live session from generation `from` to `from + 1`; false when the session is
    /// revoked or no longer at `from` (another refresh won the race).
    pub fn rotate_session(
        &self,
        id: &SessionId,
        from: i64,
        now: i64,
        token_expires_at: i64,
    ) -> Result<bool, Error> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE sessions SET generation = generation + 1, rotated_at = ?3, \
                     last_seen_at = ?3, token_expires_at = ?4 \
                     WHERE id = ?1 AND generation = ?2 AND revoked_at IS NULL",
                )
                .and_then(|mut stmt| stmt.execute(params![id, from, now, token_expires_at]))
                .map(|changed| changed == 1)?)
        })
    }

    /// Records that another token of the current generation was issued (the reuse window).
    pub fn extend_session_token(
        &self,
        id: &SessionId,
        now: i64,
        token_expires_at: i64,
    ) -> Result<(), Error> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE sessions SET last_seen_at = ?2, \
                 token_expires_at = CASE WHEN token_expires_at > ?3 THEN token_expires_at ELSE ?3 END \
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![id, now, token_expires_at]))?;
            Ok(())
        })
    }

    /// Revokes session `id` if it belongs to `user_id` and is live, appending `action`
    /// (`auth.logout`, `session.revoked` or `session.reuse_detected`) by `audit` about the
    /// session with `details`, in the same transaction; false (and no event) otherwise.
    pub fn revoke_session(
        &self,
        user_id: &UserId,
        id: &SessionId,
        audit: &Audit,
        action: AuditAction,
        details: serde_json::Value,
        now: i64,
    ) -> Result<bool, Error> {
        self.write(|tx| {
            let revoked = tx
                .prepare_cached(
                    "UPDATE sessions SET revoked_at = ?3 \
                     WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                )
                .and_then(|mut stmt| stmt.execute(params![id, user_id, now]))
                .map(|changed| changed == 1)?;
            if revoked {
                let event = audit
                    .event(action, now)
                    .target("session", id, None)
                    .details(details.clone());
                append(tx, &event)?;
            }
            Ok(revoked)
        })
    }

    /// Revokes every live session of `user_id` except `keep`; returns how many. When there
    /// were any, appends one `session.revoked` by `audit` about the user, summing them up
    /// (`{"count": n, "reason": "revoke_all"}`), in the same transaction.
    pub fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&str>,
        audit: &Audit,
        now: i64,
    ) -> Result<usize, Error> {
        self.write(|tx| {
            let count = revoke_all_of_user(tx, user_id, keep, now)?;
            if count > 0 {
                let email = email_of(tx, user_id)?;
                let event = audit
                    .event(AuditAction::SessionRevoked, now)
                    .target("user", user_id, email.as_deref())
                    .details(serde_json::json!({ "count": count, "reason": "revoke_all" }));
                append(tx, &event)?;
            }
            Ok(count)
        })
    }

    /// The user's sessions that are not revoked, began after `created_after` (the absolute
    /// age limit) and whose newest token expired after `expired_after` (the refresh grace):
    /// those that can still be used or refreshed. Newest first.
    pub fn live_sessions(
        &self,
        user_id: &UserId,
        created_after: i64,
        expired_after: i64,
    ) -> Result<Vec<Session>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions \
             WHERE user_id = ?1 AND revoked_at IS NULL AND created_at > ?2 \
             AND token_expires_at > ?3 ORDER BY created_at DESC, rowid DESC"
        ))?;
        let rows = stmt.query_map(
            params![user_id, created_after, expired_after],
            Session::from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::tests::temp_store;
    use crate::store::NewUser;

    fn a_user(store: &crate::store::Store) -> crate::store::User {
        store
            .create_user(
                &NewUser::with_hash(
                    crate::email::Email::parse("a@example.com").unwrap(),
                    "x".into(),
                ),
                &crate::store::Audit::cli("test"),
                "test",
                1,
            )
            .unwrap()
    }

    #[test]
    fn a_login_checked_against_a_password_changed_since_makes_no_session() {
        let temp = temp_store();
        let store = &temp.store;
        let checked = a_user(store);
        let audit = crate::store::Audit::cli("test");
        // The password changes (on another node) while the login hashes.
        assert!(store
            .upgrade_password_hash(&checked.id, &checked.password_hash, "$argon2id$changed")
            .unwrap());
        assert_eq!(
            store
                .create_session(&checked, None, None, &audit, 10, 100)
                .unwrap(),
            None
        );
        // The stale login's own upgrade does not overwrite the change either.
        assert!(!store
            .upgrade_password_hash(&checked.id, &checked.password_hash, "$argon2id$stale")
            .unwrap());
        let current = store.user_by_id(&checked.id).unwrap().unwrap();
        assert_eq!(current.password_hash, "$argon2id$changed");
        assert!(store
            .create_session(&current, None, None, &audit, 11, 100)
            .unwrap()
            .is_some());
        assert_eq!(store.live_sessions(&current.id, 0, 0).unwrap().len(), 1);
    }

    #[test]
    fn only_one_of_two_rotations_from_the_same_generation_wins() {
        let temp = temp_store();
        let store = &temp.store;
        let user = a_user(store);
        let session = store
            .create_session(
                &user,
                Some("ua"),
                None,
                &crate::store::Audit::cli("test"),
                10,
                3610,
            )
            .unwrap()
            .unwrap();
        assert!(store.rotate_session(&session.id, 0, 20, 3620).unwrap());
        assert!(!store.rotate_session(&session.id, 0, 21, 3621).unwrap());
        let now = store.session_by_id(&session.id).unwrap().unwrap();
        assert_eq!((now.generation, now.rotated_at), (1, 20));
    }

    #[test]
    fn revoking_others_keeps_the_named_session() {
        let temp = temp_store();
        let store = &temp.store;
        let user = a_user(store);
        let keep = store
            .create_session(
                &user,
                None,
                None,
                &crate::store::Audit::cli("test"),
                10,
                100,
            )
            .unwrap()
            .unwrap();
        let other = store
            .create_session(
                &user,
                None,
                None,
                &crate::store::Audit::cli("test"),
                11,
                100,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .revoke_user_sessions(
                    &user.id,
                    Some(&keep.id),
                    &crate::store::Audit::cli("test"),
                    12
                )
                .unwrap(),
            1
        );
        let live = store.live_sessions(&user.id, 0, 50).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id, keep.id);
        assert!(!store
            .revoke_session(
                &user.id,
                &other.id,
                &crate::store::Audit::cli("test"),
                crate::store::AuditAction::SessionRevoked,
                serde_json::json!({}),
                13
            )
            .unwrap());
        assert!(!store
            .revoke_session(
                &crate::ids::UserId::new_v4(),
                &keep.id,
                &crate::store::Audit::cli("test"),
                crate::store::AuditAction::SessionRevoked,
                serde_json::json!({}),
                13
            )
            .unwrap());
    }

    #[test]
    fn a_flushed_use_moves_last_seen_forward_only() {
        let temp = temp_store();
        let store = &temp.store;
        let user = a_user(store);
        let session = store
            .create_session(
                &user,
                None,
                None,
                &crate::store::Audit::cli("test"),
                10,
                100,
            )
            .unwrap()
            .unwrap();
        let (joined, owner, _) = store.session_with_user(&session.id).unwrap().unwrap();
        assert_eq!((joined, owner), (session.clone(), user.clone()));
        let seen = |at: i64| crate::store::UsageBatch {
            sessions_seen: vec![(session.id.to_string(), at)],
            ..Default::default()
        };
        store.record_usage(&seen(90)).unwrap();
        store.record_usage(&seen(50)).unwrap();
        let stored = store.session_by_id(&session.id).unwrap().unwrap();
        assert_eq!(stored.last_seen_at, 90);
    }
}
