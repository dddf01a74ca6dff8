//! Storage on SQLite: the only module that touches `rusqlite`, and the only place with SQL.
//!
//! The rest of the crate sees plain domain types ([`User`], [`Session`], ...) and methods on
//! [`Store`] named for what they do, so a second backend can implement the same surface later.
//!
//! Connections come from a small pool (one per concurrently active worker at most), each set
//! up once with WAL, `busy_timeout`, `foreign_keys` and `synchronous=NORMAL`, and each keeping
//! its own prepared-statement cache. Every write runs in one `BEGIN IMMEDIATE` transaction, so
//! it either commits whole before the client sees a 2xx, or not at all. In WAL mode with
//! `synchronous=NORMAL` a committed transaction survives the process being killed (the OS
//! holds the written pages); only a power loss can roll back the last commits.
//!
//! Must not import `http`, `auth` or `api`.
//!
//! # Layout and imports
//!
//! Four layers, each importing only the ones above it, so no two files import each other:
//!
//! 1. This file: [`Store`], the connection pool, `write` (one transaction), the one
//!    `From<rusqlite::Error>` for [`Error`], `ConflictOnUnique`, and `FromRow` with the
//!    `columns!` macro that every column list is built with.
//! 2. `audit.rs`, the log every change appends to in its own transaction (with the two
//!    label lookups an event needs: a user's email, a project's team).
//! 3. One file per table family, importing only (1) and (2): `users.rs`, `sessions.rs`,
//!    `tenancy.rs` (teams, members, projects), `api_keys.rs`, `content.rs`,
//!    `signing_keys.rs`, `rate_buckets.rs`. Each holds its types, its `FromRow` mapper and
//!    column list, and the statements on its own tables (`users.rs` also ends the setup
//!    links when a user is created).
//! 4. Work spanning families, in files named for it: `bootstrap.rs` (first admin: user, team,
//!    project; the setup links), `user_changes.rs` (a user update and the sessions it ends),
//!    `credentials.rs` (a session or key joined to its user, per request), `usage.rs` (the
//!    usage flush into `api_key_usage`, `api_keys` and `sessions`), `seed.rs` (a whole seed),
//!    `copy.rs` (every table into another database, for `shipstar copy`).
//!
//! # Public surface
//!
//! Backend-neutral: plain domain types and [`Store`] methods taking ids, values and
//! [`Audit`], returning [`Error`]; nothing of `rusqlite` is public. Roles are the domain's
//! [`Role`](crate::roles::Role), bound and read as its spelling (`tenancy.rs`), so a stored
//! value no role has is a read error, never a string handed on. By file:
//!
//! - `mod.rs`: [`Store::open`], [`Store::path`], [`Store::schema_version`],
//!   [`Store::is_healthy`], [`Store::integrity_ok`], [`Store::backup_to`],
//!   [`create_backup_file`], [`BUSY_TIMEOUT`].
//! - `users.rs`: [`User`], [`NewUser`]; `create_user`, `upgrade_password_hash`, `user_by_id`,
//!   `user_by_email`, `list_users`, `has_users`, `count_users`.
//! - `user_changes.rs`: [`UserChanges`], [`RevokeSessions`]; `update_user`.
//! - `bootstrap.rs`: `create_first_admin`; the shared setup links (`add_setup_token`,
//!   `setup_token_is_live`, `remove_setup_token`).
//! - `rate_buckets.rs`: [`BucketSpend`], [`BucketState`]; `spend_rate_bucket`,
//!   `prune_rate_buckets`: the rate-limit buckets the nodes of one database share.
//! - `sessions.rs`: [`Session`]; `create_session`, `session_by_id`, `rotate_session`,
//!   `extend_session_token`, `revoke_session`, `revoke_user_sessions`, `live_sessions`.
//! - `credentials.rs`: [`KeyHolder`]; `session_with_user`, `key_holder_by_hash`.
//! - `tenancy.rs`: [`Team`], [`Project`], [`Member`], [`MemberAuthority`]; team, member and
//!   project reads and writes (`create_team`, `add_member`, `set_member_role`,
//!   `remove_member`, `create_project`, `member_role`, `teams_of_user`, `projects_of_user`,
//!   ...).
//! - `api_keys.rs`: [`ApiKey`], [`NewApiKey`], [`ApiKeyChanges`], [`UsageDay`];
//!   `create_api_key`, `api_key_by_id`, `api_keys_of_project`, `update_api_key`,
//!   `roll_api_key`, `delete_api_key`, `usage_of_key`.
//! - `usage.rs`: [`UsageBatch`]; `record_usage`.
//! - `content.rs`: [`Content`], [`ContentKind`], [`NewContent`], [`ContentChanges`],
//!   [`ContentFilter`], [`Page`], [`Listed`]; content reads, writes and publication.
//! - `signing_keys.rs`: [`StoredSigningKey`], [`RetireOutcome`]; the signing-key lifecycle.
//! - `audit.rs`: [`Audit`], [`AuditAction`], [`ActorKind`], [`AuditEvent`],
//!   [`NewAuditEvent`], [`Named`], [`AuditFilter`], [`AuditPage`]; `record_audit`,
//!   `audit_events`, `prune_audit`.
//! - `seed.rs`: [`SeedRows`] and its row types; `apply_seed`.
//! - `copy.rs`: [`CopiedRows`]; `copy_into` (every row into an empty database of either
//!   engine, for `shipstar copy`).
//! - `migrations.rs`: nothing public beyond [`Store::schema_version`].

