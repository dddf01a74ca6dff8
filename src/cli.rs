//! The command line: `shipstar <command>`, each with `--help`.
//!
//! Commands that change data open the same database file as a running server and work next
//! to it (SQLite WAL with a busy timeout). Every command finds the database as the server
//! does (flag, environment, config file, default); every command but `serve` and `migrate`
//! refuses one that does not exist, so a mistyped path cannot silently create an empty
//! database (`copy` creates its target, never its source). Errors print one line on stderr saying what to do, and exit with status 1;
//! usage errors, a missing database and a seed that is wrong or conflicts exit with status 2.

use crate::accounts::{self, NewAccount, Password};
use crate::config::{Config, Overrides};
use crate::email::Email;
use crate::ephemeral::EphemeralDatabase;
use crate::error::{Error, StartupError};
use crate::ids::ApiKeyId;
use crate::store::{
    Audit, CopiedRows, RetireOutcome, RevokeSessions, Store, StoredSigningKey, UserChanges,
};
use crate::{keyring, keys, slug};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status of a command that failed while running.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage error, a missing database or a refused seed: the input is wrong.
pub const EXIT_USAGE: u8 = 2;

/// shipstar: a self-hosted Shipstar API server (auth, changelogs, blog, KB) on SQLite.
#[derive(Debug, Parser)]
#[command(name = "shipstar", version = crate::VERSION, propagate_version = true)]
pub struct Cli {
    /// Config file (TOML). Default: ./shipstar.toml if present.
    #[arg(long, global = true, value_name = "PATH", env = "SHIPSTAR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database: a SQLite file path or a postgres:// URL (the `database` setting; default
    /// shipstar.db).
    // The variable's value is never shown by --help: a URL may hold a password.
    #[arg(
        long,
        global = true,
        value_name = "DATABASE",
        env = "SHIPSTAR_DATABASE",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server; once ready it prints one JSON line on stdout: url, database, pid.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
        #[arg(long, value_name = "ADDR", env = "SHIPSTAR_LISTEN")]
        listen: Option<String>,
        /// Use a fresh temporary database, deleted when the server exits, and a free
        /// loopback port unless --listen says otherwise.
        #[arg(long)]
        ephemeral: bool,
        /// Create the users, teams, projects, API keys and content of this TOML or JSON file
        /// before serving, in one transaction (see `shipstar seed`).
        #[arg(long, value_name = "FILE")]
        seed: Option<PathBuf>,
    },
    /// Create the users, teams, members, projects, API keys and content of a TOML or JSON
    /// file in one transaction; a conflict with existing data changes nothing.
    Seed {
        /// The seed document (`.toml` or `.json`).
        file: PathBuf,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage JWT signing keys.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write a consistent copy of the live database to PATH (safe while serving), a new file
    /// with mode 0600; an existing file or a symbolic link at PATH is refused.
    Backup {
        /// Where to write the copy: a new file in an existing folder.
        path: PathBuf,
    },
    /// Copy every row into an empty database of either backend (SQLite file or PostgreSQL).
    ///
    /// Users with their password hashes, teams, members, projects, API keys, sessions,
    /// signing keys, content, usage, the audit log and key activity are read in one
    /// consistent snapshot and written in one transaction, so every credential keeps
    /// working on the target. Prints one line per table (name, rows) and the total. A
    /// target holding any data is refused (exit 2) and left as it was.
    Copy {
        /// The target: a SQLite file path (created if absent) or a postgres:// URL (its
        /// schema is created if absent).
        #[arg(long, value_name = "DATABASE")]
        to: String,
    },
    /// Apply pending schema migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets masked, with each value's source.
    Config,
    /// Print the version.
    Version,
}

