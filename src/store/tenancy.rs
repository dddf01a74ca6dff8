//! Teams, their members with roles, and the projects teams own.

use super::audit::{append, email_of, Audit, AuditAction};
use super::db::{params, OptionalExtension, Row};
use super::db::{FromValue, ToValue, Value, ValueRef};
use super::{column_count, ConflictOnUnique, FromRow, Store};
use crate::error::Error;
use crate::ids::{ProjectId, TeamId, UserId};
use crate::roles::Role;
use serde_json::json;

/// The team columns (alias `t`) in the order the team readers take them. A macro so that
/// `concat!` builds each statement at compile time.
macro_rules! team_columns {
    () => {
        columns!("t"; "id", "name", "slug", "created_at")
    };
}

/// The project columns (alias `p`) in the order the project readers take them.
macro_rules! project_columns {
    () => {
        columns!("p"; "id", "team_id", "name", "slug", "created_at")
    };
}

/// The member columns (memberships `m` joined to users `u` for the email) in the order
/// [`Member`]'s [`FromRow`] reads them.
macro_rules! member_columns {
    () => {
        "m.user_id, u.email, m.role, m.added_at"
    };
}

/// Stored as its [`Role::as_str`] spelling.
impl ToValue for Role {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self.as_str())
    }
}

/// Read back from its spelling; any other stored text is a conversion error (the read fails
/// with a 500), never a panic and never a guess.
impl FromValue for Role {
    fn from_value(value: ValueRef<'_>) -> Result<Role, String> {
        let text = String::from_value(value)?;
        Role::parse(&text).ok_or_else(|| format!("unknown role {text:?}"))
    }
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// Its id.
    pub id: TeamId,
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
    /// Its id.
    pub id: ProjectId,
    /// Owning team.
    pub team_id: TeamId,
    /// Display name.
    pub name: String,
    /// Slug, unique across the server.
    pub slug: String,
    /// Unix seconds.
    pub created_at: i64,
}

