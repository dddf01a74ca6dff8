//! Accounts: the one place a user comes into being, and the password policy.
//!
//! Users are created by the register route, `POST /api/internal/users`, the setup page, the
//! headless first-admin bootstrap, `shipstar user create` and seed files. Each front end reads
//! its own input (JSON fields, a form, flags, a TOML table) and answers problems in its own
//! words, but all of them build the stored user here: the email is an [`Email`] (normal form
//! guaranteed by its type), the password a [`Password`] (length policy guaranteed by its
//! type), and the hash is made with the server's [`PasswordHasher`]. This module knows nothing
//! of HTTP; `api` maps [`PasswordProblem`] to its answers.

use crate::auth::password::PasswordHasher;
use crate::email::Email;
use crate::error::Error;
use crate::store::{Audit, NewUser, Store, User};

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in characters; longer ones are refused before any hashing.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// How a password fails the length policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    TooShort,
    /// More than [`MAX_PASSWORD_CHARS`] characters.
    TooLong,
}

/// Checks the length policy (8..=1024 characters) without hashing anything.
pub fn check_password(password: &str) -> Result<(), PasswordProblem> {
    // Count at most MAX+1 characters so a 1 MiB password costs no more than a long one.
    let chars = password.chars().take(MAX_PASSWORD_CHARS + 1).count();
    if chars < MIN_PASSWORD_CHARS {
        Err(PasswordProblem::TooShort)
    } else if chars > MAX_PASSWORD_CHARS {
        Err(PasswordProblem::TooLong)
    } else {
        Ok(())
    }
}

/// A new password that meets the length policy: holding one proves [`check_password`]
/// passed, so nothing downstream checks again.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// `text` if it meets the policy.
    pub fn parse(text: &str) -> Result<Password, PasswordProblem> {
        check_password(text)?;
        Ok(Password(text.to_owned()))
    }

    /// The password itself, for hashing or printing once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    // Never the password itself: a Debug line may end up in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Hashes `password` with the server's Argon2id parameters. A failure means the parameters
/// are unusable, which start-up already ruled out, so it is an internal error.
pub fn hash_password(hasher: &PasswordHasher, password: &Password) -> Result<String, Error> {
    hasher
        .hash(password.expose())
        .map_err(|err| Error::Internal(format!("hashing failed: {}", err.0)))
}

/// Everything a front end has parsed about a new user.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Sign-in email, already in normal form.
    pub email: Email,
    /// The password, already within the policy.
    pub password: Password,
    /// Optional given name.
    pub first_name: Option<String>,
    /// Optional family name.
    pub last_name: Option<String>,
    /// Whether the user is a superuser.
    pub is_superuser: bool,
    /// Whether the email counts as verified.
    pub is_verified: bool,
}

impl NewAccount {
    /// An account with no names and no flags.
    pub fn plain(email: Email, password: Password) -> NewAccount {
        NewAccount {
            email,
            password,
            first_name: None,
            last_name: None,
            is_superuser: false,
            is_verified: false,
        }
    }

    /// The first administrator: a verified superuser.
    pub fn first_admin(email: Email, password: Password) -> NewAccount {
        NewAccount {
            is_superuser: true,
            is_verified: true,
            ..NewAccount::plain(email, password)
        }
    }
}

/// The row to store for `account`: the password hashed, the email in normal form. Seed files
/// use this directly, as they store every row in one transaction of their own.
pub fn build_user(hasher: &PasswordHasher, account: NewAccount) -> Result<NewUser, Error> {
    Ok(NewUser {
        password_hash: hash_password(hasher, &account.password)?,
        email: account.email,
        first_name: account.first_name,
        last_name: account.last_name,
        is_superuser: account.is_superuser,
        is_verified: account.is_verified,
    })
}

/// Creates the user with its `user.created` event (recorded as created `via` this front
/// end). A taken email is [`Error::Conflict`].
pub fn create_user(
    store: &Store,
    hasher: &PasswordHasher,
    account: NewAccount,
    audit: &Audit,
    via: &str,
    now: i64,
) -> Result<User, Error> {
    let new = build_user(hasher, account)?;
    store.create_user(&new, audit, via, now)
}

/// How the first administrator comes to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstAdminVia<'a> {
    /// The setup page, spending the one-time link whose token hashes (SHA-256, hex) to this.
    Setup {
        /// The SHA-256 of the presented token.
        token_hash: &'a str,
    },
    /// `SHIPSTAR_ADMIN_EMAIL` / `SHIPSTAR_ADMIN_PASSWORD` at start.
    Bootstrap,
}