/// `shipstar user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a strong password is generated and printed once.
    Create {
        /// Email address (sign-in name).
        #[arg(long)]
        email: String,
        /// Given name.
        #[arg(long)]
        first_name: Option<String>,
        /// Family name.
        #[arg(long)]
        last_name: Option<String>,
        /// Make the user a superuser.
        #[arg(long)]
        superuser: bool,
        /// Mark the email as verified.
        #[arg(long)]
        verified: bool,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Set a user's password from standard input; signs them out everywhere.
    SetPassword {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Deactivate a user: every session and API key of theirs stops working at once.
    Deactivate {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Reactivate a user.
    Activate {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
}

/// `shipstar team ...`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team owned by an existing user.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Slug (default: derived from the name).
        #[arg(long)]
        slug: Option<String>,
        /// Email of the owner.
        #[arg(long)]
        owner: String,
    },
}

/// `shipstar project ...`
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project in a team.
    Create {
        /// Slug of the team.
        #[arg(long)]
        team: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Slug, unique on the server (default: derived from the name).
        #[arg(long)]
        slug: Option<String>,
    },
}

/// `shipstar key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; prints the key (and nothing else) on stdout, once.
    Create {
        /// Slug of the project.
        #[arg(long)]
        project: String,
        /// Email of the user the key acts as (a member of the project's team).
        #[arg(long)]
        user: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Expire after this many days (1..3650).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=keys::MAX_EXPIRES_IN_DAYS))]
        expires_in_days: Option<i64>,
    },
    /// List a project's keys (never the keys themselves).
    List {
        /// Slug of the project.
        #[arg(long)]
        project: String,
    },
    /// Deactivate a key: it fails from the next request on.
    Deactivate {
        /// The key's id.
        #[arg(long)]
        id: String,
    },
}

/// `shipstar secret ...`: the JWT signing keys kept in the database. When `jwt_secret` is
/// configured the configuration owns the keys, and `rotate` and `retire` refuse (exit 2).
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Add a signing key that signs every token from now on; older keys keep verifying only
    /// the tokens they signed before (until those tokens' refresh grace ends).
    Rotate,
    /// Retire a signing key: every token it signed fails at once (its users sign in again).
    /// The key that signs cannot be retired: rotate first.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["kid", "all_but_current"])))]
    Retire {
        /// The key's id, as `shipstar secret list` shows it.
        #[arg(long, value_name = "K")]
        kid: Option<String>,
        /// Retire every key but the one that signs.
        #[arg(long)]
        all_but_current: bool,
    },
    /// List the signing keys, one line each: kid, creation, retirement, state (never a secret).
    List,
}

/// `shipstar audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List events, newest first: one readable line each, or one JSON object per line.
    List {
        /// Only the events of the team with this slug.
        #[arg(long, value_name = "SLUG")]
        team: Option<String>,
        /// Only this action (`user.created`) or family (a prefix ending in `.`, such as
        /// `api_key.`); repeat for several.
        #[arg(long, value_name = "A")]
        action: Vec<String>,
        /// Only events at or after this RFC 3339 time (`2026-01-31T00:00:00Z`).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// One JSON object per line, in the shape of the audit-log route.
        #[arg(long)]
        json: bool,
    },
}

/// A failed command: the one line printed on stderr, and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong and what to do, on one line.
    pub message: String,
    /// [`EXIT_FAILURE`] or [`EXIT_USAGE`].
    pub code: u8,
}

impl Failure {
    /// A failure caused by wrong input (exit status 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            message,
            code: EXIT_FAILURE,
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::from(message.to_owned())
    }
}

impl From<StartupError> for Failure {
    fn from(err: StartupError) -> Failure {
        Failure::from(err.0)
    }
}

/// The command-line parser with `serve --help` listing every environment variable.
pub fn command() -> clap::Command {
    let mut vars = String::from("Environment (each setting also has a config-file key):\n");
    for (var, doc) in Config::env_vars() {
        vars.push_str(&format!("  {var}\n          {doc}\n"));
    }
    Cli::command().mut_subcommand("serve", |serve| serve.after_help(vars))
}

/// Parses the command line, runs it, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let matches = command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => forget_env_values(cli, &matches),
        Err(err) => err.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Drops the values clap read from `SHIPSTAR_CONFIG`, `SHIPSTAR_DATABASE` and