/// A column list for a statement, built at compile time: `columns!(; "id", "name")` is
/// `"id, name"`, `columns!("t"; "id", "name")` is `"t.id, t.name"` (qualified with a join's
/// alias). Each domain type names its columns once, in a `*_columns!` macro beside its
/// [`FromRow`] impl, through this.
macro_rules! columns {
    (; $first:literal $(, $rest:literal)*) => {
        concat!($first $(, ", ", $rest)*)
    };
    ($alias:literal; $first:literal $(, $rest:literal)*) => {
        concat!($alias, ".", $first $(, ", ", $alias, ".", $rest)*)
    };
}

mod api_keys;
mod audit;
mod bootstrap;
mod content;
mod copy;
mod credentials;
mod db;
mod key_activity;
mod migrations;
mod pg;
pub mod pg_target;
mod rate_buckets;
mod seed;
mod sessions;
mod signing_keys;
mod tenancy;
mod usage;
mod user_changes;
mod users;

pub use api_keys::{ApiKey, ApiKeyChanges, NewApiKey, UsageDay, DEACTIVATED_LEAK_REPORTED};
pub use audit::{
    ActorKind, Audit, AuditAction, AuditEvent, AuditFilter, AuditPage, Named, NewAuditEvent,
};
pub use content::{Content, ContentChanges, ContentFilter, ContentKind, Listed, NewContent, Page};
pub use copy::CopiedRows;
pub use credentials::KeyHolder;
pub use key_activity::{
    ActivityEntry, ActivityUse, KeyActivity, LeakReport, ACTIVITY_WINDOW_SECS,
    MAX_ACTIVITY_PER_KEY, MAX_USER_AGENT_CHARS,
};
pub use rate_buckets::{BucketSpend, BucketState};
pub use seed::{SeedContent, SeedKey, SeedMember, SeedProject, SeedPublish, SeedRows, SeedTeam};
pub use sessions::Session;
pub use signing_keys::{RetireOutcome, StoredSigningKey};
pub use tenancy::{Member, MemberAuthority, Project, Team};
pub use usage::UsageBatch;
pub use user_changes::{RevokeSessions, UserChanges};
pub use users::{NewUser, User};

use crate::error::{Error, StartupError};
use db::{Connection, DbError, Row, Transaction};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How long a statement waits for another writer's lock (SQLite) or a request waits for a
/// free connection (PostgreSQL) before the request answers 503.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection.
const STATEMENT_CACHE_CAPACITY: usize = 64;
/// Idle SQLite connections kept for reuse; more may exist briefly under load.
const MAX_IDLE_CONNECTIONS: usize = 64;
/// How many times a PostgreSQL write that lost a serialization race is run again before the
/// request answers 503.
const MAX_WRITE_ATTEMPTS: u32 = 20;

/// Where the data lives.
enum Backend {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(pg::PgBackend),
}

