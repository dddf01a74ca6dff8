//! Project API keys: the rules for creating, rolling and expiring them, written once.
//!
//! The API routes (`/api/internal/.../api-keys`), `shipstar key create` and seed files all
//! follow these rules; each reads its own input and words its own errors. What lives here:
//!
//! * a key's name has 1..=[`MAX_NAME_CHARS`] characters ([`name_is_valid`]);
//! * a fixed expiry lies in the future ([`expiry_is_acceptable`]);
//! * a relative expiry is 1..=[`MAX_EXPIRES_IN_DAYS`] days and means `now + days x 24 h`
//!   ([`expires_at_in_days`]);
//! * the user a key acts as must be a member of the project's team, or a superuser
//!   ([`create_key`]; which callers may *ask* for a key, such as owners and admins over the
//!   API, is the front end's own rule on top);
//! * a roll overlaps the old key by 0..=[`MAX_OVERLAP_SECS`] seconds, and the new key keeps
//!   the old one's expiry rule ([`rolled_expiry`], [`roll_key`]);
//! * the key itself, its hash and prefix come from [`api_key::generate`]. Seeding takes a given
//!   key instead, checked by [`api_key::is_well_formed`].
//!
//! Nothing here knows of HTTP.

use crate::auth::api_key;
use crate::error::Error;
use crate::store::{ApiKey, Audit, NewApiKey, Project, Store, User};

/// Longest key name, in characters (the shortest is one).
pub const MAX_NAME_CHARS: usize = crate::slug::MAX_NAME_CHARS;
/// Longest relative expiry, in days (the shortest is one).
pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;
/// Longest overlap of a roll, in seconds (30 days); the shortest is zero.
pub const MAX_OVERLAP_SECS: i64 = 2_592_000;
/// Seconds in the day of a relative expiry.
pub use crate::clock::DAY_SECS;

/// Whether `name` is an acceptable key name: 1..=[`MAX_NAME_CHARS`] characters.
pub fn name_is_valid(name: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&name.chars().count())
}

/// When a key made at `now` to live `days` days expires.
pub fn expires_at_in_days(now: i64, days: i64) -> i64 {
    now + days * DAY_SECS
}

/// How long a new key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Until deactivated or deleted.
    Never,
    /// Until this Unix time.
    At(i64),
    /// This many days from creation; a roll restarts the count.
    InDays(i64),
}

/// Whether `at` may be a key's fixed expiry when set at `now`: it must lie in the future.
/// The key routes (create and change) and seed files apply it.
pub fn expiry_is_acceptable(at: i64, now: i64) -> bool {
    at > now
}

/// A key just made: the stored row and the key itself, shown once and never stored.
#[derive(Debug)]
pub struct CreatedKey {
    /// The stored key (hash and prefix only).
    pub key: ApiKey,
    /// The key itself.
    pub raw: String,
}

/// Creates a key named `name` in `project` acting as `creator`, with its `api_key.created`
/// event. `creator` must be a member of the project's team or a superuser, else
/// [`Error::Forbidden`]. The caller has checked `name` against [`name_is_valid`] and a
/// relative expiry against 1..=[`MAX_EXPIRES_IN_DAYS`] with its own wording.
pub fn create_key(
    store: &Store,
    project: &Project,
    creator: &User,
    name: String,
    expiry: Expiry,
    audit: &Audit,
    now: i64,
) -> Result<CreatedKey, Error> {
    if !creator.is_superuser && store.member_role(&project.team_id, &creator.id)?.is_none() {
        return Err(Error::Forbidden(format!(
            "{} is not a member of the project's team; add them first",
            creator.email
        )));
    }
    let (expires_at, expires_in_days) = match expiry {
        Expiry::Never => (None, None),
        Expiry::At(at) => (Some(at), None),
        Expiry::InDays(days) => (Some(expires_at_in_days(now, days)), Some(days)),
    };
    let generated = api_key::generate();
    let new = NewApiKey {
        project_id: project.id.clone(),
        name,
        key_hash: generated.hash,
        key_prefix: generated.key_prefix,
        created_by: creator.id.clone(),
        expires_at,
        expires_in_days,
    };
    let key = store.create_api_key(&new, audit, now)?;
    Ok(CreatedKey {
        key,
        raw: generated.raw,
    })
}

/// When the key replacing `old` at `now` expires: a relative expiry restarts from the roll,
/// a fixed one is kept as it was.
pub fn rolled_expiry(old: &ApiKey, now: i64) -> Option<i64> {
    match old.expires_in_days {
        Some(days) => Some(expires_at_in_days(now, days)),
        None => old.expires_at,
    }
}