pub(super) fn insert_team(
    tx: &super::db::Transaction,
    name: &str,
    slug: &str,
    owner_id: &UserId,
    now: i64,
) -> Result<Team, Error> {
    let team = Team {
        id: TeamId::new_v4(),
        name: name.to_string(),
        slug: slug.to_string(),
        created_at: now,
    };
    tx.prepare_cached("INSERT INTO teams (id, name, slug, created_at) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut stmt| stmt.execute(params![team.id, team.name, team.slug, now]))
        .conflict_on_unique(|| Error::Conflict("A team with this slug already exists.".into()))?;
    tx.prepare_cached(
        "INSERT INTO team_members (team_id, user_id, role, added_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![team.id, owner_id, Role::Owner, now]))?;
    Ok(team)
}

/// Adds `user_id` to a team with `role` inside `tx`; 409 when already a member.
pub(super) fn insert_member(
    tx: &super::db::Transaction,
    team_id: &TeamId,
    user_id: &UserId,
    role: Role,
    now: i64,
) -> Result<(), Error> {
    tx.prepare_cached(
        "INSERT INTO team_members (team_id, user_id, role, added_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![team_id, user_id, role, now]))
    .conflict_on_unique(|| Error::Conflict("This user is already a member of the team.".into()))?;
    Ok(())
}

/// Appends `team.created` for `team`, owned by `owner_id`, inside `tx`.
pub(super) fn append_team_created(
    tx: &super::db::Transaction,
    audit: &Audit,
    team: &Team,
    owner_id: &UserId,
    now: i64,
) -> Result<(), Error> {
    let event = audit
        .event(AuditAction::TeamCreated, now)
        .target("team", &team.id, Some(&team.slug))
        .team(&team.id)
        .details(json!({ "name": team.name, "owner_id": owner_id }));
    append(tx, &event).map(|_| ())
}

/// Appends `member.added` for `user_id` joining `team_id` as `role`, inside `tx`.
pub(super) fn append_member_added(
    tx: &super::db::Transaction,
    audit: &Audit,
    team_id: &TeamId,
    user_id: &UserId,
    role: Role,
    now: i64,
) -> Result<(), Error> {
    let email = email_of(tx, user_id)?;
    let event = audit
        .event(AuditAction::MemberAdded, now)
        .target("member", user_id.as_str(), email.as_deref())
        .team(team_id.as_str())
        .details(json!({ "role": role }));
    append(tx, &event).map(|_| ())
}

/// Appends `project.created` for `project`, inside `tx`.
pub(super) fn append_project_created(
    tx: &super::db::Transaction,
    audit: &Audit,
    project: &Project,
    now: i64,
) -> Result<(), Error> {
    let event = audit
        .event(AuditAction::ProjectCreated, now)
        .target("project", &project.id, Some(&project.slug))
        .team(&project.team_id)
        .project(&project.id)
        .details(json!({ "name": project.name }));
    append(tx, &event).map(|_| ())
}

pub(super) fn insert_project(
    tx: &super::db::Transaction,
    team_id: &TeamId,
    name: &str,
    slug: &str,
    now: i64,
) -> Result<Project, Error> {
    let project = Project {
        id: ProjectId::new_v4(),
        team_id: team_id.clone(),
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
    .conflict_on_unique(|| Error::Conflict("A project with this slug already exists.".into()))?;
    Ok(project)
}

impl Store {
    /// The team with this slug, if any.
    pub fn team_by_slug(&self, slug: &str) -> Result<Option<Team>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            team_columns!(),
            " FROM teams t WHERE t.slug = ?1"
        ))?;
        Ok(stmt.query_row(params![slug], Team::from_row).optional()?)
    }

    /// The project with this slug, if any.
    pub fn project_by_slug(&self, slug: &str) -> Result<Option<Project>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects p WHERE p.slug = ?1"
        ))?;
        Ok(stmt
            .query_row(params![slug], Project::from_row)
            .optional()?)
    }

    /// The role of `user_id` in `team_id`, if a member.
    pub fn member_role(&self, team_id: &TeamId, user_id: &UserId) -> Result<Option<Role>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached("SELECT role FROM team_members WHERE team_id = ?1 AND user_id = ?2")?;
        Ok(stmt
            .query_row(params![team_id, user_id], |row| row.get(0))
            .optional()?)
    }
}

/// A member of a team as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// Their standing in the team.
    pub role: Role,
    /// Unix seconds.
    pub added_at: i64,
}

