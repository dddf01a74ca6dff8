//! Who may do what, as one table: every caller role (team owner, admin, member, a user in no
//! team, a superuser) with every kind of credential (a session JWT, an API key of the
//! project addressed, an API key of another project of the same team), on a resource of
//! the caller's own team and of another team, over the key, project, member and content
//! routes. The expected status comes from the rules of `auth.md` ("Authorization summary"),
//! written once below in [`expected`]; every combination is sent and compared.
//!
//! The API keys used as credentials are each held by the caller (a key acts as its
//! creator). A caller gets a key in a team it does not belong to by being made an admin
//! there, creating the key and being removed again, which is exactly the key of a former
//! member: it must stop working.

use serde_json::{json, Value};

use super::{expect, id_of, TestApp};
use crate::http::Response;

/// The callers, by their standing in team A (nobody but team B's owner is in team B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Owner,
    Admin,
    Member,
    NonMember,
    Superuser,
}

const CALLERS: [Caller; 5] = [
    Caller::Owner,
    Caller::Admin,
    Caller::Member,
    Caller::NonMember,
    Caller::Superuser,
];

/// What the caller presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    /// The caller's session token.
    Jwt,
    /// An API key of the project the request addresses, held by the caller.
    KeyOfTheProject,
    /// An API key of the other project of the same team, held by the caller.
    KeyOfAnotherProject,
}

const CREDENTIALS: [Credential; 3] = [
    Credential::Jwt,
    Credential::KeyOfTheProject,
    Credential::KeyOfAnotherProject,
];

/// Whose resource is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Team A, where the caller has its role.
    OwnTeam,
    /// Team B, where no caller is a member.
    OtherTeam,
}

const TARGETS: [Target; 2] = [Target::OwnTeam, Target::OtherTeam];

/// The rule a route follows (`auth.md`, "Authorization summary").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Account route, reading: any member of the team, session only.
    MemberReads,
    /// Account route, changing: owners and admins of the team, session only.
    ManagerWrites,
    /// Content: any member of the team by session, or a key of that very project.
    Content,
}

/// A team in the world: its id and its two projects.
struct Team {
    id: String,
    /// The project requests address.
    project: String,
    /// The other project of the same team.
    sibling: String,
    /// The owner's session token (team A: the owner caller; team B: its own owner).
    owner: String,
    /// A member (role `member`) whose role the member routes change.
    subject: String,
    /// A key of `project`, created by the superuser: the one the key routes read.
    key: String,
    /// A content item of `project`: the one the content routes read and change.
    content: String,
}

/// One caller: its session token and the keys it holds, by project id.
struct Person {
    caller: Caller,
    token: String,
    keys: Vec<(String, String)>,
}

impl Person {
    fn key_of(&self, project: &str) -> &str {
        self.keys
            .iter()
            .find(|(p, _)| p == project)
            .map(|(_, key)| key.as_str())
            .unwrap_or_else(|| panic!("{:?} holds no key of {project}", self.caller))
    }
}

struct World {
    t: TestApp,
    superuser: String,
    a: Team,
    b: Team,
    people: Vec<Person>,
    /// Makes names and emails of created things unique.
    serial: std::cell::Cell<u32>,
}

impl World {
    fn next(&self) -> u32 {
        let n = self.serial.get() + 1;
        self.serial.set(n);
        n
    }

    fn team(&self, target: Target) -> &Team {
        match target {
            Target::OwnTeam => &self.a,
            Target::OtherTeam => &self.b,
        }
    }

    /// A new user (session token discarded): (id, email).
    fn new_user(&self) -> (String, String) {
        let email = format!("user{}@example.com", self.next());
        let body = json!({"email": email, "password": super::PASSWORD});
        let user = self
            .t
            .post_ok(&self.superuser, "/api/internal/users", &body, 201);
        (id_of(&user), email)
    }

    /// A new member of `team` with role `member`: its user id.
    fn new_member(&self, team: &str) -> String {
        let (id, email) = self.new_user();
        let path = format!("/api/internal/teams/{team}/members");
        let body = json!({"email": email, "role": "member"});
        self.t.post_ok(&self.superuser, &path, &body, 201);
        id
    }

    /// A new key of `project`, created by the superuser: its id.
    fn new_key(&self, project: &str) -> String {
        let path = format!("/api/internal/projects/{project}/api-keys");
        let body = json!({"name": format!("key {}", self.next())});
        id_of(&self.t.post_ok(&self.superuser, &path, &body, 201))
    }

    /// A new content item of `project`: its id.
    fn new_content(&self, project: &str) -> String {
        let path = format!("/api/internal/projects/{project}/content");
        id_of(
            &self
                .t
                .post_ok(&self.superuser, &path, &post_body(self.next()), 201),
        )
    }
}