/// Replaces `old` by a new key with the same project, name and expiry rule, made by
/// `roller`; `old` keeps working for `overlap_secs` more seconds (the caller has checked it
/// against 0..=[`MAX_OVERLAP_SECS`]). One transaction with the `api_key.rolled` event.
pub fn roll_key(
    store: &Store,
    old: &ApiKey,
    roller: &User,
    overlap_secs: i64,
    audit: &Audit,
    now: i64,
) -> Result<CreatedKey, Error> {
    let generated = api_key::generate();
    let new = NewApiKey {
        project_id: old.project_id.clone(),
        name: old.name.clone(),
        key_hash: generated.hash,
        key_prefix: generated.key_prefix,
        created_by: roller.id.clone(),
        expires_at: rolled_expiry(old, now),
        expires_in_days: old.expires_in_days,
    };
    let key = store.roll_api_key(&old.id, &new, now + overlap_secs, audit, now)?;
    Ok(CreatedKey {
        key,
        raw: generated.raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{self, NewAccount, Password};
    use crate::auth::password::{HashParams, PasswordHasher};
    use crate::email::Email;
    use crate::store::tests::{temp_store, TempStore};

    const NOW: i64 = 1_750_000_000;

    /// A store with a first administrator (owner of project `default`) and a plain user
    /// outside every team.
    struct World {
        temp: TempStore,
        project: Project,
        admin: User,
        outsider: User,
    }

    impl World {
        fn new() -> World {
            let temp = temp_store();
            let params = HashParams {
                memory_kib: 8,
                iterations: 1,
                parallelism: 1,
            };
            let hasher = PasswordHasher::new(params, 1).expect("valid parameters");
            let audit = Audit::system("test");
            let password = Password::parse("a-long-password").expect("long enough");
            let email = |text: &str| Email::parse(text).expect("valid email");
            let admin = accounts::create_first_admin(
                &temp.store,
                &hasher,
                email("root@example.com"),
                password.clone(),
                accounts::FirstAdminVia::Bootstrap,
                &audit,
                NOW,
            )
            .expect("admin")
            .expect("the first user");
            let outsider = NewAccount::plain(email("out@example.com"), password);
            let outsider =
                accounts::create_user(&temp.store, &hasher, outsider, &audit, "test", NOW)
                    .expect("outsider");
            let project = temp
                .store
                .project_by_slug("default")
                .expect("read")
                .expect("default project");
            World {
                temp,
                project,
                admin,
                outsider,
            }
        }

        /// A key named `ci` in `default` acting as `creator`, made at [`NOW`].
        fn create(&self, creator: &User, expiry: Expiry) -> Result<CreatedKey, Error> {
            let audit = Audit::system("test");
            let store = &self.temp.store;
            create_key(
                store,
                &self.project,
                creator,
                "ci".into(),
                expiry,
                &audit,
                NOW,
            )
        }
    }

    #[test]
    fn names_have_1_to_100_characters() {
        assert!(!name_is_valid(""));
        assert!(name_is_valid("k"));
        assert!(name_is_valid(&"é".repeat(100)));
        assert!(!name_is_valid(&"x".repeat(101)));
    }

    #[test]
    fn a_fixed_expiry_must_lie_in_the_future() {
        assert!(!expiry_is_acceptable(NOW - 1, NOW));
        assert!(!expiry_is_acceptable(NOW, NOW));
        assert!(expiry_is_acceptable(NOW + 1, NOW));
    }

    #[test]
    fn a_relative_expiry_counts_whole_days_from_now() {
        assert_eq!(expires_at_in_days(NOW, 1), NOW + 86_400);
        assert_eq!(expires_at_in_days(NOW, 3650), NOW + 3650 * 86_400);
    }

    #[test]
    fn only_a_member_or_a_superuser_may_be_a_keys_creator() {
        let world = World::new();
        match world.create(&world.outsider, Expiry::Never) {
            Err(Error::Forbidden(why)) => assert_eq!(
                why,
                "out@example.com is not a member of the project's team; add them first"
            ),
            other => panic!("not refused: {other:?}"),
        }
        let superuser = User {
            is_superuser: true,
            ..world.outsider.clone()
        };
        let by_superuser = world.create(&superuser, Expiry::Never);
        assert!(by_superuser.is_ok(), "{by_superuser:?}");
        let created = world
            .create(&world.admin, Expiry::InDays(10))
            .expect("created by a member");
        assert!(api_key::is_well_formed(&created.raw));
        assert_eq!(created.key.key_prefix, api_key::prefix_of(&created.raw));
        assert_eq!(created.key.expires_at, Some(NOW + 10 * DAY_SECS));
        assert_eq!(created.key.expires_in_days, Some(10));
        assert_eq!(created.key.created_by, *world.admin.id);
    }

    #[test]
    fn a_rolled_key_restarts_a_relative_expiry_and_keeps_a_fixed_one() {
        let world = World::new();
        let later = NOW + 3 * DAY_SECS;
        let relative = world.create(&world.admin, Expiry::InDays(10)).expect("key");
        assert_eq!(
            rolled_expiry(&relative.key, later),
            Some(later + 10 * DAY_SECS)
        );
        let fixed_at = NOW + 5 * DAY_SECS;
        let fixed = world
            .create(&world.admin, Expiry::At(fixed_at))
            .expect("key");
        assert_eq!(rolled_expiry(&fixed.key, later), Some(fixed_at));
        let never = world.create(&world.admin, Expiry::Never).expect("key");
        assert_eq!(rolled_expiry(&never.key, later), None);
    }

    #[test]
    fn a_roll_keeps_name_and_rule_and_retires_the_old_key_after_the_overlap() {
        let world = World::new();
        let store = &world.temp.store;
        let old = world.create(&world.admin, Expiry::InDays(10)).expect("key");
        let later = NOW + 3 * DAY_SECS;
        let audit = Audit::system("test");
        let rolled = roll_key(store, &old.key, &world.admin, 60, &audit, later).expect("rolled");
        assert_ne!(rolled.raw, old.raw);
        assert_eq!(rolled.key.name, "ci");
        assert_eq!(rolled.key.expires_at, Some(later + 10 * DAY_SECS));
        let old_now = store
            .api_key_by_id(&old.key.id)
            .expect("read")
            .expect("still there");
        assert_eq!(old_now.retires_at, Some(later + 60));
    }
}