/// Creates the first administrator (forced to a verified superuser) with team `default` and
/// project `default`, in one transaction, if no user exists yet (and, via the setup page, if
/// its link is still stored); `None` when another node, request or command got there first,
/// which nodes bootstrapping one database together take as done. A taken email is
/// [`Error::Conflict`].
pub fn create_first_admin(
    store: &Store,
    hasher: &PasswordHasher,
    email: Email,
    password: Password,
    via: FirstAdminVia<'_>,
    audit: &Audit,
    now: i64,
) -> Result<Option<User>, Error> {
    let new = build_user(hasher, NewAccount::first_admin(email, password))?;
    let (token_hash, via) = match via {
        FirstAdminVia::Setup { token_hash } => (Some(token_hash), "setup"),
        FirstAdminVia::Bootstrap => (None, "bootstrap"),
    };
    store.create_first_admin(&new, token_hash, audit, via, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::HashParams;

    fn cheap_hasher() -> PasswordHasher {
        let params = HashParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        PasswordHasher::new(params, 1).expect("valid parameters")
    }

    fn email(text: &str) -> Email {
        Email::parse(text).expect("valid email")
    }

    #[test]
    fn length_policy_is_8_to_1024_characters() {
        assert_eq!(check_password("1234567"), Err(PasswordProblem::TooShort));
        assert_eq!(check_password("12345678"), Ok(()));
        assert_eq!(check_password(&"é".repeat(1024)), Ok(()));
        assert_eq!(
            check_password(&"x".repeat(1025)),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(
            check_password(&"x".repeat(1 << 20)),
            Err(PasswordProblem::TooLong)
        );
        assert!(Password::parse("short").is_err());
    }

    #[test]
    fn password_debug_hides_the_password() {
        let password = Password::parse("a-secret-password").expect("long enough");
        assert!(!format!("{password:?}").contains("secret"));
    }

    #[test]
    fn build_user_hashes_and_keeps_flags() {
        let hasher = cheap_hasher();
        let password = Password::parse("a-long-password").expect("long enough");
        let account = NewAccount {
            first_name: Some("Ada".into()),
            is_verified: true,
            ..NewAccount::plain(email("Ada@Example.COM"), password)
        };
        let new = build_user(&hasher, account).expect("hashed");
        assert_eq!(new.email.as_str(), "ada@example.com");
        assert_eq!(new.first_name.as_deref(), Some("Ada"));
        assert!(new.is_verified && !new.is_superuser);
        assert!(new.password_hash.starts_with("$argon2id$"));
        assert!(!new.password_hash.contains("a-long-password"));
    }

    #[test]
    fn create_user_stores_the_account_and_refuses_a_taken_email() {
        let temp = crate::store::tests::temp_store();
        let hasher = cheap_hasher();
        let audit = Audit::system("test");
        let password = Password::parse("a-long-password").expect("long enough");
        let account = NewAccount::plain(email("Bea@Example.com"), password.clone());
        let user =
            create_user(&temp.store, &hasher, account, &audit, "test", 100).expect("created");
        assert_eq!(user.email, "bea@example.com");
        assert!(user.is_active && !user.is_superuser);
        assert_eq!(
            hasher.verify("a-long-password", &user.password_hash),
            crate::auth::password::Verdict::Match {
                needs_rehash: false
            }
        );
        let again = NewAccount::plain(email("BEA@example.com"), password);
        let taken = create_user(&temp.store, &hasher, again, &audit, "test", 101);
        assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    }

    #[test]
    fn the_first_admin_gets_the_default_team_and_project() {
        let temp = crate::store::tests::temp_store();
        let password = Password::parse("a-long-password").expect("long enough");
        let audit = Audit::system("test");
        let admin = create_first_admin(
            &temp.store,
            &cheap_hasher(),
            email("root@example.com"),
            password,
            FirstAdminVia::Bootstrap,
            &audit,
            100,
        )
        .expect("created")
        .expect("the first");
        assert!(admin.is_superuser && admin.is_verified);
        let project = temp.store.project_by_slug("default").expect("read");
        assert!(project.is_some());
    }

    #[test]
    fn first_admin_is_a_verified_superuser() {
        let password = Password::parse("a-long-password").expect("long enough");
        let account = NewAccount::first_admin(email("root@example.com"), password);
        assert!(account.is_superuser && account.is_verified);
    }
}