fn post_body(n: u32) -> Value {
    json!({"type": "blog", "title": format!("Post {n}"), "content": "# Hello\n\nA post."})
}

/// Team owner `owner` creates a team with two projects, a subject member, a key and a post.
fn build_team(t: &TestApp, superuser: &str, owner: &str, name: &str) -> Team {
    let team = id_of(&t.post_ok(owner, "/api/internal/teams", &json!({"name": name}), 201));
    let projects = format!("/api/internal/teams/{team}/projects");
    let project = id_of(&t.post_ok(owner, &projects, &json!({"name": "Main"}), 201));
    let sibling = id_of(&t.post_ok(owner, &projects, &json!({"name": "Sibling"}), 201));
    let mut team = Team {
        id: team,
        project,
        sibling,
        owner: owner.to_owned(),
        subject: String::new(),
        key: String::new(),
        content: String::new(),
    };
    let (subject, email) = {
        let email = format!("subject-{}@example.com", name.replace(' ', "-"));
        let body = json!({"email": email, "password": super::PASSWORD});
        let user = t.post_ok(superuser, "/api/internal/users", &body, 201);
        (id_of(&user), email)
    };
    let members = format!("/api/internal/teams/{}/members", team.id);
    t.post_ok(
        owner,
        &members,
        &json!({"email": email, "role": "member"}),
        201,
    );
    team.subject = subject;
    let keys = format!("/api/internal/projects/{}/api-keys", team.project);
    team.key = id_of(&t.post_ok(superuser, &keys, &json!({"name": "fixed"}), 201));
    let content = format!("/api/internal/projects/{}/content", team.project);
    team.content = id_of(&t.post_ok(superuser, &content, &post_body(0), 201));
    team
}

/// Gives `person` a key of each project of `team`, leaving its membership there as `role`
/// (`None`: not a member). The caller is made an admin for the moment it creates the keys.
fn hold_keys(w: &World, person: &mut Person, user_id: &str, email: &str, target: Target) {
    let team = w.team(target);
    let members = format!("/api/internal/teams/{}/members", team.id);
    let member = format!("{members}/{user_id}");
    let role = match (person.caller, target) {
        (Caller::Owner, Target::OwnTeam) => Some("owner"),
        (Caller::Admin, Target::OwnTeam) => Some("admin"),
        (Caller::Member, Target::OwnTeam) => Some("member"),
        _ => None,
    };
    let temporary = !matches!(role, Some("owner" | "admin"));
    if temporary {
        let body = json!({"email": email, "role": "admin"});
        if role.is_some() {
            let resp = w.t.call(
                "PATCH",
                &member,
                Some(&team.owner),
                Some(&json!({"role": "admin"})),
            );
            expect(&resp, 200, "promote for the key");
        } else {
            w.t.post_ok(&team.owner, &members, &body, 201);
        }
    }
    for project in [&team.project, &team.sibling] {
        let path = format!("/api/internal/projects/{project}/api-keys");
        let body = json!({"name": format!("held {}", w.next())});
        let key = w.t.post_ok(&person.token, &path, &body, 201);
        let raw = key["key"].as_str().unwrap().to_owned();
        person.keys.push((project.clone(), raw));
    }
    if temporary {
        let resp = match role {
            Some(role) => w.t.call(
                "PATCH",
                &member,
                Some(&team.owner),
                Some(&json!({"role": role})),
            ),
            None => w.t.call("DELETE", &member, Some(&team.owner), None),
        };
        assert!(resp.status == 200 || resp.status == 204, "restore the role");
    }
}