/// A handle on the database; cheap to share behind an `Arc`.
pub struct Store {
    backend: Backend,
    idle: Mutex<Vec<Connection>>,
    /// PostgreSQL: connections open now (idle or lent), never more than the pool size.
    open: Mutex<usize>,
    /// Signalled when a connection returns to the pool or closes.
    returned: Condvar,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.location())
            .finish()
    }
}

impl Store {
    /// Opens (creating with mode 0600 if absent) the database at `path`, refuses a file from a
    /// newer version untouched, and brings an older one up to date.
    pub fn open(path: &Path) -> Result<Store, StartupError> {
        let describe = |why: String| StartupError(format!("database {}: {why}", path.display()));
        create_private_file(path).map_err(|err| describe(err.to_string()))?;
        let mut conn = open_sqlite(path).map_err(|err| describe(err.to_string()))?;
        migrations::bring_up_to_date(&mut conn).map_err(describe)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|err| describe(format!("cannot enable WAL: {err}")))?;
        Ok(Store::with_backend(
            Backend::Sqlite(path.to_path_buf()),
            Some(Connection::Sqlite(conn)),
        ))
    }

    /// Opens the database `database` names: a `postgres://` or `postgresql://` URL selects
    /// PostgreSQL (at most `pool_size` connections), anything else is a SQLite file path.
    pub fn open_database(database: &str, pool_size: usize) -> Result<Store, StartupError> {
        if crate::database_url::is_postgres_url(database) {
            let backend = pg::PgBackend::parse(database, pool_size).map_err(StartupError)?;
            let conn = backend.connect_and_migrate().map_err(StartupError)?;
            Ok(Store::with_backend(Backend::Postgres(backend), Some(conn)))
        } else {
            Store::open(Path::new(database))
        }
    }

    fn with_backend(backend: Backend, first: Option<Connection>) -> Store {
        let open = usize::from(first.is_some());
        Store {
            backend,
            idle: Mutex::new(first.into_iter().collect()),
            open: Mutex::new(open),
            returned: Condvar::new(),
        }
    }

    /// The SQLite file's path; `None` on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(path) => Some(path),
            Backend::Postgres(_) => None,
        }
    }

    /// The warning to log once at start when the PostgreSQL connection may travel
    /// unencrypted to another machine (`sslmode` `disable` or `prefer` to a non-loopback
    /// host); `None` on SQLite and when it is encrypted or local.
    pub fn plaintext_warning(&self) -> Option<String> {
        match &self.backend {
            Backend::Postgres(backend) => backend.plaintext_warning(),
            Backend::Sqlite(_) => None,
        }
    }

    /// Whether the data lives on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Where the data lives, safe to print: the file's path, or the PostgreSQL URL with its
    /// password masked.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(path) => path.display().to_string(),
            Backend::Postgres(backend) => backend.masked(),
        }
    }

    /// The schema version this build writes.
    pub fn schema_version() -> i64 {
        migrations::LATEST_VERSION
    }

    /// Whether the database answers a trivial read (for the health route).
    pub fn is_healthy(&self) -> bool {
        let read = || -> Result<i64, Error> {
            let conn = self.conn()?;
            let mut stmt = conn.prepare_cached("SELECT count(*) FROM signing_keys")?;
            Ok(stmt.query_row(db::params![], |row| row.get(0))?)
        };
        read().is_ok()
    }

    /// Runs SQLite's `PRAGMA integrity_check`; true when it reports `ok`. PostgreSQL keeps
    /// its own pages consistent: there it is always true.
    pub fn integrity_ok(&self) -> Result<bool, Error> {
        let conn = self.conn()?;
        let Some(sqlite) = conn.sqlite() else {
            return Ok(true);
        };
        let verdict: String = sqlite
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(DbError::from)?;
        Ok(verdict == "ok")
    }

    /// Writes a consistent copy of the live database to `target`, a new file, safe while a
    /// server is serving from the same file.
    ///
    /// The copy holds every password hash and signing key, so no other user may ever get a
    /// handle on it: the file is created here, empty and with mode 0600, before its first
    /// byte ([`create_backup_file`]); only then does `VACUUM INTO` (a consistent snapshot
    /// read in one transaction, which accepts an existing empty file) fill it. An existing
    /// path is refused, a symbolic link too (dangling or not), so the copy never lands
    /// anywhere but where it was asked to. Errors name the cause: the path exists (409), is a
    /// link (409), its folder is missing or not a folder (404). On PostgreSQL it is refused
    /// as a kind of database it cannot copy (415), naming `pg_dump`, the tool for it.
    pub fn backup_to(&self, target: &Path) -> Result<(), Error> {
        if self.is_postgres() {
            return Err(Error::UnsupportedMediaType(
                "backup writes a SQLite file; on PostgreSQL use pg_dump (for example \
                 `pg_dump --format=custom DBNAME > shipstar.dump`)"
                    .into(),
            ));
        }
        let target_text = target
            .to_str()
            .ok_or_else(|| Error::BadRequest("backup path must be valid UTF-8".into()))?;
        let file = create_backup_file(target)?;
        let filled = self.fill_backup(&file, target, target_text);
        if filled.is_err() {
            // Leave nothing half-written behind, but remove only the file made here.
            if same_file(&file, target) {
                let _ = std::fs::remove_file(target);
            }
        }
        filled
    }

    /// Copies the database into `file`, the empty file just created at `target`.
    fn fill_backup(
        &self,
        file: &std::fs::File,
        target: &Path,
        target_text: &str,
    ) -> Result<(), Error> {
        let conn = self.conn()?;
        conn.execute("VACUUM INTO ?1", db::params![target_text])
            .map_err(|err| {
                Error::Unavailable(format!(
                    "writing the backup to {} failed: {err}",
                    target.display()
                ))
            })?;
        // SQLite opened the file by name. Had someone swapped the path in between (only
        // possible in a folder others may write to), the copy went elsewhere: say so rather
        // than report success.
        if !same_file(file, target) {
            return Err(Error::Conflict(format!(
                "{} was replaced while the backup was written; write backups into a folder \
                 only you can change",
                target.display()
            )));
        }
        file.sync_all()
            .map_err(|err| Error::Unavailable(format!("cannot flush {}: {err}", target.display())))
    }

    /// A connection from the pool (or a new one), returned to the pool when dropped. On
    /// PostgreSQL at most the pool size are open; a request waits up to [`BUSY_TIMEOUT`]
    /// for one to come back, then answers 503.
    fn conn(&self) -> Result<PooledConnection<'_>, Error> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(conn) = reused {
            return Ok(PooledConnection {
                store: self,
                conn: Some(conn),
            });
        }
        let conn = match &self.backend {
            Backend::Sqlite(path) => Connection::Sqlite(open_sqlite(path).map_err(DbError::from)?),
            Backend::Postgres(backend) => {
                let Some(conn) = self.postgres_slot(backend)? else {
                    return self.conn();
                };
                conn
            }
        };
        Ok(PooledConnection {
            store: self,
            conn: Some(conn),
        })
    }

    /// A new PostgreSQL connection when the pool has room, `None` when one came back to the
    /// pool while waiting (take it from there).
    fn postgres_slot(&self, backend: &pg::PgBackend) -> Result<Option<Connection>, Error> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        while *open >= backend.pool_size() {
            if !self
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
            {
                return Ok(None);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::Unavailable(
                    "All database connections are busy; try again shortly.".into(),
                ));
            }
            open = self
                .returned
                .wait_timeout(open, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *open += 1;
        drop(open);
        match backend.connect() {
            Ok(conn) => Ok(Some(conn)),
            Err(why) => {
                self.closed_one();
                Err(Error::Unavailable(why))
            }
        }
    }

    /// Notes that a pooled PostgreSQL connection closed, so another may open.
    fn closed_one(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        *open = open.saturating_sub(1);
        self.returned.notify_one();
    }

    /// Runs `work` inside one write transaction, committing only when it returns `Ok`.
    ///
    /// SQLite: `BEGIN IMMEDIATE`, so writers queue on the file's lock and never conflict.
    /// PostgreSQL: `SERIALIZABLE`, so a write that reads what it checks (a team's owners,
    /// a free slug) behaves as if the writes of all nodes ran one after the other; when the
    /// server aborts it for a conflict with a concurrent write, `work` runs again from the
    /// start on a fresh transaction (which is why it is `FnMut`: it must not keep anything
    /// from an attempt that did not commit).
    fn write<T>(&self, mut work: impl FnMut(&Transaction) -> Result<T, Error>) -> Result<T, Error> {
        let conn = self.conn()?;
        match &*conn {
            Connection::Sqlite(_) => {
                conn.execute_batch("BEGIN IMMEDIATE")?;
                finish_transaction(&conn, work(&conn))
            }
            Connection::Postgres(pg) => {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    pg.take_retryable();
                    conn.execute_batch("BEGIN ISOLATION LEVEL SERIALIZABLE")?;
                    let outcome = finish_transaction(&conn, work(&conn));
                    if outcome.is_ok() || !pg.take_retryable() || attempt >= MAX_WRITE_ATTEMPTS {
                        return outcome;
                    }
                    // Let the transaction that won move on before trying again.
                    std::thread::sleep(Duration::from_micros(
                        200 * u64::from(attempt) + jitter_micros(),
                    ));
                }
            }
        }
    }
}