/// `SHIPSTAR_LISTEN`: clap declares them only so that `--help` shows them. The configuration
/// layer reads the same variables itself, which keeps flag > environment > file > default
/// and lets every message say where a value came from.
fn forget_env_values(mut cli: Cli, matches: &ArgMatches) -> Cli {
    let from_env =
        |matches: &ArgMatches, id: &str| matches.value_source(id) == Some(ValueSource::EnvVariable);
    if from_env(matches, "config") {
        cli.config = None;
    }
    if from_env(matches, "database") {
        cli.database = None;
    }
    if let (Command::Serve { listen, .. }, Some(serve)) =
        (&mut cli.command, matches.subcommand_matches("serve"))
    {
        if from_env(serve, "listen") {
            *listen = None;
        }
        // A global flag's source is recorded on the subcommand's matches too.
        if from_env(serve, "database") {
            cli.database = None;
        }
        if from_env(serve, "config") {
            cli.config = None;
        }
    }
    if let Some((_, sub)) = matches.subcommand() {
        if from_env(sub, "database") {
            cli.database = None;
        }
        if from_env(sub, "config") {
            cli.config = None;
        }
    }
    cli
}

fn load_config(cli: &Cli, flags: Vec<(&'static str, String)>) -> Result<Config, StartupError> {
    let mut flags = flags;
    if let Some(database) = &cli.database {
        flags.push(("database", database.clone()));
    }
    let env = |name: &str| std::env::var(name).ok();
    Config::load(cli.config.as_deref(), &env, &Overrides(flags))
}

/// Opens the database of `config`, refusing one that does not exist (exit 2): the message
/// names the path and the flag, variable, file or default that chose it.
pub fn open_existing_store(config: &Config) -> Result<Store, Failure> {
    let path = Path::new(config.database.expose());
    if !config.database.is_postgres() && !path.exists() {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        return Err(Failure::usage(format!(
            "database {} does not exist ({:?} comes from {}); point --database, \
             SHIPSTAR_DATABASE or the config file at the server's database, or create it \
             with `shipstar migrate`",
            absolute.display(),
            config.database,
            match config.origin_of("database").as_str() {
                "default" => "the default (no flag, variable or config file sets it)".to_owned(),
                origin => origin.to_owned(),
            }
        )));
    }
    Ok(crate::server::open_store(config)?)
}

fn with_store<T>(
    config: &Config,
    work: impl FnOnce(&Store) -> Result<T, Error>,
) -> Result<T, Failure> {
    let store = open_existing_store(config)?;
    work(&store).map_err(|err| Failure::from(err.to_string()))
}

/// The audit actor of a command run on this machine, labelled `shipstar <command>`: the one
/// place the CLI names who changed something.
fn actor(command: &str) -> Audit {
    Audit::cli(&format!("shipstar {command}"))
}

/// A refused seed is wrong input (exit 2); a database failure while writing it is not.
fn seed_failure(file: &Path, err: Error) -> Failure {
    let message = format!("seed file {}: {err}", file.display());
    match err {
        Error::Conflict(_) | Error::NotFound(_) | Error::Forbidden(_) => Failure::usage(message),
        _ => Failure::from(message),
    }
}

/// Reads and checks the seed at `file`, hashes its passwords and writes it to `store`;
/// returns the summary line. Nothing is written unless all of it is. The keys and content it
/// makes are recorded in the audit log as done by `shipstar <command>` (actor `cli`).
fn apply_seed(
    config: &Config,
    store: &Store,
    file: &Path,
    command: &str,
) -> Result<String, Failure> {
    let now = crate::clock::Clock::System.now_secs();
    let checked = crate::seed::read(file, now, config.max_content_bytes).map_err(Failure::usage)?;
    let summary = checked.summary();
    let hasher = crate::server::password_hasher(config)?;
    let rows = checked.hash_passwords(&hasher)?;
    store
        .apply_seed(&rows, &actor(command), now)
        .map_err(|err| seed_failure(file, err))?;
    Ok(summary)
}

/// `shipstar serve`: with `--ephemeral`, on a fresh private database removed at exit; with
/// `--seed`, after writing the seed.
fn run_serve(
    cli: &Cli,
    listen: Option<String>,
    ephemeral: bool,
    seed: Option<PathBuf>,
) -> Result<(), Failure> {
    if ephemeral && cli.database.is_some() {
        return Err(Failure::usage(
            "--ephemeral makes its own temporary database; leave out --database",
        ));
    }
    let temporary = if ephemeral {
        Some(EphemeralDatabase::create()?)
    } else {
        None
    };
    let mut flags = Vec::new();
    if let Some(temporary) = &temporary {
        flags.push((
            "database",
            temporary.database().to_string_lossy().into_owned(),
        ));
        if listen.is_none() {
            flags.push(("listen", "127.0.0.1:0".to_owned()));
        }
    }
    if let Some(listen) = listen {
        flags.push(("listen", listen));
    }
    let mut config = load_config(cli, flags)?;
    if temporary.is_some() {
        config.use_throwaway_password_hashing();
    }
    if let Some(file) = &seed {
        let store = crate::server::open_store(&config)?;
        apply_seed(&config, &store, file, "serve --seed")?;
    }
    let served = crate::server::serve(config);
    // Removed only now: the server has closed the database.
    drop(temporary);
    Ok(served?)
}

/// Runs one parsed command; the error is the one line printed on stderr and its exit status.
pub fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Serve {
        listen,
        ephemeral,
        seed,
    } = &cli.command
    {
        return run_serve(&cli, listen.clone(), *ephemeral, seed.clone());
    }
    let config = load_config(&cli, Vec::new())?;
    match cli.command {
        Command::Serve { .. } => Ok(()),
        Command::Seed { file } => {
            let store = open_existing_store(&config)?;
            let summary = apply_seed(&config, &store, &file, "seed")?;
            println!("seeded {summary} into {}", store.location());
            Ok(())
        }
        Command::Version => {
            println!("shipstar {}", crate::VERSION);
            Ok(())
        }
        Command::Config => {
            match config.file_read() {
                Some(file) => println!("# config file: {file}"),
                None => println!(
                    "# config file: none read (no --config, SHIPSTAR_CONFIG or ./shipstar.toml)"
                ),
            }
            print!("{}", config.describe());
            Ok(())
        }
        Command::Migrate => {
            let store = crate::server::open_store(&config)?;
            println!(
                "database {} is at schema version {}",
                store.location(),
                Store::schema_version()
            );
            Ok(())
        }
        Command::Backup { path } => backup(&config, &path),
        Command::Copy { to } => copy(&config, &to),
        Command::Secret(command) => run_secret(&config, command),
        Command::Audit(command) => run_audit(&config, command),
        Command::User(command) => run_user(&config, command),
        Command::Team(TeamCommand::Create { name, slug, owner }) => {
            check_name_and_slug(&name, slug.as_deref())?;
            let now = crate::clock::Clock::System.now_secs();
            let team = with_store(&config, |store| {
                let owner = find_user(store, &owner)?;
                slug::create_with_slug(slug, &name, "team", |slug| {
                    store.create_team(&name, slug, &owner.id, &actor("team create"), now)
                })
            })?;
            println!("created team {} ({})", team.slug, team.id);
            Ok(())
        }
        Command::Project(ProjectCommand::Create { team, name, slug }) => {
            check_name_and_slug(&name, slug.as_deref())?;
            let now = crate::clock::Clock::System.now_secs();
            let project = with_store(&config, |store| {
                let team = store
                    .team_by_slug(&team)?
                    .ok_or_else(|| Error::NotFound(format!("no team with slug {team}")))?;
                slug::create_with_slug(slug, &name, "project", |slug| {
                    store.create_project(&team.id, &name, slug, &actor("project create"), now)
                })
            })?;
            println!("created project {} ({})", project.slug, project.id);
            Ok(())
        }
        Command::Key(command) => run_key(&config, command),
    }
}

