//! A member's standing in a team: the one type every layer (store, API, seed files, CLI) uses
//! for roles, and the one place their stored and wire spellings are written.

use std::fmt;

/// A caller's standing in a team. Ordered by power, so `role >= Role::Admin` reads as "at
/// least an admin": `Member < Admin < Owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// May read the team's projects, keys, usage, content; write content.
    Member,
    /// Also manages keys, projects and members.
    Admin,
    /// Also manages owners.
    Owner,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

    /// The spelling stored in `team_members.role` and used on the wire: `member`, `admin`,
    /// `owner`. [`Role::parse`] of it gives the role back.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The role spelled exactly `text` (lowercase, no padding); `None` for anything else.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialises as its [`Role::as_str`] spelling, so JSON answers and audit details carry the
/// same text the store holds.
impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_nothing_else_parses() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(role.to_string(), role.as_str());
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::Value::String(role.as_str().into())
            );
        }
        for other in ["", "Owner", " owner", "owner ", "superuser", "admins"] {
            assert_eq!(Role::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Member < Role::Admin);
        assert!(Role::Admin < Role::Owner);
        assert_eq!(Role::ALL.iter().max(), Some(&Role::Owner));
    }
}