impl Store {
    /// Runs `work` in one read-only transaction, so everything it reads is one consistent
    /// snapshot (SQLite: a deferred transaction; PostgreSQL: `REPEATABLE READ`).
    fn read<T>(&self, work: impl FnOnce(&Transaction) -> Result<T, Error>) -> Result<T, Error> {
        let conn = self.conn()?;
        conn.execute_batch(if conn.is_postgres() {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        } else {
            "BEGIN"
        })?;
        finish_transaction(&conn, work(&conn))
    }
}

/// A random pause under half a millisecond, so writers that collided do not collide again in
/// step.
fn jitter_micros() -> u64 {
    let mut byte = [0u8; 2];
    crate::ids::random_bytes(&mut byte);
    u64::from(u16::from_le_bytes(byte) % 500)
}

/// Commits when `outcome` is `Ok` and rolls back otherwise; a failed commit is the outcome.
fn finish_transaction<T>(conn: &Connection, outcome: Result<T, Error>) -> Result<T, Error> {
    match outcome {
        Ok(value) => match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(err) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(err.into())
            }
        },
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err)
        }
    }
}

struct PooledConnection<'a> {
    store: &'a Store,
    conn: Option<Connection>,
}

impl Deref for PooledConnection<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Invariant: `conn` is Some from construction until drop.
        self.conn
            .as_ref()
            .expect("pooled connection present until drop")
    }
}