fn read_password_stdin() -> Result<Password, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|err| format!("cannot read the password from standard input: {err}"))?;
    let password = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text)
        .to_string();
    Password::parse(&password).map_err(|_| password_policy_failure())
}

/// The CLI's line for a password outside the policy.
fn password_policy_failure() -> Failure {
    "the password must have 8 to 1024 characters".into()
}

fn find_user(store: &Store, email: &str) -> Result<crate::store::User, Error> {
    store.user_by_email(email)?.ok_or_else(|| {
        Error::NotFound(format!(
            "no user with email {email}; see `shipstar user list`"
        ))
    })
}

fn run_user(config: &Config, command: UserCommand) -> Result<(), Failure> {
    let now = crate::clock::Clock::System.now_secs();
    match command {
        UserCommand::Create {
            email,
            first_name,
            last_name,
            superuser,
            verified,
            password_stdin,
        } => {
            let Ok(valid_email) = Email::parse(&email) else {
                return Err(format!("{email:?} is not a valid email address").into());
            };
            let (password, generated) = if password_stdin {
                (read_password_stdin()?, false)
            } else {
                let generated = crate::ids::random_hex(16);
                let password =
                    Password::parse(&generated).map_err(|_| password_policy_failure())?;
                (password, true)
            };
            let hasher = crate::server::password_hasher(config).map_err(|e| e.to_string())?;
            let account = NewAccount {
                first_name,
                last_name,
                is_superuser: superuser,
                is_verified: verified,
                ..NewAccount::plain(valid_email, password.clone())
            };
            let user = with_store(config, |store| {
                let audit = actor("user create");
                accounts::create_user(store, &hasher, account, &audit, "cli", now)
            })?;
            println!("created user {} ({})", user.email, user.id);
            if generated {
                println!("password: {}", password.expose());
                println!("(shown once; change it after signing in)");
            }
            Ok(())
        }
        UserCommand::List => {
            let users = with_store(config, |store| store.list_users())?;
            println!(
                "{:<36}  {:<32}  {:<8}  {:<9}  superuser",
                "id", "email", "active", "verified"
            );
            for user in users {
                println!(
                    "{:<36}  {:<32}  {:<8}  {:<9}  {}",
                    user.id, user.email, user.is_active, user.is_verified, user.is_superuser
                );
            }
            Ok(())
        }
        UserCommand::SetPassword { email, .. } => {
            let password = read_password_stdin()?;
            let hasher = crate::server::password_hasher(config).map_err(|e| e.to_string())?;
            let hash = accounts::hash_password(&hasher, &password)
                .map_err(|err| Failure::from(err.to_string()))?;
            with_store(config, |store| {
                let user = find_user(store, &email)?;
                let changes = UserChanges {
                    password_hash: Some(hash),
                    ..UserChanges::default()
                };
                let audit = actor("user set-password");
                store.update_user(&user.id, &changes, RevokeSessions::All, &audit, now)
            })?;
            println!("password of {email} changed; their sessions were signed out");
            Ok(())
        }
        UserCommand::Deactivate { email } => set_active(config, &email, false, now),
        UserCommand::Activate { email } => set_active(config, &email, true, now),
    }
}

