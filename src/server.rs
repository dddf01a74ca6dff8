//! Bringing the server up: open the database, set up signing keys and password hashing,
//! create the first administrator or print the setup link, bind, serve until a signal, then
//! shut down cleanly.

use crate::api::client_ip::ProxyRange;
use crate::api::{self, keyring::KeyRing, App};
use crate::auth::password::{HashParams, PasswordHasher};
use crate::auth::ratelimit::{Limits, RateLimiter};
use crate::clock::Clock;
use crate::config::{Config, LogFormat};
use crate::error::StartupError;
use crate::http::{HttpServer, ServerOptions};
use crate::logging::{self, Level};
use crate::store::{NewUser, Store};
use std::path::Path;
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
    logging::init(
        format,
        Level::parse(&config.log_level).unwrap_or(Level::Info),
    );
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
    Store::open(Path::new(&config.database))
}

/// Builds the application state: store, hasher, keys, and the first-start bootstrap.
pub fn build_app(config: Config, clock: Clock) -> Result<App, StartupError> {
    let store = open_store(&config)?;
    let hasher = password_hasher(&config)?;
    let now = clock.now_secs();
    let secret = config
        .jwt_secret
        .as_ref()
        .map(|s| s.expose().as_bytes().to_vec());
    let keys = KeyRing::open(&store, secret.as_deref(), now)?;
    let limits = Limits {
        public: config.rate_limit_public_per_minute,
        authenticated: config.rate_limit_auth_per_minute,
        login_ip: config.rate_limit_login_per_minute,
        login_email: config.rate_limit_login_email_per_minute,
        refresh: config.rate_limit_refresh_per_minute,
    };
    let limiter = RateLimiter::new(limits, config.rate_limit_max_entries);
    let trusted_proxies = config
        .trusted_proxies
        .iter()
        .map(|text| {
            ProxyRange::parse(text).ok_or_else(|| {
                StartupError(format!("trusted_proxies: {text:?} is not an IP or CIDR"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let public_reads = api::gate::Gate::new(config.effective_public_read_concurrency());
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
    };
    bootstrap_first_user(&app)?;
    Ok(app)
}

/// With no user yet: create the administrator from `SHIPSTAR_ADMIN_EMAIL`/`_PASSWORD` if
/// given, else arm a one-time setup token.
fn bootstrap_first_user(app: &App) -> Result<(), StartupError> {
    if app.store.count_users()? > 0 {
        return Ok(());
    }
    let admin = (&app.config.admin_email, &app.config.admin_password);
    if let (Some(email), Some(password)) = admin {
        if crate::auth::password::check_length(password.expose()).is_err() {
            return Err(StartupError(
                "admin_password must have 8 to 1024 characters".into(),
            ));
        }
        let hash = app
            .hasher
            .hash(password.expose())
            .map_err(|err| StartupError(err.0))?;
        let new = NewUser {
            email: email.trim().to_lowercase(),
            password_hash: hash,
            is_superuser: true,
            is_verified: true,
            ..NewUser::default()
        };
        let user = app.store.create_first_admin(&new, app.clock.now_secs())?;
        logging::event(
            Level::Info,
            &format!(
                "created the first administrator (user:{}) with team \"default\" and project \"default\"",
                user.id
            ),
        );
        return Ok(());
    }
    *app.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = Some(crate::ids::random_hex(24));
    Ok(())
}

/// Writes buffered API-key usage every [`api::usage::FLUSH_INTERVAL_MILLIS`] until shutdown.
fn spawn_usage_flusher(
    app: Arc<App>,
    shutdown: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, StartupError> {
    std::thread::Builder::new()
        .name("usage-flusher".into())
        .spawn(move || {
            while !shutdown.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(api::usage::FLUSH_INTERVAL_MILLIS));
                app.usage.flush(&app.store);
            }
        })
        .map_err(|err| StartupError(format!("cannot start the usage flusher: {err}")))
}

/// Runs `shipstar serve` until SIGINT/SIGTERM.
pub fn serve(config: Config) -> Result<(), StartupError> {
    init_logging(&config);
    let listen = config.listen.clone();
    let options = ServerOptions {
        workers: config.workers,
        max_body_bytes: config.max_body_bytes,
        client_timeout: Duration::from_secs(config.client_timeout_seconds),
        max_connections: config.max_connections,
    };
    let base_url = config.effective_base_url();
    let app = Arc::new(build_app(config, Clock::System)?);
    crate::http::raise_open_file_limit();
    let http = HttpServer::bind(&listen)
        .map_err(|err| StartupError(format!("cannot listen on {listen}: {err}")))?;
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&shutdown))
            .map_err(|err| StartupError(format!("cannot install signal handler: {err}")))?;
    }
    logging::event(
        Level::Info,
        &format!(
            "shipstar {} listening on http://{} (database {}, {} workers)",
            crate::VERSION,
            http.local_addr(),
            app.store.path().display(),
            options.workers
        ),
    );
    let setup_token = app
        .setup_token
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(token) = setup_token {
        // The one-time link is the way in on a fresh server, so it is printed on purpose.
        let base = if base_url.ends_with(":0") {
            format!("http://{}", http.local_addr())
        } else {
            base_url
        };
        logging::event(
            Level::Info,
            &format!("No users yet. Create the first administrator at: {base}/setup?token={token}"),
        );
    }
    let flusher = spawn_usage_flusher(Arc::clone(&app), Arc::clone(&shutdown))?;
    let handler_app = Arc::clone(&app);
    let handler: crate::http::Handler = Arc::new(move |req| api::handle(&handler_app, req));
    http.run(&options, handler, shutdown, SHUTDOWN_GRACE)
        .map_err(|err| StartupError(format!("cannot serve on {listen}: {err}")))?;
    let _ = flusher.join();
    app.usage.flush(&app.store);
    logging::event(
        Level::Info,
        "shutting down: requests finished, usage flushed, database closed",
    );
    logging::flush();
    Ok(())
}
