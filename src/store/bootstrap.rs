//! The first administrator: a superuser with a team and a project of their own, written in
//! one transaction across the users, teams and projects families; and the one-time setup
//! links that may create them (`setup_tokens`), shared by every node of the database.

use super::audit::Audit;
use super::db::params;
use super::tenancy::{append_project_created, append_team_created, insert_project, insert_team};
use super::users::{append_user_created, insert_user};
use super::{NewUser, Store, User};
use crate::error::Error;

impl Store {
    /// Creates the first superuser with a team `default` (owned by them) and a project
    /// `default` in that team, all in one transaction with their `user.created`,
    /// `team.created` and `project.created` events, unless a user exists already: then it
    /// creates nothing and returns `None`, so nodes racing to bootstrap one database end with
    /// exactly one administrator. With `setup_token_hash`, that setup link is spent in the
    /// same transaction (`None` when it is no longer stored: spent on another node). Every
    /// stored setup link goes with the first user (see `insert_user`). Fails with 409 if the
    /// email is taken.
    pub fn create_first_admin(
        &self,
        new: &NewUser,
        setup_token_hash: Option<&str>,
        audit: &Audit,
        via: &str,
        now: i64,
    ) -> Result<Option<User>, Error> {
        self.write(|tx| {
            // Under SERIALIZABLE this read conflicts with another node's first user, so of
            // two concurrent bootstraps one is retried and finds the other's user here.
            let has_users: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM users)", params![], |row| {
                    row.get(0)
                })?;
            if has_users {
                return Ok(None);
            }
            if let Some(hash) = setup_token_hash {
                let spent = tx.execute(
                    "DELETE FROM setup_tokens WHERE token_hash = ?1",
                    params![hash],
                )?;
                if spent == 0 {
                    return Ok(None);
                }
            }
            let user = insert_user(tx, new, now)?;
            append_user_created(tx, audit, &user, via, now)?;
            let team = insert_team(tx, "default", "default", &user.id, now)?;
            append_team_created(tx, audit, &team, &user.id, now)?;
            let project = insert_project(tx, &team.id, "default", "default", now)?;
            append_project_created(tx, audit, &project, now)?;
            Ok(Some(user))
        })
    }

    /// Stores the SHA-256 (hex) of a node's new setup token, so that its link works on every
    /// node of the database.
    pub fn add_setup_token(&self, token_hash: &str, now: i64) -> Result<(), Error> {
        self.conn()?.execute(
            "INSERT INTO setup_tokens (token_hash, created_at) VALUES (?1, ?2)",
            params![token_hash, now],
        )?;
        Ok(())
    }

    /// Whether the setup link whose token hashes to `token_hash` is live: stored, and no user
    /// exists yet. Asked of the database on every use, so a link spent on any node (or made
    /// useless by a user created any other way) is dead on all of them.
    pub fn setup_token_is_live(&self, token_hash: &str) -> Result<bool, Error> {
        Ok(self.conn()?.query_row(
            "SELECT EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = ?1) \
             AND NOT EXISTS (SELECT 1 FROM users)",
            params![token_hash],
            |row| row.get(0),
        )?)
    }

    /// Forgets one setup link (its node is shutting down: its link goes with it, as it
    /// did when the token lived only in that process).
    pub fn remove_setup_token(&self, token_hash: &str) -> Result<(), Error> {
        self.conn()?.execute(
            "DELETE FROM setup_tokens WHERE token_hash = ?1",
            params![token_hash],
        )?;
        Ok(())
    }

    /// How many setup links are stored (for tests and diagnostics).
    pub fn setup_token_count(&self) -> Result<usize, Error> {
        Ok(self
            .conn()?
            .query_row("SELECT count(*) FROM setup_tokens", params![], |row| {
                row.get(0)
            })?)
    }
}

#[cfg(test)]
mod tests {
    use crate::email::Email;
    use crate::store::tests::temp_store;
    use crate::store::{Audit, NewUser};

    fn user(email: &str) -> NewUser {
        NewUser::with_hash(Email::parse(email).unwrap(), "x".into())
    }

    #[test]
    fn a_setup_link_works_once_and_every_link_goes_with_the_first_user() {
        let temp = temp_store();
        let store = &temp.store;
        store.add_setup_token("aaaa", 1).unwrap();
        store.add_setup_token("bbbb", 1).unwrap();
        assert!(store.setup_token_is_live("aaaa").unwrap());
        assert!(!store.setup_token_is_live("cccc").unwrap());
        let audit = Audit::system("test");
        let none = store
            .create_first_admin(&user("x@example.com"), Some("cccc"), &audit, "setup", 2)
            .unwrap();
        assert!(none.is_none(), "an unknown link creates nothing");
        assert_eq!(store.count_users().unwrap(), 0);
        let admin = store
            .create_first_admin(&user("a@example.com"), Some("bbbb"), &audit, "setup", 2)
            .unwrap();
        assert!(admin.is_some());
        assert_eq!(store.setup_token_count().unwrap(), 0);
        assert!(!store.setup_token_is_live("aaaa").unwrap());
        // A second bootstrap finds the first and creates nothing.
        let again = store
            .create_first_admin(&user("b@example.com"), None, &audit, "bootstrap", 3)
            .unwrap();
        assert!(again.is_none());
        assert_eq!(store.count_users().unwrap(), 1);
    }

    #[test]
    fn any_first_user_ends_every_setup_link() {
        let temp = temp_store();
        let store = &temp.store;
        store.add_setup_token("aaaa", 1).unwrap();
        store
            .create_user(&user("cli@example.com"), &Audit::cli("test"), "cli", 2)
            .unwrap();
        assert_eq!(store.setup_token_count().unwrap(), 0);
        assert!(!store.setup_token_is_live("aaaa").unwrap());
    }
}