fn world() -> World {
    let t = TestApp::new(&[]);
    let superuser = t.admin_token();
    let (_, b_owner) = t.create_user(&superuser, "b-owner@example.com");
    let b = build_team(&t, &superuser, &b_owner, "Team B");
    let mut users = Vec::new();
    for caller in CALLERS {
        let (id, email, token) = if caller == Caller::Superuser {
            (
                String::new(),
                super::ADMIN_EMAIL.to_owned(),
                superuser.clone(),
            )
        } else {
            let email = format!("caller-{caller:?}@example.com").to_lowercase();
            let (id, token) = t.create_user(&superuser, &email);
            (id, email, token)
        };
        users.push((id, email, token));
    }
    let owner_token = users[0].2.clone();
    let a = build_team(&t, &superuser, &owner_token, "Team A");
    let mut w = World {
        t,
        superuser,
        a,
        b,
        people: Vec::new(),
        serial: std::cell::Cell::new(0),
    };
    // Roles in team A: the admin and the member join; the owner made it.
    for (caller, role) in [(Caller::Admin, "admin"), (Caller::Member, "member")] {
        let (_, email, _) = &users[CALLERS.iter().position(|c| *c == caller).unwrap()];
        let path = format!("/api/internal/teams/{}/members", w.a.id);
        w.t.post_ok(
            &owner_token,
            &path,
            &json!({"email": email, "role": role}),
            201,
        );
    }
    for (caller, (id, email, token)) in CALLERS.into_iter().zip(users) {
        let mut person = Person {
            caller,
            token,
            keys: Vec::new(),
        };
        for target in TARGETS {
            if caller == Caller::Superuser {
                let team = w.team(target);
                for project in [&team.project, &team.sibling] {
                    let path = format!("/api/internal/projects/{project}/api-keys");
                    let key =
                        w.t.post_ok(&w.superuser, &path, &json!({"name": "su"}), 201);
                    let raw = key["key"].as_str().unwrap().to_owned();
                    person.keys.push((project.clone(), raw));
                }
            } else {
                hold_keys(&w, &mut person, &id, &email, target);
            }
        }
        w.people.push(person);
    }
    w
}

/// One route of the table: its rule, method, success status, and how to address it on a
/// team (creating a fresh resource first when the request consumes one).
struct RouteCase {
    rule: Rule,
    method: &'static str,
    success: u16,
    request: fn(&World, &Team) -> (String, Option<Value>),
}

const ROUTES: &[RouteCase] = &[
    // Keys.
    RouteCase {
        rule: Rule::MemberReads,
        method: "GET",
        success: 200,
        request: |_, team| {
            (
                format!("/api/internal/projects/{}/api-keys", team.project),
                None,
            )
        },
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "POST",
        success: 201,
        request: |w, team| {
            let path = format!("/api/internal/projects/{}/api-keys", team.project);
            (path, Some(json!({"name": format!("new {}", w.next())})))
        },
    },
    RouteCase {
        rule: Rule::MemberReads,
        method: "GET",
        success: 200,
        request: |_, team| (format!("/api/internal/api-keys/{}", team.key), None),
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "PATCH",
        success: 200,
        request: |_, team| {
            let path = format!("/api/internal/api-keys/{}", team.key);
            (path, Some(json!({"name": "renamed"})))
        },
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "POST",
        success: 201,
        request: |w, team| {
            let key = w.new_key(&team.project);
            (
                format!("/api/internal/api-keys/{key}/roll"),
                Some(json!({})),
            )
        },
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "DELETE",
        success: 204,
        request: |w, team| {
            let key = w.new_key(&team.project);
            (format!("/api/internal/api-keys/{key}"), None)
        },
    },
    RouteCase {
        rule: Rule::MemberReads,
        method: "GET",
        success: 200,
        request: |_, team| (format!("/api/internal/api-keys/{}/usage", team.key), None),
    },
    // Projects.
    RouteCase {
        rule: Rule::MemberReads,
        method: "GET",
        success: 200,
        request: |_, team| (format!("/api/internal/projects/{}", team.project), None),
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "POST",
        success: 201,
        request: |w, team| {
            let path = format!("/api/internal/teams/{}/projects", team.id);
            (path, Some(json!({"name": format!("Project {}", w.next())})))
        },
    },
    // Members.
    RouteCase {
        rule: Rule::MemberReads,
        method: "GET",
        success: 200,
        request: |_, team| (format!("/api/internal/teams/{}/members", team.id), None),
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "POST",
        success: 201,
        request: |w, team| {
            let (_, email) = w.new_user();
            let path = format!("/api/internal/teams/{}/members", team.id);
            (path, Some(json!({"email": email, "role": "member"})))
        },
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "PATCH",
        success: 200,
        request: |_, team| {
            let path = format!("/api/internal/teams/{}/members/{}", team.id, team.subject);
            (path, Some(json!({"role": "member"})))
        },
    },
    RouteCase {
        rule: Rule::ManagerWrites,
        method: "DELETE",
        success: 204,
        request: |w, team| {
            let member = w.new_member(&team.id);
            (
                format!("/api/internal/teams/{}/members/{member}", team.id),
                None,
            )
        },
    },
    // Content.
    RouteCase {
        rule: Rule::Content,
        method: "POST",
        success: 201,
        request: |w, team| {
            let path = format!("/api/internal/projects/{}/content", team.project);
            (path, Some(post_body(w.next())))
        },
    },
    RouteCase {
        rule: Rule::Content,
        method: "GET",
        success: 200,
        request: |_, team| {
            (
                format!("/api/internal/projects/{}/content", team.project),
                None,
            )
        },
    },
    RouteCase {
        rule: Rule::Content,
        method: "GET",
        success: 200,
        request: |_, team| {
            (
                format!("/api/internal/sources/content/{}", team.content),
                None,
            )
        },
    },
    RouteCase {
        rule: Rule::Content,
        method: "PATCH",
        success: 200,
        request: |_, team| {
            let path = format!("/api/internal/content/{}", team.content);
            (path, Some(json!({"title": "Renamed"})))
        },
    },
    RouteCase {
        rule: Rule::Content,
        method: "POST",
        success: 200,
        request: |_, team| {
            (
                format!("/api/internal/content/{}/publish", team.content),
                None,
            )
        },
    },
    RouteCase {
        rule: Rule::Content,
        method: "POST",
        success: 200,
        request: |_, team| {
            (
                format!("/api/internal/content/{}/unpublish", team.content),
                None,
            )
        },
    },
    RouteCase {
        rule: Rule::Content,
        method: "DELETE",
        success: 204,
        request: |w, team| {
            let item = w.new_content(&team.project);
            (format!("/api/internal/content/{item}"), None)
        },
    },
];