fn set_active(config: &Config, email: &str, active: bool, now: i64) -> Result<(), Failure> {
    with_store(config, |store| {
        let user = find_user(store, email)?;
        let changes = UserChanges {
            is_active: Some(active),
            ..UserChanges::default()
        };
        let audit = actor(if active {
            "user activate"
        } else {
            "user deactivate"
        });
        store.update_user(&user.id, &changes, RevokeSessions::None, &audit, now)
    })?;
    if active {
        println!("{email} is active again");
    } else {
        println!("{email} is deactivated; their sessions and API keys stopped working");
    }
    Ok(())
}

fn check_name_and_slug(name: &str, slug: Option<&str>) -> Result<(), Failure> {
    let chars = name.chars().count();
    if !(1..=slug::MAX_NAME_CHARS).contains(&chars) {
        return Err(format!(
            "the name must have 1 to {} characters",
            slug::MAX_NAME_CHARS
        )
        .into());
    }
    match slug {
        Some(slug) if !slug::is_valid(slug, slug::MAX_SLUG_CHARS) => Err(format!(
            "{slug:?} is not a valid slug: use lower-case letters, digits and single hyphens"
        )
        .into()),
        _ => Ok(()),
    }
}

fn find_project(store: &Store, slug: &str) -> Result<crate::store::Project, Error> {
    store
        .project_by_slug(slug)?
        .ok_or_else(|| Error::NotFound(format!("no project with slug {slug}")))
}