impl Drop for PooledConnection<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        match &conn {
            Connection::Sqlite(sqlite) => {
                // A connection left inside a transaction (after a panic) is not reused.
                if sqlite.is_autocommit() {
                    let mut idle = self.store.idle.lock().unwrap_or_else(|p| p.into_inner());
                    if idle.len() < MAX_IDLE_CONNECTIONS {
                        idle.push(conn);
                    }
                }
            }
            Connection::Postgres(pg) => {
                if pg.is_broken() || std::thread::panicking() {
                    drop(conn);
                    self.store.closed_one();
                } else {
                    self.store
                        .idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn);
                    self.store.returned.notify_one();
                }
            }
        }
    }
}

/// A new SQLite connection on `path`, set up as every connection of the pool is.
fn open_sqlite(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    // Plans must not depend on the values bound to a statement. Without this, SQLite reads a
    // bound `LIMIT ?` while planning, marks the statement as depending on it, and so throws
    // the cached plan away and compiles the SQL again every time the limit is bound: every
    // page of every list paid a full prepare (callgrind: about 220,000 instructions, a fifth of
    // a `GET /api/v1/blogs`). Our plans come from the indexes, never from parameter values.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}

/// Creates the file with mode 0600 if it does not exist, so SQLite (which gives its `-wal`
/// and `-shm` files the main file's mode) never creates a world-readable database.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Creates the backup file at `target`: new (never an existing file), never through a
/// symbolic link, and mode 0600 from its creation, so it is private before its first byte.
///
/// `create_new` is `O_CREAT | O_EXCL`, which fails on any existing name, a symbolic link
/// included even when it dangles, and creates the file atomically; the mode is given to
/// `open` itself, not set afterwards. The umask can only have narrowed it, so it is set to
/// exactly 0600 on the open file (SQLite must be able to write it), still before any byte.
pub fn create_backup_file(target: &Path) -> Result<std::fs::File, Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .map_err(|err| backup_target_error(target, &err))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|err| {
            Error::Internal(format!(
                "cannot set the mode of {}: {err}",
                target.display()
            ))
        })?;
    Ok(file)
}