impl FromRow for Member {
    const COLUMNS: usize = column_count(member_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<Member> {
        Ok(Member {
            user_id: row.get(first)?,
            email: row.get(first + 1)?,
            role: row.get(first + 2)?,
            added_at: row.get(first + 3)?,
        })
    }
}

impl FromRow for Team {
    const COLUMNS: usize = column_count(team_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<Team> {
        Ok(Team {
            id: row.get(first)?,
            name: row.get(first + 1)?,
            slug: row.get(first + 2)?,
            created_at: row.get(first + 3)?,
        })
    }
}

impl FromRow for Project {
    const COLUMNS: usize = column_count(project_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<Project> {
        Ok(Project {
            id: row.get(first)?,
            team_id: row.get(first + 1)?,
            name: row.get(first + 2)?,
            slug: row.get(first + 3)?,
            created_at: row.get(first + 4)?,
        })
    }
}

fn owner_count(tx: &super::db::Transaction, team_id: &TeamId) -> Result<i64, Error> {
    Ok(tx
        .prepare_cached("SELECT count(*) FROM team_members WHERE team_id = ?1 AND role = ?2")
        .and_then(|mut stmt| stmt.query_row(params![team_id, Role::Owner], |row| row.get(0)))?)
}

/// The role of `user_id` in `team_id` inside `tx`, if a member.
pub(super) fn role_in(
    tx: &super::db::Transaction,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<Option<Role>, Error> {
    let mut stmt =
        tx.prepare_cached("SELECT role FROM team_members WHERE team_id = ?1 AND user_id = ?2")?;
    Ok(stmt
        .query_row(params![team_id, user_id], |row| row.get(0))
        .optional()?)
}

/// The 400 for removing or demoting the last owner.
fn last_owner() -> Error {
    Error::bad_request("The last owner of a team cannot be removed or demoted.")
}

/// Who asks for a change to a membership, and the rule their standing must pass.
///
/// The rule is judged inside the change's transaction, against the roles as they are there,
/// not as a request read them before: a concurrent change of the asker's role or of the
/// member's (on any node of a deployment) cannot slip between the check and the write. Two
/// owners demoting each other at once thus get the answers of one-after-the-other: the second
/// is refused as no longer an owner.
pub struct MemberAuthority<'a> {
    /// The user asking.
    pub actor: &'a UserId,
    /// Accepts or refuses the change, given the asker's role in the team (`None`: not a
    /// member) and the member's current role.
    pub allows: &'a dyn Fn(Option<Role>, Role) -> Result<(), Error>,
}

impl MemberAuthority<'_> {
    /// Judges the change of a member holding `current` in `team_id`, inside `tx`.
    fn judge(
        &self,
        tx: &super::db::Transaction,
        team_id: &TeamId,
        current: Role,
    ) -> Result<(), Error> {
        (self.allows)(role_in(tx, team_id, self.actor)?, current)
    }
}

impl Store {
    /// Creates a team owned by `owner_id` and appends `team.created` by `audit` in the same
    /// transaction; 409 when the slug is taken (and then no event).
    pub fn create_team(
        &self,
        name: &str,
        slug: &str,
        owner_id: &UserId,
        audit: &Audit,
        now: i64,
    ) -> Result<Team, Error> {
        self.write(|tx| {
            let team = insert_team(tx, name, slug, owner_id, now)?;
            append_team_created(tx, audit, &team, owner_id, now)?;
            Ok(team)
        })
    }