fn run_key(config: &Config, command: KeyCommand) -> Result<(), Failure> {
    let now = crate::clock::Clock::System.now_secs();
    match command {
        KeyCommand::Create {
            project,
            user,
            name,
            expires_in_days,
        } => {
            if !keys::name_is_valid(&name) {
                return Err(format!(
                    "the name must have 1 to {} characters",
                    keys::MAX_NAME_CHARS
                )
                .into());
            }
            let expiry = expires_in_days.map_or(keys::Expiry::Never, keys::Expiry::InDays);
            let created = with_store(config, |store| {
                let project = find_project(store, &project)?;
                let user = find_user(store, &user)?;
                let audit = actor("key create");
                keys::create_key(store, &project, &user, name, expiry, &audit, now)
            })?;
            // stdout carries the key alone, so `KEY=$(shipstar key create ...)` works.
            println!("{}", created.raw);
            Ok(())
        }
        KeyCommand::List { project } => {
            let keys = with_store(config, |store| {
                let project = find_project(store, &project)?;
                store.api_keys_of_project(&project.id)
            })?;
            println!(
                "{:<36}  {:<16}  {:<6}  {:<20}  name",
                "id", "key_prefix", "active", "expires_at"
            );
            for key in keys {
                let expires = key
                    .expires_at
                    .map(crate::clock::rfc3339)
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<36}  {:<16}  {:<6}  {:<20}  {}",
                    key.id, key.key_prefix, key.is_active, expires, key.name
                );
            }
            Ok(())
        }
        KeyCommand::Deactivate { id } => {
            let key = with_store(config, |store| {
                let changes = crate::store::ApiKeyChanges {
                    is_active: Some(false),
                    ..Default::default()
                };
                // A malformed id names no key, as an unknown one.
                let id = ApiKeyId::parse(&id)
                    .ok_or_else(|| Error::NotFound("API key not found".into()))?;
                store.update_api_key(&id, &changes, &actor("key deactivate"), now)
            })?;
            println!("deactivated key {} ({})", key.key_prefix, key.id);
            Ok(())
        }
    }
}

/// `shipstar backup PATH`. A destination the store refuses (it exists, is a symbolic link,
/// or its folder is missing) is a usage error, exit status 2, with the store's sentence
/// saying what to do; anything else is exit status 1.
fn backup(config: &Config, path: &std::path::Path) -> Result<(), Failure> {
    let store = open_existing_store(config)?;
    match store.backup_to(path) {
        Ok(()) => {
            println!("backup written to {}", path.display());
            Ok(())
        }
        Err(Error::Conflict(why) | Error::NotFound(why) | Error::UnsupportedMediaType(why)) => {
            Err(Failure::usage(why))
        }
        Err(err) => Err(err.to_string().into()),
    }
}

/// `shipstar copy --to DATABASE`: every row of the configured database into `to`, which must
/// be empty; prints [`copy_report`]. A target holding data is wrong input (exit 2) and is left
/// as it was; any other failure leaves it empty (the copy is one transaction).
fn copy(config: &Config, to: &str) -> Result<(), Failure> {
    if to.trim().is_empty() {
        return Err(Failure::usage(
            "--to needs a database: a SQLite file path or a postgres:// URL",
        ));
    }
    let source = open_existing_store(config)?;
    let target = Store::open_database(to, config.effective_database_pool_size())
        .map_err(|err| format!("cannot open the target: {}", err.0))?;
    match source.copy_into(&target) {
        Ok(copied) => {
            print!("{}", copy_report(&copied));
            Ok(())
        }
        Err(Error::Conflict(why)) => Err(Failure::usage(why)),
        Err(err) => Err(format!(
            "copying into {} failed, nothing was written: {err}",
            target.location()
        )
        .into()),
    }
}

/// What `shipstar copy` prints: one line per table in the copy's fixed order, the table's
/// name padded to 20 columns and its row count right-aligned in 10, then `total` the same way.
pub fn copy_report(copied: &CopiedRows) -> String {
    let mut out = String::new();
    for (table, rows) in &copied.tables {
        out.push_str(&format!("{table:<20}{rows:>10}\n"));
    }
    out.push_str(&format!("{:<20}{:>10}\n", "total", copied.total()));
    out
}