/// What went wrong creating the backup file, as one sentence saying what to do.
fn backup_target_error(target: &Path, err: &std::io::Error) -> Error {
    use std::io::ErrorKind;
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match err.kind() {
        ErrorKind::AlreadyExists => {
            let is_link =
                std::fs::symlink_metadata(target).is_ok_and(|meta| meta.file_type().is_symlink());
            if is_link {
                Error::Conflict(format!(
                    "{} is a symbolic link; backup never writes through a link: give the path \
                     of a new file",
                    target.display()
                ))
            } else {
                Error::Conflict(format!(
                    "{} already exists; backup never overwrites a file: give the path of a new \
                     file, or move the old one away first",
                    target.display()
                ))
            }
        }
        ErrorKind::NotFound => Error::NotFound(format!(
            "folder {} does not exist; create it first or give a path in an existing folder",
            folder.display()
        )),
        ErrorKind::NotADirectory => Error::NotFound(format!(
            "{} is not a folder; give a path in an existing folder",
            folder.display()
        )),
        ErrorKind::PermissionDenied => Error::Forbidden(format!(
            "cannot create {}: permission denied; give a path in a folder you may write to",
            target.display()
        )),
        _ => Error::Unavailable(format!("cannot create {}: {err}", target.display())),
    }
}

/// Whether `target` still names `file` itself (same device and inode), without following a
/// link at `target`.
fn same_file(file: &std::fs::File, target: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(target)) {
        (Ok(ours), Ok(there)) => ours.dev() == there.dev() && ours.ino() == there.ino(),
        _ => false,
    }
}

/// A database failure as the crate's error, so statements in the store end in `?`: lock
/// timeouts, lost connections and unusable files are 503 (the request may succeed later),
/// everything else is a bug (500). The one mapping for every statement of both engines; the
/// only exceptions are the unique violations a caller turns into a 409 (`ConflictOnUnique`)
/// and the backup's own wording.
impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        let busy = || Error::Unavailable("The database is busy; try again shortly.".into());
        let unavailable = || Error::Unavailable("The database is unavailable.".into());
        match err {
            DbError::Sqlite(err) => match err.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    busy()
                }
                Some(
                    rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::DatabaseCorrupt
                    | rusqlite::ErrorCode::NotADatabase
                    | rusqlite::ErrorCode::PermissionDenied
                    | rusqlite::ErrorCode::FileLockingProtocolFailed,
                ) => unavailable(),
                _ => Error::Internal(format!("database: {err}")),
            },
            DbError::Postgres(err) => match err.code().map(|code| code.code()) {
                // Serialization failures and deadlocks that outlived every retry, lock
                // and statement timeouts: the request may succeed later.
                Some("40001" | "40P01" | "55P03" | "57014") => busy(),
                // Connection failures (class 08), resources (53), operator intervention
                // (57, a server shutting down), or no SQLSTATE at all (the socket failed).
                Some(code)
                    if code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57") =>
                {
                    unavailable()
                }
                None => unavailable(),
                Some(_) => Error::Internal(format!("database: {}", DbError::Postgres(err))),
            },
            other => Error::Internal(format!("database: {other}")),
        }
    }
}

/// Typed ids are stored as their text and read back with `from_stored`: every id in the
/// database was made by `parse` or `new_v4`, so it is not checked again (see [`crate::ids`]).
macro_rules! sql_id {
    ($($name:ident),*) => {
        $(
            impl db::ToValue for crate::ids::$name {
                fn to_value(&self) -> db::Value<'_> {
                    db::Value::Text(self.as_str())
                }
            }

            impl db::FromValue for crate::ids::$name {
                fn from_value(value: db::ValueRef<'_>) -> Result<Self, String> {
                    String::from_value(value).map(Self::from_stored)
                }
            }
        )*
    };
}

