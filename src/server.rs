//! Bringing the server up: open the database, set up signing keys (recording configured
//! fallbacks' takeover moments) and password hashing, create the first administrator or print
//! the setup link, bind, serve until a signal, then shut down cleanly.

use crate::accounts::{self, FirstAdminVia, Password};
use crate::api::{self, App};
use crate::auth::password::{HashParams, PasswordHasher};
use crate::auth::ratelimit::{
    Class, Limits, RateLimiter, SharedBucket, SharedBuckets, SharedSpend, SYNC_INTERVAL_MILLIS,
};
use crate::client_ip::TrustedProxies;
use crate::clock::Clock;
use crate::config::{Config, LogFormat};
use crate::error::Error;
use crate::error::StartupError;
use crate::http::{HttpServer, ServerOptions};
use crate::keyring::{ConfiguredSecrets, KeyRing};
use crate::logging::{self, Level};
use crate::store::{Audit, BucketSpend, Store};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long requests in flight may take to finish after SIGINT/SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Starts logging as configured.
pub fn init_logging(config: &Config) {
    let format = match config.log_format {
        LogFormat::Text => logging::Format::Text,
        LogFormat::Json => logging::Format::Json,
    };
    logging::init(format, config.log_level);
}

/// The password hasher for `config`'s Argon2 parameters and thread bound.
pub fn password_hasher(config: &Config) -> Result<PasswordHasher, StartupError> {
    let params = HashParams {
        memory_kib: config.argon2_memory_kib,
        iterations: config.argon2_iterations,
        parallelism: config.argon2_parallelism,
    };
    PasswordHasher::new(params, config.hash_threads)
        .map_err(|err| StartupError(format!("argon2 parameters: {}", err.0)))
}

/// Opens the database named by `config`.
pub fn open_store(config: &Config) -> Result<Store, StartupError> {
    Store::open_database(
        config.database.expose(),
        config.effective_database_pool_size(),
    )
}

/// The nodes of one database share rate-limit buckets through its `rate_limit_buckets`
/// table (see [`crate::auth::ratelimit`] for what is exact and what is synchronized).
impl SharedBuckets for Store {
    fn spend(
        &self,
        class: Class,
        client_hash: &str,
        spend: SharedSpend,
    ) -> Result<SharedBucket, Error> {
        let spend = BucketSpend {
            now_millis: spend.now_millis,
            pending_millis: spend.pending_millis,
            cost_millis: spend.cost_millis,
            burst_millis: spend.burst_millis,
        };
        let bucket = self.spend_rate_bucket(class.name(), client_hash, &spend)?;
        Ok(SharedBucket {
            tat_millis: bucket.tat_millis,
            admitted: bucket.admitted,
        })
    }

    fn prune(&self, now_millis: i64) -> Result<usize, Error> {
        self.prune_rate_buckets(now_millis)
    }
}

/// Builds the application state: store, hasher, keys, and the first-start bootstrap.
pub fn build_app(config: Config, clock: Clock) -> Result<App, StartupError> {
    let store = Arc::new(open_store(&config)?);
    let hasher = password_hasher(&config)?;
    let now = clock.now_secs();
    let configured = config.jwt_secret.as_ref().map(|secret| ConfiguredSecrets {
        signing: secret.expose().as_bytes(),
        fallbacks: config
            .jwt_secret_fallbacks
            .iter()
            .map(|fallback| fallback.expose().as_bytes())
            .collect(),
    });
    let keys = KeyRing::open(&store, configured.as_ref(), now)?;
    let limits = Limits {
        public: config.rate_limit_public_per_minute,
        authenticated: config.rate_limit_auth_per_minute,
        login_ip: config.rate_limit_login_per_minute,
        login_email: config.rate_limit_login_email_per_minute,
        refresh: config.rate_limit_refresh_per_minute,
    };
    let mut limiter = RateLimiter::new(limits, config.rate_limit_max_entries);
    if store.is_postgres() {
        // Several nodes may serve this database: they share their buckets through it. One
        // node on a SQLite file keeps them in memory, as it always did.
        limiter = limiter.with_shared(Arc::clone(&store) as Arc<dyn SharedBuckets>);
    }
    let trusted_proxies = TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|err| StartupError(format!("trusted_proxies: {err}")))?;
    let public_reads = api::gate::Gate::new(config.effective_public_read_concurrency());
    let audit_retention = api::retention::AuditRetention::new(config.audit_retention_days);
    let app = App {
        config,
        store,
        hasher,
        clock,
        keys,
        setup_token: Mutex::new(None),
        usage: api::usage::UsageRecorder::default(),
        limiter,
        trusted_proxies,
        public_reads,
        feeds: api::feed_cache::FeedCache::default(),
        audit_retention,
    };
    bootstrap_first_user(&app)?;
    Ok(app)
}