    /// The team with this id, if any.
    pub fn team_by_id(&self, id: &TeamId) -> Result<Option<Team>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            team_columns!(),
            " FROM teams t WHERE t.id = ?1"
        ))?;
        Ok(stmt.query_row(params![id], Team::from_row).optional()?)
    }

    /// The teams `user_id` belongs to, with their role, oldest first.
    pub fn teams_of_user(&self, user_id: &UserId) -> Result<Vec<(Team, Role)>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            team_columns!(),
            ", m.role FROM teams t \
             JOIN team_members m ON m.team_id = t.id WHERE m.user_id = ?1 \
             ORDER BY t.created_at, t.rowid"
        ))?;
        let rows = stmt.query_map(params![user_id], |row| {
            Ok((Team::from_row(row)?, row.get(Team::COLUMNS)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The members of a team, in the order they were added.
    pub fn members(&self, team_id: &TeamId) -> Result<Vec<Member>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            member_columns!(),
            " FROM team_members m \
             JOIN users u ON u.id = m.user_id WHERE m.team_id = ?1 \
             ORDER BY m.added_at, m.rowid"
        ))?;
        let rows = stmt.query_map(params![team_id], Member::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds `user_id` to a team with `role` and appends `member.added` by `audit` (details:
    /// the role) in the same transaction; 409 when already a member (and then no event).
    pub fn add_member(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
        role: Role,
        audit: &Audit,
        now: i64,
    ) -> Result<Member, Error> {
        self.write(|tx| {
            insert_member(tx, team_id, user_id, role, now)?;
            append_member_added(tx, audit, team_id, user_id, role, now)?;
            let email: String = tx
                .prepare_cached("SELECT email FROM users WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row(params![user_id.as_str()], |row| row.get(0)))?;
            Ok(Member {
                user_id: user_id.clone(),
                email,
                role,
                added_at: now,
            })
        })
    }

    /// Changes a member's role; 404 when not a member, `authority`'s refusal, 400 when it
    /// would leave no owner, each judged inside the one transaction that writes (so every
    /// node's concurrent changes of the team behave as if made one after the other). A real
    /// change appends `member.role_changed` by `audit` (details: `old_role`, `new_role`) in
    /// the same transaction; a refusal, or the role it already has, none.
    pub fn set_member_role(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
        role: Role,
        authority: &MemberAuthority<'_>,
        audit: &Audit,
        now: i64,
    ) -> Result<(), Error> {
        self.write(|tx| {
            let current = role_in(tx, team_id, user_id)?
                .ok_or_else(|| Error::NotFound("Member not found".into()))?;
            authority.judge(tx, team_id, current)?;
            if current == Role::Owner && role != Role::Owner && owner_count(tx, team_id)? <= 1 {
                return Err(last_owner());
            }
            if current == role {
                return Ok(());
            }
            tx.prepare_cached(
                "UPDATE team_members SET role = ?3 WHERE team_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut stmt| stmt.execute(params![team_id, user_id, role]))?;
            let email = email_of(tx, user_id)?;
            let event = audit
                .event(AuditAction::MemberRoleChanged, now)
                .target("member", user_id.as_str(), email.as_deref())
                .team(team_id.as_str())
                .details(json!({ "old_role": current, "new_role": role }));
            append(tx, &event)?;
            Ok(())
        })
    }

    /// Removes a member and appends `member.removed` by `audit` (details: the role they had)
    /// in the same transaction; 404 when not a member, `authority`'s refusal, 400 for the
    /// last owner (no event), each judged inside that transaction.
    pub fn remove_member(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
        authority: &MemberAuthority<'_>,
        audit: &Audit,
        now: i64,
    ) -> Result<(), Error> {
        self.write(|tx| {
            let current = role_in(tx, team_id, user_id)?
                .ok_or_else(|| Error::NotFound("Member not found".into()))?;
            authority.judge(tx, team_id, current)?;
            if current == Role::Owner && owner_count(tx, team_id)? <= 1 {
                return Err(last_owner());
            }
            tx.prepare_cached("DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2")
                .and_then(|mut stmt| stmt.execute(params![team_id, user_id]))?;
            let email = email_of(tx, user_id)?;
            let event = audit
                .event(AuditAction::MemberRemoved, now)
                .target("member", user_id, email.as_deref())
                .team(team_id)
                .details(json!({ "role": current }));
            append(tx, &event)?;
            Ok(())
        })
    }

    /// Creates a project in a team and appends `project.created` by `audit` in the same
    /// transaction; 409 when the slug is taken anywhere on the server (and then no event).
    pub fn create_project(
        &self,
        team_id: &TeamId,
        name: &str,
        slug: &str,
        audit: &Audit,
        now: i64,
    ) -> Result<Project, Error> {
        self.write(|tx| {
            let project = insert_project(tx, team_id, name, slug, now)?;
            append_project_created(tx, audit, &project, now)?;
            Ok(project)
        })
    }

    /// The project with this id, if any.
    pub fn project_by_id(&self, id: &ProjectId) -> Result<Option<Project>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects p WHERE p.id = ?1"
        ))?;
        Ok(stmt.query_row(params![id], Project::from_row).optional()?)
    }

    /// The projects of every team `user_id` belongs to, oldest first.
    pub fn projects_of_user(&self, user_id: &UserId) -> Result<Vec<Project>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects p \
             JOIN team_members m ON m.team_id = p.team_id WHERE m.user_id = ?1 \
             ORDER BY p.created_at, p.rowid"
        ))?;
        let rows = stmt.query_map(params![user_id], Project::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use crate::store::NewUser;

    fn user(store: &Store, email: &str) -> UserId {
        let new = NewUser::with_hash(
            crate::email::Email::parse(email).unwrap(),
            "$argon2id$fake".into(),
        );
        store
            .create_user(&new, &Audit::cli("test"), "test", 100)
            .unwrap()
            .id
    }

    #[test]
    fn roles_are_written_and_read_back_as_the_enum() {
        let temp = temp_store();
        let store = &temp.store;
        let owner = user(store, "owner@example.com");
        let other = user(store, "other@example.com");
        let audit = Audit::cli("test");
        let team = store
            .create_team("Acme", "acme", &owner, &audit, 100)
            .unwrap();
        assert_eq!(
            store.member_role(&team.id, &owner).unwrap(),
            Some(Role::Owner)
        );
        assert_eq!(store.member_role(&team.id, &other).unwrap(), None);
        let added = store
            .add_member(&team.id, &other, Role::Admin, &audit, 101)
            .unwrap();
        assert_eq!(added.role, Role::Admin);
        let anyone = MemberAuthority {
            actor: &owner,
            allows: &|_, _| Ok(()),
        };
        store
            .set_member_role(&team.id, &other, Role::Owner, &anyone, &audit, 102)
            .unwrap();
        let roles: Vec<Role> = store
            .members(&team.id)
            .unwrap()
            .iter()
            .map(|m| m.role)
            .collect();
        assert_eq!(roles, [Role::Owner, Role::Owner]);
        assert_eq!(store.teams_of_user(&other).unwrap()[0].1, Role::Owner);
    }

    #[test]
    fn the_authority_is_judged_on_the_roles_read_inside_the_change() {
        let temp = temp_store();
        let store = &temp.store;
        let owner = user(store, "owner@example.com");
        let admin = user(store, "admin@example.com");
        let stranger = user(store, "stranger@example.com");
        let audit = Audit::cli("test");
        let team = store
            .create_team("Acme", "acme", &owner, &audit, 100)
            .unwrap();
        store
            .add_member(&team.id, &admin, Role::Admin, &audit, 101)
            .unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let refuse = |actor: Option<Role>, current: Role| {
            seen.borrow_mut().push((actor, current));
            Err(Error::Forbidden("refused".into()))
        };
        let by = |actor| MemberAuthority {
            actor,
            allows: &refuse,
        };
        let events = || {
            let page = crate::store::Page {
                limit: 100,
                offset: 0,
            };
            store.audit_events(&Default::default(), page).unwrap().total
        };
        let before = events();
        assert!(matches!(
            store.set_member_role(&team.id, &owner, Role::Admin, &by(&admin), &audit, 102),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            store.remove_member(&team.id, &admin, &by(&stranger), &audit, 103),
            Err(Error::Forbidden(_))
        ));
        // The asker's and the member's roles as stored; a refusal changes nothing.
        assert_eq!(
            *seen.borrow(),
            [(Some(Role::Admin), Role::Owner), (None, Role::Admin)]
        );
        assert_eq!(
            store.member_role(&team.id, &owner).unwrap(),
            Some(Role::Owner)
        );
        assert_eq!(
            store.member_role(&team.id, &admin).unwrap(),
            Some(Role::Admin)
        );
        assert_eq!(events(), before);
        // An unknown member is the 404 before any judgement.
        assert!(matches!(
            store.remove_member(&team.id, &stranger, &by(&owner), &audit, 104),
            Err(Error::NotFound(_))
        ));
        assert_eq!(seen.borrow().len(), 2);
    }

    #[test]
    fn an_unknown_stored_role_is_an_error_not_a_panic() {
        let temp = temp_store();
        let store = &temp.store;
        let owner = user(store, "owner@example.com");
        let team = store
            .create_team("Acme", "acme", &owner, &Audit::cli("test"), 100)
            .unwrap();
        {
            // Only a damaged or hand-edited file can hold this: the schema's CHECK refuses it.
            let conn = store.conn().unwrap();
            conn.sqlite()
                .unwrap()
                .pragma_update(None, "ignore_check_constraints", "ON")
                .unwrap();
            conn.execute("UPDATE team_members SET role = 'emperor'", params![])
                .unwrap();
            conn.sqlite()
                .unwrap()
                .pragma_update(None, "ignore_check_constraints", "OFF")
                .unwrap();
        }
        let internal = |result: Result<_, Error>| matches!(result, Err(Error::Internal(_)));
        assert!(internal(store.member_role(&team.id, &owner).map(|_| ())));
        assert!(internal(store.members(&team.id).map(|_| ())));
        assert!(internal(store.teams_of_user(&owner).map(|_| ())));
    }
}