sql_id!(UserId, TeamId, ProjectId, ApiKeyId, ContentId, SessionId);

/// A domain type read from one row: the one mapper every reader of the type uses. Its
/// columns, in the order `from_row_at` reads them, are the `*_columns!` macro (or constant)
/// beside the impl.
trait FromRow: Sized {
    /// How many columns it reads, counted from its column list, so a join reading several
    /// types in one row finds where the next one starts.
    const COLUMNS: usize;

    /// Reads it from `row`, its columns starting at index `first`.
    fn from_row_at(row: &Row<'_>, first: usize) -> db::Result<Self>;

    /// Reads it from a row that starts with its columns.
    fn from_row(row: &Row<'_>) -> db::Result<Self> {
        Self::from_row_at(row, 0)
    }
}

/// How many columns a comma-separated column list names.
const fn column_count(list: &str) -> usize {
    let bytes = list.as_bytes();
    let mut count = 1;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b',' {
            count += 1;
        }
        i += 1;
    }
    count
}

/// Turns a UNIQUE (or primary key) violation into the caller's 409, and any other failure
/// into the crate's error as `?` would.
trait ConflictOnUnique<T> {
    /// `conflict()` when the statement broke a uniqueness rule, [`Error::from`] otherwise.
    fn conflict_on_unique(self, conflict: impl FnOnce() -> Error) -> Result<T, Error>;
}

impl<T> ConflictOnUnique<T> for db::Result<T> {
    fn conflict_on_unique(self, conflict: impl FnOnce() -> Error) -> Result<T, Error> {
        self.map_err(|err| {
            if is_unique_violation(&err) {
                conflict()
            } else {
                Error::from(err)
            }
        })
    }
}

