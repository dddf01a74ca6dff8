//! Users: accounts with an Argon2id password hash and their flags.

use super::audit::{append, Audit, AuditAction};
use super::db::{params, OptionalExtension, Row};
use super::{column_count, ConflictOnUnique, FromRow, Store};
use crate::email::Email;
use crate::error::Error;
use crate::ids::UserId;
use serde_json::json;

/// The user columns in the order [`User`]'s [`FromRow`] reads them: `user_columns!()` bare,
/// `user_columns!("u")` qualified for a join. A macro rather than a `const` so that `concat!`
/// builds each statement at compile time: no SQL text is formatted per call.
macro_rules! user_columns {
    ($($alias:literal)?) => {
        columns!($($alias)?; "id", "email", "password_hash", "first_name", "last_name",
            "is_active", "is_verified", "is_superuser", "created_at")
    };
}
pub(super) use user_columns;

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Lower-cased email, unique.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Optional given name.
    pub first_name: Option<String>,
    /// Optional family name.
    pub last_name: Option<String>,
    /// Inactive users cannot sign in, and all their tokens and keys fail.
    pub is_active: bool,
    /// Whether the email is verified.
    pub is_verified: bool,
    /// Superusers may act on everything.
    pub is_superuser: bool,
    /// Unix seconds.
    pub created_at: i64,
}

/// What is needed to create a user (the password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Email, in normal form by its type: stored as it is.
    pub email: Email,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Optional given name.
    pub first_name: Option<String>,
    /// Optional family name.
    pub last_name: Option<String>,
    /// Superuser flag.
    pub is_superuser: bool,
    /// Verified flag.
    pub is_verified: bool,
}

impl NewUser {
    /// A user with this email and password hash, no names and no flags.
    pub fn with_hash(email: Email, password_hash: String) -> NewUser {
        NewUser {
            email,
            password_hash,
            first_name: None,
            last_name: None,
            is_superuser: false,
            is_verified: false,
        }
    }
}

impl FromRow for User {
    const COLUMNS: usize = column_count(user_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<User> {
        Ok(User {
            id: row.get(first)?,
            email: row.get(first + 1)?,
            password_hash: row.get(first + 2)?,
            first_name: row.get(first + 3)?,
            last_name: row.get(first + 4)?,
            is_active: row.get(first + 5)?,
            is_verified: row.get(first + 6)?,
            is_superuser: row.get(first + 7)?,
            created_at: row.get(first + 8)?,
        })
    }
}

/// The 409 for a taken email, worded for the CLI and the API alike.
pub(super) fn email_taken() -> Error {
    Error::Conflict("A user with this email already exists.".into())
}

pub(super) fn insert_user(
    tx: &super::db::Transaction,
    new: &NewUser,
    now: i64,
) -> Result<User, Error> {
    let user = User {
        id: UserId::new_v4(),
        email: new.email.as_str().to_owned(),
        password_hash: new.password_hash.clone(),
        first_name: new.first_name.clone(),
        last_name: new.last_name.clone(),
        is_active: true,
        is_verified: new.is_verified,
        is_superuser: new.is_superuser,
        created_at: now,
    };
    tx.prepare_cached(concat!(
        "INSERT INTO users (",
        user_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))
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
            user.created_at
        ])
    })
    .conflict_on_unique(email_taken)?;
    // A user exists from now on, so no one-time setup link may outlive this transaction,
    // whichever way the first user came (setup page, bootstrap, CLI, register, seed).
    tx.execute("DELETE FROM setup_tokens", params![])?;
    Ok(user)
}

/// Appends `user.created` for `user`, made through `via` (`api`, `register`, `setup`,
/// `bootstrap`, `cli`, `seed`), inside `tx`.
pub(super) fn append_user_created(
    tx: &super::db::Transaction,
    audit: &Audit,
    user: &User,
    via: &str,
    now: i64,
) -> Result<(), Error> {
    let event = audit
        .event(AuditAction::UserCreated, now)
        .target("user", &user.id, Some(&user.email))
        .details(json!({
            "via": via,
            "is_superuser": user.is_superuser,
            "is_verified": user.is_verified,
        }));
    append(tx, &event).map(|_| ())
}

impl Store {
    /// Creates a user and appends `user.created` (by `audit`, made through `via`) in the same
    /// transaction; 409 when the email (case-insensitively) is taken, and then no event.
    pub fn create_user(
        &self,
        new: &NewUser,
        audit: &Audit,
        via: &str,
        now: i64,
    ) -> Result<User, Error> {
        self.write(|tx| {
            let user = insert_user(tx, new, now)?;
            append_user_created(tx, audit, &user, via, now)?;
            Ok(user)
        })
    }