/// With no user yet: create the administrator from `SHIPSTAR_ADMIN_EMAIL`/`_PASSWORD` if
/// given, else arm a one-time setup link. Nodes starting together on one empty database race
/// here: exactly one creates the administrator, and the others find it made (no user
/// created, or the email or team already taken by the winner) and start as well.
fn bootstrap_first_user(app: &App) -> Result<(), StartupError> {
    if app.store.count_users()? > 0 {
        return Ok(());
    }
    let admin = (&app.config.admin_email, &app.config.admin_password);
    if let (Some(email), Some(password)) = admin {
        let Ok(password) = Password::parse(password.expose()) else {
            return Err(StartupError(
                "admin_password must have 8 to 1024 characters".into(),
            ));
        };
        let audit = Audit::system("first start");
        let now = app.clock.now_secs();
        let created = accounts::create_first_admin(
            &app.store,
            &app.hasher,
            email.clone(),
            password,
            FirstAdminVia::Bootstrap,
            &audit,
            now,
        );
        match created {
            Ok(Some(user)) => logging::event(
                Level::Info,
                &format!(
                    "created the first administrator (user:{}) with team \"default\" and project \"default\"",
                    user.id
                ),
            ),
            Ok(None) => logging::event(
                Level::Info,
                "the first administrator was created by another node starting at the same time",
            ),
            // Another node's user took the email (or the team) between our check and insert.
            Err(err) if app.store.count_users()? > 0 => logging::event(
                Level::Info,
                &format!("the first administrator was created by another node ({err})"),
            ),
            Err(err) => return Err(err.into()),
        }
        return Ok(());
    }
    api::arm_setup_link(app)?;
    Ok(())
}

/// Prunes the audit log if due (see [`api::retention`]), logging what it did.
fn prune_audit_log(app: &App) {
    match app
        .audit_retention
        .prune_if_due(&app.store, app.clock.now_secs())
    {
        Ok(Some(pruned)) if pruned > 0 => logging::event(
            Level::Info,
            &format!(
                "pruned {pruned} audit events older than {} days",
                app.config.audit_retention_days
            ),
        ),
        Ok(_) => {}
        Err(err) => logging::event(
            Level::Warn,
            &format!("pruning the audit log failed (retried later): {err}"),
        ),
    }
}

/// Writes buffered API-key usage every [`api::usage::FLUSH_INTERVAL_MILLIS`] until shutdown,
/// and prunes the audit log at start and then hourly (off every request's path).
fn spawn_usage_flusher(
    app: Arc<App>,
    shutdown: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, StartupError> {
    std::thread::Builder::new()
        .name("usage-flusher".into())
        .spawn(move || {
            prune_audit_log(&app);
            while !shutdown.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(api::usage::FLUSH_INTERVAL_MILLIS));
                app.usage.flush(&app.store, app.clock.now_secs());
                prune_audit_log(&app);
            }
        })
        .map_err(|err| StartupError(format!("cannot start the usage flusher: {err}")))
}

/// With buckets shared between nodes: every [`SYNC_INTERVAL_MILLIS`] until shutdown, adds
/// what this node admitted to them and reads them back ([`RateLimiter::sync`]). A failure
/// (the database away) is logged once until a sync succeeds again.
fn spawn_rate_limit_sync(
    app: Arc<App>,
    shutdown: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, StartupError> {
    std::thread::Builder::new()
        .name("rate-limit-sync".into())
        .spawn(move || {
            let mut failing = false;
            while !shutdown.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(SYNC_INTERVAL_MILLIS));
                match app.limiter.sync(app.clock.now_millis()) {
                    Ok(()) => failing = false,
                    Err(err) if !failing => {
                        failing = true;
                        logging::event(
                            Level::Warn,
                            &format!("sharing rate limits failed (retried): {err}"),
                        );
                    }
                    Err(_) => {}
                }
            }
        })
        .map_err(|err| StartupError(format!("cannot start the rate-limit sync: {err}")))
}