/// Events read from the store per query while listing.
const AUDIT_BATCH: i64 = 500;

/// `shipstar audit list`: every matching event, newest first, read in batches.
fn run_audit(config: &Config, command: AuditCommand) -> Result<(), Failure> {
    let AuditCommand::List {
        team,
        action,
        since,
        json,
    } = command;
    if let Some(bad) = action
        .iter()
        .find(|a| !crate::store::AuditAction::is_filter(a))
    {
        return Err(Failure::usage(format!(
            "--action {bad:?} is neither an audit action nor a prefix of one ending in '.' \
             (such as api_key.); see the README's list of actions"
        )));
    }
    let since = match since {
        None => None,
        Some(text) => Some(
            time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    Failure::usage(format!(
                        "--since {text:?} is not an RFC 3339 time; write e.g. 2026-01-31T00:00:00Z"
                    ))
                })?
                .unix_timestamp(),
        ),
    };
    let store = open_existing_store(config)?;
    let fail = |err: Error| Failure::from(err.to_string());
    let team_id = match team {
        None => None,
        Some(slug) => Some(
            store
                .team_by_slug(&slug)
                .map_err(fail)?
                .ok_or_else(|| Failure::usage(format!("no team with slug {slug}")))?
                .id
                .into_string(),
        ),
    };
    let filter = crate::store::AuditFilter {
        team_id,
        actions: action,
        since,
        ..Default::default()
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let mut offset = 0;
    // Listing while a server appends: the newest-first order shifts by what was added, so a
    // batch may repeat an event the previous one showed; ids seen are skipped.
    let mut seen = std::collections::HashSet::new();
    loop {
        let page = crate::store::Page {
            limit: AUDIT_BATCH,
            offset,
        };
        let batch = store.audit_events(&filter, page).map_err(fail)?;
        for event in &batch.events {
            if !seen.insert(event.id.clone()) {
                continue;
            }
            let line = if json {
                crate::audit::event_json(event).to_string()
            } else {
                audit_line(event)
            };
            // A closed pipe (`| head`) ends the listing quietly.
            if writeln!(out, "{line}").is_err() {
                return Ok(());
            }
        }
        if (batch.events.len() as i64) < AUDIT_BATCH {
            return Ok(());
        }
        offset += AUDIT_BATCH;
    }
}

/// One readable line: `TIME  ACTION  by ACTOR  on TARGET  [from IP]  DETAILS`, where an
/// actor or target is `type:label` (or `type:id` without a label).
fn audit_line(stored: &crate::store::AuditEvent) -> String {
    let event = &stored.event;
    let name = |kind: &str, id: Option<&str>, label: Option<&str>| match label.or(id) {
        Some(text) => format!("{kind}:{text}"),
        None => kind.to_owned(),
    };
    let actor = name(
        event.actor_kind.as_str(),
        event.actor_id.as_deref(),
        event.actor_label.as_deref(),
    );
    let target = event.target.as_ref().map_or_else(
        || "-".to_owned(),
        |t| name(&t.kind, t.id.as_deref(), t.label.as_deref()),
    );
    let from = event
        .ip
        .as_deref()
        .map(|ip| format!("  from {ip}"))
        .unwrap_or_default();
    let details = if event.details == "{}" {
        String::new()
    } else {
        format!("  {}", event.details)
    };
    format!(
        "{}  {:<29}  by {actor}  on {target}{from}{details}",
        timestamp(event.at),
        event.action.as_str(),
    )
}

/// The line `secret rotate` and `secret retire` refuse with while the configuration owns the
/// keys: it names both keys to edit instead.
fn configuration_owns_the_keys(command: &str) -> Failure {
    Failure::usage(format!(
        "jwt_secret is configured, so the configuration owns the signing keys and `secret \
         {command}` changes nothing: set a new jwt_secret and list the old one in \
         jwt_secret_fallbacks to rotate, remove it from jwt_secret_fallbacks to retire it, \
         then restart the server"
    ))
}