/// Whether `err` is a UNIQUE (or primary key) violation (callers turn it into a 409).
fn is_unique_violation(err: &DbError) -> bool {
    match err {
        DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
            e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        }
        DbError::Postgres(err) => err.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A store on a fresh file in a temporary directory, removed with the guard.
    pub(crate) struct TempStore {
        pub store: Store,
        dir: PathBuf,
    }

    impl Drop for TempStore {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A store with its first administrator, the default project and one API key of it;
    /// returns the key's id (for tests of what is recorded per key).
    pub(crate) fn store_with_key(store: &Store) -> crate::ids::ApiKeyId {
        let owner = store
            .create_first_admin(
                &NewUser::with_hash(
                    crate::email::Email::parse("a@example.com").unwrap(),
                    "x".into(),
                ),
                None,
                &Audit::system("test"),
                "test",
                1,
            )
            .unwrap()
            .unwrap();
        let project = store.project_by_slug("default").unwrap().unwrap();
        store
            .create_api_key(
                &NewApiKey {
                    project_id: project.id,
                    name: "k".into(),
                    key_hash: "h".into(),
                    key_prefix: "sk_live_abcdefgh".into(),
                    created_by: owner.id,
                    expires_at: None,
                    expires_in_days: None,
                },
                &Audit::system("test"),
                1,
            )
            .unwrap()
            .id
    }

    pub(crate) fn temp_store() -> TempStore {
        let dir =
            std::env::temp_dir().join(format!("shipstar-store-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("test.db")).unwrap();
        TempStore { store, dir }
    }

    #[test]
    fn new_database_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let temp = temp_store();
        let mode = std::fs::metadata(temp.store.path().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_fresh_database_passes_the_integrity_check() {
        assert!(temp_store().store.integrity_ok().unwrap());
    }

    #[test]
    fn a_bound_limit_does_not_make_sqlite_compile_a_statement_again() {
        let temp = temp_store();
        let conn = temp.store.conn().unwrap();
        let mut stmt = conn
            .sqlite()
            .unwrap()
            .prepare_cached("SELECT id FROM users ORDER BY created_at LIMIT ?1 OFFSET ?2")
            .unwrap();
        for (limit, offset) in [(20, 0), (5, 10), (20, 0)] {
            let rows: Vec<String> = stmt
                .query_map(rusqlite::params![limit, offset], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(rows.is_empty());
        }
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "the statement was compiled again after binding a new LIMIT"
        );
    }

    #[test]
    fn sqlite_failures_map_to_the_crate_error_by_kind() {
        let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        let failure_db = |code| DbError::from(failure(code));
        for code in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_LOCKED] {
            match Error::from(DbError::from(failure(code))) {
                Error::Unavailable(why) => assert!(why.contains("busy"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            Error::from(DbError::from(failure(rusqlite::ffi::SQLITE_FULL))),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(DbError::from(rusqlite::Error::QueryReturnedNoRows)),
            Error::Internal(_)
        ));
        let taken = || Error::Conflict("taken".into());
        let unique = failure_db(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE);
        assert!(matches!(
            Err::<(), _>(unique).conflict_on_unique(taken),
            Err(Error::Conflict(_))
        ));
        let busy = failure_db(rusqlite::ffi::SQLITE_BUSY);
        assert!(matches!(
            Err::<(), _>(busy).conflict_on_unique(taken),
            Err(Error::Unavailable(_))
        ));
    }

    #[test]
    fn a_column_list_is_built_once_and_counted() {
        assert_eq!(columns!(; "id", "name"), "id, name");
        assert_eq!(columns!("t"; "id", "name"), "t.id, t.name");
        assert_eq!(column_count(columns!("t"; "id", "name", "slug")), 3);
        assert_eq!(User::COLUMNS, 9);
        assert_eq!(Session::COLUMNS, 10);
        assert_eq!(ApiKey::COLUMNS, 14);
    }

    #[test]
    fn health_check_reads_the_database() {
        assert!(temp_store().store.is_healthy());
    }

    #[test]
    fn backup_makes_a_private_readable_copy() {
        use std::os::unix::fs::PermissionsExt;
        let temp = temp_store();
        let target = temp.dir.join("copy.db");
        temp.store.backup_to(&target).unwrap();
        let copy = Store::open(&target).unwrap();
        assert!(copy.is_healthy());
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            temp.store.backup_to(&target),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn the_backup_file_is_private_and_empty_before_its_first_byte() {
        use std::os::unix::fs::PermissionsExt;
        let temp = temp_store();
        let target = temp.dir.join("fresh.db");
        let file = create_backup_file(&target).unwrap();
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.len(), 0);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(same_file(&file, &target));
        temp.store
            .fill_backup(&file, &target, target.to_str().unwrap())
            .unwrap();
        assert!(std::fs::metadata(&target).unwrap().len() > 0);
        assert!(Store::open(&target).unwrap().is_healthy());
    }

    #[test]
    fn backup_refuses_links_live_or_dangling_and_leaves_their_targets_alone() {
        let temp = temp_store();
        let victim = temp.dir.join("victim.txt");
        std::fs::write(&victim, b"keep me").unwrap();
        let live = temp.dir.join("live-link.db");
        std::os::unix::fs::symlink(&victim, &live).unwrap();
        let dangling = temp.dir.join("dangling-link.db");
        let nowhere = temp.dir.join("nowhere.db");
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        for link in [&live, &dangling] {
            match temp.store.backup_to(link) {
                Err(Error::Conflict(why)) => {
                    assert!(why.contains("symbolic link"), "{why}");
                    assert!(why.contains(&link.display().to_string()), "{why}");
                }
                other => panic!("{other:?}"),
            }
            assert!(std::fs::symlink_metadata(link)
                .unwrap()
                .file_type()
                .is_symlink());
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert!(!nowhere.exists());
    }

    #[test]
    fn backup_into_a_missing_folder_names_the_folder() {
        let temp = temp_store();
        let folder = temp.dir.join("no-such-folder");
        match temp.store.backup_to(&folder.join("copy.db")) {
            Err(Error::NotFound(why)) => {
                assert!(
                    why.contains(&format!("folder {} does not exist", folder.display())),
                    "{why}"
                );
            }
            other => panic!("{other:?}"),
        }
        let file = temp.dir.join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        match temp.store.backup_to(&file.join("copy.db")) {
            Err(Error::NotFound(why)) => assert!(why.contains("is not a folder"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unopenable_path_names_the_path() {
        let err = Store::open(Path::new("/nonexistent-dir/x/shipstar.db")).unwrap_err();
        assert!(err.0.contains("/nonexistent-dir/x/shipstar.db"), "{err}");
    }
}
