//! The first administrator: a superuser with a team and a project of their own, written in
//! one transaction across the users, teams and projects families.

use super::audit::Audit;
use super::tenancy::{append_project_created, append_team_created, insert_project, insert_team};
use super::users::{append_user_created, insert_user};
use super::{NewUser, Store, User};
use crate::error::Error;

impl Store {
    /// Creates the first superuser with a team `default` (owned by them) and a project
    /// `default` in that team, all in one transaction with their `user.created`,
    /// `team.created` and `project.created` events. Fails with 409 if the email is taken.
    pub fn create_first_admin(
        &self,
        new: &NewUser,
        audit: &Audit,
        via: &str,
        now: i64,
    ) -> Result<User, Error> {
        self.write(|tx| {
            let user = insert_user(tx, new, now)?;
            append_user_created(tx, audit, &user, via, now)?;
            let team = insert_team(tx, "default", "default", &user.id, now)?;
            append_team_created(tx, audit, &team, &user.id, now)?;
            let project = insert_project(tx, &team.id, "default", "default", now)?;
            append_project_created(tx, audit, &project, now)?;
            Ok(user)
        })
    }
}