/// The one line `serve` prints on stdout once it is ready:
/// `{"url": "http://127.0.0.1:PORT", "database": "...", "pid": N}`. The URL is one a client
/// on this machine can connect to (an unspecified listen address becomes loopback); the
/// database path is absolute.
pub fn ready_line(bound: SocketAddr, database: &str) -> String {
    let host = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}", SocketAddr::new(host, bound.port()));
    // A file path is made absolute; a PostgreSQL URL (already masked) is printed as it is.
    let database = if crate::database_url::is_postgres_url(database) {
        database.to_owned()
    } else {
        std::path::absolute(database).map_or_else(
            |_| database.to_owned(),
            |path| path.to_string_lossy().into_owned(),
        )
    };
    // Spelt out rather than serialized so the spacing is exactly the documented one.
    format!(
        "{{\"url\": {}, \"database\": {}, \"pid\": {}}}",
        serde_json::Value::from(url),
        serde_json::Value::from(database),
        std::process::id()
    )
}

/// Prints [`ready_line`] and flushes it, so a test harness reading a pipe sees it at once.
fn print_ready_line(bound: SocketAddr, database: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (the harness stopped reading) must not stop the server.
    let _ = writeln!(stdout, "{}", ready_line(bound, database));
    let _ = stdout.flush();
}

/// Runs `shipstar serve` until SIGINT/SIGTERM. Once it accepts connections it prints one
/// line on stdout ([`ready_line`]); everything else goes to the log on stderr.
pub fn serve(mut config: Config) -> Result<(), StartupError> {
    init_logging(&config);
    let listen = config.listen.clone();
    // Bound before the app is built so that with port 0 the real port is known to every
    // link the server makes (`base_url` derives from `listen`) and to its log lines.
    crate::http::raise_open_file_limit();
    let http = HttpServer::bind(&listen)
        .map_err(|err| StartupError(format!("cannot listen on {listen}: {err}")))?;
    let bound = http.local_addr();
    config.listen = bound.to_string();
    let base_url = config.effective_base_url();
    let app = Arc::new(build_app(config, Clock::System)?);
    let options = ServerOptions {
        workers: app.config.workers,
        max_body_bytes: app.config.max_body_bytes,
        client_timeout: Duration::from_secs(app.config.client_timeout_seconds),
        max_connections: app.config.max_connections,
        max_connections_per_ip: app.config.max_connections_per_ip,
        // The same parsed list the handlers use: a proxy exempt from the per-address cap is
        // exactly one whose X-Forwarded-For is believed.
        trusted_proxies: app.trusted_proxies.clone(),
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&shutdown))
            .map_err(|err| StartupError(format!("cannot install signal handler: {err}")))?;
    }
    if let Some(warning) = app.store.plaintext_warning() {
        logging::event(Level::Warn, &warning);
    }
    logging::event(
        Level::Info,
        &format!(
            "shipstar {} listening on http://{} (database {}, {} workers)",
            crate::VERSION,
            http.local_addr(),
            app.store.location(),
            options.workers
        ),
    );
    let setup_token = app
        .setup_token
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(token) = setup_token {
        // The one-time link is the way in on a fresh server, so it is printed on purpose
        // (to the log on stderr: stdout carries the ready line alone).
        logging::event(
            Level::Info,
            &format!(
                "No users yet. Create the first administrator at: {base_url}/setup?token={token}"
            ),
        );
    }
    let flusher = spawn_usage_flusher(Arc::clone(&app), Arc::clone(&shutdown))?;
    let rate_sync = if app.store.is_postgres() {
        Some(spawn_rate_limit_sync(
            Arc::clone(&app),
            Arc::clone(&shutdown),
        )?)
    } else {
        None
    };
    let handler_app = Arc::clone(&app);
    let service = crate::http::Service {
        classify: if app.store.is_postgres() {
            api::dispatch_remote_store
        } else {
            api::dispatch
        },
        handler: Arc::new(move |req| api::handle(&handler_app, req)),
    };
    print_ready_line(bound, &app.store.location());
    http.run(&options, service, shutdown, SHUTDOWN_GRACE)
        .map_err(|err| StartupError(format!("cannot serve on {listen}: {err}")))?;
    let _ = flusher.join();
    if let Some(rate_sync) = rate_sync {
        let _ = rate_sync.join();
        let _ = app.limiter.sync(app.clock.now_millis());
    }
    app.usage.flush(&app.store, app.clock.now_secs());
    // This node's setup link (if still armed) ends with it.
    if let Err(err) = api::disarm_setup_link(&app) {
        logging::event(
            Level::Warn,
            &format!("could not remove this node's setup link: {err}"),
        );
    }
    logging::event(
        Level::Info,
        "shutting down: requests finished, usage flushed, database closed",
    );
    logging::flush();
    Ok(())
}