/// `shipstar secret rotate | retire | list` (auth.md, "Signing keys").
fn run_secret(config: &Config, command: SecretCommand) -> Result<(), Failure> {
    let store = open_existing_store(config)?;
    let fail = |err: Error| Failure::from(err.to_string());
    let now = crate::clock::Clock::System.now_secs();
    // The configuration owns the keys if this command's configuration sets jwt_secret, or if
    // the last server start recorded a configured key that signs (its configuration may not
    // be this command's).
    let keys = store.signing_keys().map_err(fail)?;
    let configured =
        config.jwt_secret.is_some() || keys.iter().any(|key| key.is_configured && key.is_current());
    match command {
        SecretCommand::List => {
            for key in &keys {
                println!("{}", key_line(key, configured));
            }
            Ok(())
        }
        SecretCommand::Rotate if configured => Err(configuration_owns_the_keys("rotate")),
        SecretCommand::Retire { .. } if configured => Err(configuration_owns_the_keys("retire")),
        SecretCommand::Rotate => {
            let first = keyring::generate(now);
            let audit = actor("secret rotate");
            let stored = store.ensure_signing_key(&first, &audit).map_err(fail)?;
            if stored.iter().any(|key| key.kid == first.kid) {
                println!(
                    "added signing key {} (the first); it signs from now on",
                    first.kid
                );
                return Ok(());
            }
            let key = keyring::generate(now);
            let superseded = store.rotate_signing_key(&key, &audit).map_err(fail)?;
            println!(
                "added signing key {}; it signs every token from now on, and {} verifies only \
                 the tokens it signed until now (`shipstar secret retire --kid {}` ends them at once)",
                key.kid,
                superseded.join(", "),
                superseded.join(" "),
            );
            Ok(())
        }
        SecretCommand::Retire { kid: Some(kid), .. } => {
            let audit = actor("secret retire");
            match store.retire_signing_key(&kid, &audit, now).map_err(fail)? {
                RetireOutcome::Retired => {
                    println!(
                        "retired signing key {kid}: every token it signed fails from the next \
                         request on (its users sign in again)"
                    );
                    Ok(())
                }
                RetireOutcome::AlreadyRetired => {
                    println!("signing key {kid} was already retired; nothing changed");
                    Ok(())
                }
                RetireOutcome::Unknown => Err(Failure::usage(format!(
                    "no signing key has kid {kid:?}; `shipstar secret list` shows the kids"
                ))),
                RetireOutcome::Current => Err(Failure::usage(format!(
                    "signing key {kid} signs new tokens and cannot be retired; run `shipstar \
                     secret rotate` first, then retire it"
                ))),
                RetireOutcome::Configured => Err(configuration_owns_the_keys("retire")),
            }
        }
        SecretCommand::Retire { .. } => {
            let audit = actor("secret retire");
            let retired = store
                .retire_superseded_signing_keys(&audit, now)
                .map_err(fail)?;
            if retired.is_empty() {
                println!("no signing key to retire: only the current one verifies tokens");
            } else {
                println!(
                    "retired signing keys {}: every token they signed fails from the next \
                     request on (their users sign in again)",
                    retired.join(", ")
                );
            }
            Ok(())
        }
    }
}

/// One line of `secret list`: `KID  created TIME  retired TIME|-  STATE`, where STATE is
/// `current` (signs), `older, verifies tokens issued until TIME`, `retired`, or `unused` (a
/// database key while the configuration owns the keys). Never the secret.
fn key_line(key: &StoredSigningKey, configured: bool) -> String {
    let retired = key.retired_at.map_or_else(|| "-".to_owned(), timestamp);
    let origin = if key.is_configured {
        " (configured)"
    } else {
        ""
    };
    let state = match (key.retired_at, key.superseded_at) {
        (Some(_), _) => "retired".to_owned(),
        _ if configured && !key.is_configured => "unused (jwt_secret is configured)".to_owned(),
        (None, None) => format!("current{origin}"),
        (None, Some(until)) => {
            format!(
                "older{origin}, verifies tokens issued until {}",
                timestamp(until)
            )
        }
    };
    format!(
        "{:<16}  created {}  retired {:<20}  {state}",
        key.kid,
        timestamp(key.created_at),
        retired
    )
}

/// RFC 3339 in UTC, to the second.
fn timestamp(unix_secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix_secs.to_string())
}