    /// Replaces the password hash of user `id` with the same password hashed under newer
    /// parameters (on a successful login), if the stored hash is still `verified`, the one
    /// the login checked; true when replaced. No event: the password, and so what anyone can
    /// do, stays the same; only its storage is upgraded. The condition keeps a password
    /// changed meanwhile (on any node, while this login hashed) from being overwritten by the
    /// old password's new hash.
    pub fn upgrade_password_hash(
        &self,
        id: &UserId,
        verified: &str,
        hash: &str,
    ) -> Result<bool, Error> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![id, verified, hash]))
                .map(|changed| changed == 1)?)
        })
    }

    /// The user with this id, if any.
    pub fn user_by_id(&self, id: &UserId) -> Result<Option<User>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?1"
        ))?;
        Ok(stmt.query_row(params![id], User::from_row).optional()?)
    }

    /// The user with this email (compared case-insensitively), if any.
    pub fn user_by_email(&self, email: &str) -> Result<Option<User>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = ?1"
        ))?;
        Ok(stmt
            .query_row(params![email.to_lowercase()], User::from_row)
            .optional()?)
    }

    /// Every user, oldest first.
    pub fn list_users(&self) -> Result<Vec<User>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY created_at, rowid"
        ))?;
        let rows = stmt.query_map(params![], User::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether any user exists: one index probe, however many users there are (a
    /// `count(*)` would read them all), cheap enough to ask on every setup request.
    pub fn has_users(&self) -> Result<bool, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM users)")?;
        Ok(stmt.query_row(params![], |row| row.get(0))?)
    }

    /// How many users exist.
    pub fn count_users(&self) -> Result<i64, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT count(*) FROM users")?;
        Ok(stmt.query_row(params![], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use crate::store::{RevokeSessions, UserChanges};

    fn alice() -> NewUser {
        let email = Email::parse("Alice@Example.com").unwrap();
        NewUser::with_hash(email, "$argon2id$fake".into())
    }

    #[test]
    fn email_is_stored_lower_case_and_found_in_any_case() {
        let temp = temp_store();
        let user = temp
            .store
            .create_user(&alice(), &Audit::cli("test"), "test", 100)
            .unwrap();
        assert_eq!(user.email, "alice@example.com");
        let found = temp
            .store
            .user_by_email("ALICE@example.COM")
            .unwrap()
            .unwrap();
        assert_eq!(found, user);
        assert_eq!(temp.store.user_by_id(&user.id).unwrap(), Some(user));
    }

    #[test]
    fn has_users_turns_true_with_the_first_user() {
        let temp = temp_store();
        assert!(!temp.store.has_users().unwrap());
        temp.store
            .create_user(&alice(), &Audit::cli("test"), "test", 100)
            .unwrap();
        assert!(temp.store.has_users().unwrap());
    }

    #[test]
    fn duplicate_email_is_a_conflict() {
        let temp = temp_store();
        temp.store
            .create_user(&alice(), &Audit::cli("test"), "test", 100)
            .unwrap();
        let mut again = alice();
        again.email = Email::parse("alice@EXAMPLE.com").unwrap();
        assert!(matches!(
            temp.store
                .create_user(&again, &Audit::cli("test"), "test", 101),
            Err(Error::Conflict(_))
        ));
        assert_eq!(temp.store.count_users().unwrap(), 1);
    }

    #[test]
    fn first_admin_gets_default_team_and_project() {
        let temp = temp_store();
        let admin = temp
            .store
            .create_first_admin(&alice(), None, &Audit::cli("test"), "test", 100)
            .unwrap()
            .unwrap();
        let team = temp.store.team_by_slug("default").unwrap().unwrap();
        assert_eq!(
            temp.store.member_role(&team.id, &admin.id).unwrap(),
            Some(crate::roles::Role::Owner)
        );
        let project = temp.store.project_by_slug("default").unwrap().unwrap();
        assert_eq!(project.team_id, team.id);
    }

    #[test]
    fn update_changes_only_given_fields() {
        let temp = temp_store();
        let user = temp
            .store
            .create_user(&alice(), &Audit::cli("test"), "test", 100)
            .unwrap();
        let changes = UserChanges {
            first_name: Some(Some("Alice".into())),
            is_verified: Some(true),
            ..UserChanges::default()
        };
        let updated = temp
            .store
            .update_user(
                &user.id,
                &changes,
                RevokeSessions::None,
                &Audit::cli("test"),
                200,
            )
            .unwrap();
        assert_eq!(updated.first_name.as_deref(), Some("Alice"));
        assert!(updated.is_verified);
        assert_eq!(updated.email, user.email);
        assert!(matches!(
            temp.store.update_user(
                &crate::ids::UserId::new_v4(),
                &changes,
                RevokeSessions::None,
                &Audit::cli("test"),
                200
            ),
            Err(Error::NotFound(_))
        ));
    }
}