/// The caller's standing in the addressed team: `None` outside it. A superuser stands as an
/// owner everywhere.
fn standing(caller: Caller, target: Target) -> Option<Caller> {
    match (caller, target) {
        (Caller::Superuser, _) => Some(Caller::Owner),
        (Caller::NonMember, _) | (_, Target::OtherTeam) => None,
        (role, Target::OwnTeam) => Some(role),
    }
}

/// The status the contract gives `caller` presenting `credential` on a `rule` route of
/// `target`, where `success` is the route's own success status.
fn expected(
    caller: Caller,
    credential: Credential,
    target: Target,
    rule: Rule,
    success: u16,
) -> u16 {
    let standing = standing(caller, target);
    match credential {
        Credential::Jwt => match (rule, standing) {
            // Not in the team: the resource belongs to another team.
            (_, None) => 403,
            (Rule::ManagerWrites, Some(Caller::Member)) => 403,
            _ => success,
        },
        // A key works only while its holder is in the key's team (or a superuser); a key
        // that does not work is a 401 everywhere.
        _ if standing.is_none() => 401,
        // A working key is refused on account routes: a leaked key must not manage anything.
        _ if rule != Rule::Content => 403,
        Credential::KeyOfTheProject => success,
        // A key acts in its own project only, not in the rest of its team.
        Credential::KeyOfAnotherProject => 403,
    }
}

#[test]
fn every_role_and_credential_gets_the_contracts_answer_on_every_route() {
    let w = world();
    let mut failures = Vec::new();
    let mut sent = 0;
    for person in &w.people {
        for target in TARGETS {
            let team = w.team(target);
            for credential in CREDENTIALS {
                let presented = match credential {
                    Credential::Jwt => person.token.as_str(),
                    Credential::KeyOfTheProject => person.key_of(&team.project),
                    Credential::KeyOfAnotherProject => person.key_of(&team.sibling),
                };
                for route in ROUTES {
                    let (path, body) = (route.request)(&w, team);
                    let resp: Response =
                        w.t.call(route.method, &path, Some(presented), body.as_ref());
                    sent += 1;
                    let want =
                        expected(person.caller, credential, target, route.rule, route.success);
                    if resp.status != want {
                        failures.push(format!(
                            "{:?} with {credential:?} on {target:?}: {} {path} ({:?}): \
                             expected {want}, got {} {}",
                            person.caller,
                            route.method,
                            route.rule,
                            resp.status,
                            String::from_utf8_lossy(&resp.body)
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(
        sent,
        CALLERS.len() * TARGETS.len() * CREDENTIALS.len() * ROUTES.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} answers differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_former_members_key_stops_working_and_a_demoted_members_key_keeps_content_rights() {
    // Two rows of the table spelt out, as a check on the table's own set-up: the owner's key
    // of team B was made while the owner was briefly an admin there.
    let w = world();
    let owner = &w.people[0];
    let key_b = owner.key_of(&w.b.project);
    let resp = w.t.call("GET", "/api/v1/me", Some(key_b), None);
    expect(&resp, 401, "key of a team its holder left");
    let member = &w.people[2];
    assert_eq!(member.caller, Caller::Member);
    let path = format!("/api/internal/projects/{}/content", w.a.project);
    let resp =
        w.t.call("GET", &path, Some(member.key_of(&w.a.project)), None);
    expect(&resp, 200, "key of a member demoted after creating it");
    let resp = w.t.call("GET", &path, Some(&w.a.owner), None);
    expect(&resp, 200, "the team owner");
}
