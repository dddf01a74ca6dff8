//! Where the PostgreSQL database is and how to reach it safely: the database URL, parsed once.
//!
//! The URL has libpq's form, so an operator can paste what `psql` takes:
//!
//! ```text
//! postgres://user:password@host:port/dbname?sslmode=verify-full&sslrootcert=/etc/ca.pem
//! ```
//!
//! `postgresql://` works too; user, password and database name are percent-decoded (a password
//! holding `@`, `:` or `/` must be written `%40`, `%3A`, `%2F`, as for libpq); the port
//! defaults to 5432 and the database name to the user name. Three parameters are read:
//! `sslmode`, `sslrootcert` and `connect_timeout`; any other is refused by name, so a typo never
//! silently weakens the connection.
//!
//! # TLS modes
//!
//! `sslmode` keeps libpq's meanings. The `postgres` driver knows only "no TLS", "TLS if
//! offered" and "TLS required", and leaves certificate checks to the TLS connector, so the
//! checks of each mode are decided here ([`CertCheck`]) and enforced by a rustls verifier:
//!
//! | `sslmode` | encryption | certificate checks |
//! |---|---|---|
//! | `disable` | never | none |
//! | `prefer` (default) | when the server offers it, else plain | none |
//! | `require` | always | none; with `sslrootcert`: the chain, as `verify-ca` (libpq does the same) |
//! | `verify-ca` | always | the chain up to `sslrootcert` (or, without it, the system's trust store) |
//! | `verify-full` | always | the chain, and the host name (or IP address) against the certificate |
//!
//! `sslrootcert=system` (libpq 16's spelling) names the system's trust store explicitly and, as
//! in libpq, makes `verify-full` the default and refuses weaker modes.
//!
//! # Secrets
//!
//! The password is kept in a field whose `Debug` prints `***`. [`PgTarget::masked`] is the one
//! printable form of the URL; every error this module returns has the password scrubbed out,
//! even if a lower layer were to echo it.
//!
//! Must not import `http`, `auth` or `api`; the sockets are the driver's.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The port used when the URL names none (PostgreSQL's default).
pub const DEFAULT_PORT: u16 = 5432;
/// How long [`PgTarget::connect`] waits for a connection when the URL sets no
/// `connect_timeout`: libpq waits forever, but a server must not hang on a dead address.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;
/// How long sent data may stay unacknowledged before a connection counts as dead.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle time before the first keepalive probe.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
/// What the connection reports as `application_name` (visible in `pg_stat_activity`).
const APPLICATION_NAME: &str = "shipstar";

/// libpq's `sslmode`: whether the connection is encrypted and what of the server's certificate
/// is checked (see the module docs for the table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server offers TLS, else connect in the clear; no certificate checks.
    Prefer,
    /// Always encrypt; check the certificate only when `sslrootcert` is given (then as
    /// [`SslMode::VerifyCa`]).
    Require,
    /// Always encrypt; the certificate must chain to a trusted root.
    VerifyCa,
    /// Always encrypt; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

impl SslMode {
    /// Every mode, in increasing strength.
    pub const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// The mode libpq spells `name`, if any.
    pub fn parse(name: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|mode| mode.as_str() == name)
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the connection may run unencrypted.
    pub fn allows_plaintext(self) -> bool {
        matches!(self, SslMode::Disable | SslMode::Prefer)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the trusted roots for certificate checks come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file of one or more CA certificates (`sslrootcert=PATH`).
    File(PathBuf),
    /// The operating system's trust store (`sslrootcert=system`, or no `sslrootcert` with
    /// `verify-ca`/`verify-full`).
    System,
}

/// What of the server's certificate a connection checks, decided from `sslmode` and
/// `sslrootcert` as libpq decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertCheck {
    /// No TLS at all (`disable`).
    NoTls,
    /// TLS without any certificate check: protects against eavesdropping, not against an
    /// active impostor (`prefer`, `require` without `sslrootcert`).
    EncryptOnly,
    /// The chain up to these roots, whatever name the certificate carries (`verify-ca`,
    /// `require` with `sslrootcert`).
    Chain(RootCerts),
    /// The chain up to these roots and the host name or address (`verify-full`).
    ChainAndName(RootCerts),
}

/// A parsed PostgreSQL database URL: where to connect, as whom, and how strictly to check the
/// server. The password never leaves it except to the driver: `Debug` and
/// [`PgTarget::masked`] print `***` in its place.
#[derive(Clone)]
pub struct PgTarget {
    host: String,
    port: u16,
    user: String,
    password: Option<Password>,
    dbname: String,
    ssl_mode: SslMode,
    root_certs: Option<RootCerts>,
    connect_timeout: Option<Duration>,
    /// The URL as given, with the password (if any) replaced by `***`.
    masked: String,
}

/// The password, out of reach of `Debug`: decoded (for the driver) and as written in the URL
/// (so that spelling is scrubbed from errors too).
#[derive(Clone, PartialEq, Eq)]
struct Password {
    decoded: String,
    written: String,
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("dbname", &self.dbname)
            .field("ssl_mode", &self.ssl_mode)
            .field("root_certs", &self.root_certs)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl PgTarget {
    /// Parses a libpq-style URL (see the module docs). The error is a sentence for the
    /// operator that names the bad part and never contains the password.
    pub fn parse(url: &str) -> Result<PgTarget, String> {
        let rest = scheme_rest(url).ok_or_else(|| {
            "the database URL must start with postgres:// or postgresql://".to_owned()
        })?;

        // As libpq: user information is whatever precedes the first `@` met before a `/`.
        let (userinfo, after_userinfo) = match rest.find(['@', '/']) {
            Some(at) if rest.as_bytes()[at] == b'@' => (Some(&rest[..at]), &rest[at + 1..]),
            _ => (None, rest),
        };
        // The one printing rule of a database value, shared with the configuration listing
        // (which must show a URL that does not parse, too).
        let masked = crate::database_url::masked(url);
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                None => (Some(decode(info, "user name")?), None),
                Some((user, password)) => {
                    let decoded = decode(password, "password").map_err(|_| {
                        "the password in the database URL has an invalid percent escape or is \
                         not UTF-8 (write a literal % as %25)"
                            .to_owned()
                    })?;
                    let password = Password {
                        decoded,
                        written: password.to_owned(),
                    };
                    (Some(decode(user, "user name")?), Some(password))
                }
            },
        };

        let host_end = after_userinfo
            .find(['/', '?'])
            .unwrap_or(after_userinfo.len());
        let (host, port) = parse_host_port(&after_userinfo[..host_end])?;
        let after_host = &after_userinfo[host_end..];
        let (path, query) = match after_host.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (after_host, None),
        };
        let dbname = match path.strip_prefix('/') {
            Some(name) if !name.is_empty() => Some(decode(name, "database name")?),
            _ => None,
        };

        let user = match user {
            Some(user) if !user.is_empty() => user,
            _ => return Err("the database URL names no user (postgres://USER@host/dbname)".into()),
        };
        let mut ssl_mode = None;
        let mut root_certs = None;
        let mut connect_timeout = Some(Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS));
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                format!("the database URL parameter `{pair}` has no value (write {pair}=VALUE)")
            })?;
            let key = decode(key, "parameter name")?;
            match key.as_str() {
                "sslmode" => {
                    let value = decode(value, "sslmode")?;
                    ssl_mode = Some(SslMode::parse(&value).ok_or_else(|| {
                        format!(
                            "unknown sslmode `{value}` in the database URL (one of disable, \
                             prefer, require, verify-ca, verify-full)"
                        )
                    })?);
                }
                "sslrootcert" => {
                    let value = decode(value, "sslrootcert")?;
                    if value.is_empty() {
                        return Err("sslrootcert in the database URL is empty".into());
                    }
                    root_certs = Some(if value == "system" {
                        RootCerts::System
                    } else {
                        RootCerts::File(PathBuf::from(value))
                    });
                }
                "connect_timeout" => {
                    let value = decode(value, "connect_timeout")?;
                    let secs: u64 = value.parse().map_err(|_| {
                        format!(
                            "connect_timeout `{value}` in the database URL is not a whole \
                             number of seconds"
                        )
                    })?;
                    // libpq: zero waits forever.
                    connect_timeout = (secs > 0).then(|| Duration::from_secs(secs));
                }
                other => {
                    return Err(format!(
                        "unknown parameter `{other}` in the database URL (shipstar reads \
                         sslmode, sslrootcert and connect_timeout; a password goes in the user \
                         part: postgres://user:password@host/dbname)"
                    ))
                }
            }
        }
        let ssl_mode = match (ssl_mode, &root_certs) {
            // libpq 16: sslrootcert=system means "check like a browser": verify-full or nothing.
            (None, Some(RootCerts::System)) => SslMode::VerifyFull,
            (Some(mode), Some(RootCerts::System)) if mode != SslMode::VerifyFull => {
                return Err(format!(
                    "sslmode={mode} cannot be used with sslrootcert=system (use verify-full)"
                ))
            }
            (mode, _) => mode.unwrap_or(SslMode::Prefer),
        };
        let dbname = dbname.unwrap_or_else(|| user.clone());
        Ok(PgTarget {
            host,
            port,
            user,
            password,
            dbname,
            ssl_mode,
            root_certs,
            connect_timeout,
            masked,
        })
    }

    /// The URL as given with the password replaced by `***`: the only form of it ever logged
    /// or printed.
    pub fn masked(&self) -> String {
        self.masked.clone()
    }

    /// One warning sentence when the connection may run unencrypted to another machine: the
    /// host is not loopback and `sslmode` is `disable` or `prefer`. `None` otherwise.
    pub fn plaintext_warning(&self) -> Option<String> {
        if self.is_loopback() || !self.ssl_mode.allows_plaintext() {
            return None;
        }
        let how = match self.ssl_mode {
            SslMode::Disable => "never encrypts",
            _ => "does not insist on encryption or check the server's certificate",
        };
        Some(format!(
            "the database at {} is on another machine and sslmode={} {how}: passwords, \
             credentials and content can be read or altered on the network; use \
             sslmode=verify-full (with sslrootcert=PATH for a private CA)",
            self.host, self.ssl_mode
        ))
    }

    /// Host name or address (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The role to log in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The `sslmode` in force (`prefer` when the URL sets none).
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// Whether the host is this machine: `localhost` or a loopback address.
    pub fn is_loopback(&self) -> bool {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => self.host.eq_ignore_ascii_case("localhost"),
        }
    }

    /// What of the server's certificate a connection checks, as libpq decides it.
    pub fn cert_check(&self) -> CertCheck {
        let roots = || self.root_certs.clone().unwrap_or(RootCerts::System);
        match self.ssl_mode {
            SslMode::Disable => CertCheck::NoTls,
            SslMode::Prefer => CertCheck::EncryptOnly,
            SslMode::Require => match &self.root_certs {
                Some(roots) => CertCheck::Chain(roots.clone()),
                None => CertCheck::EncryptOnly,
            },
            SslMode::VerifyCa => CertCheck::Chain(roots()),
            SslMode::VerifyFull => CertCheck::ChainAndName(roots()),
        }
    }

    /// Opens one connection, with TLS and certificate checks as `sslmode` says (rustls on the
    /// `ring` provider). The error names the masked URL and the cause (refused, TLS handshake,
    /// authentication, ...) and never contains the password.
    pub fn connect(&self) -> Result<postgres::Client, String> {
        let mut config = postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(APPLICATION_NAME);
        if let Some(password) = &self.password {
            config.password(&password.decoded);
        }
        if let Some(timeout) = self.connect_timeout {
            config.connect_timeout(timeout);
        }
        // Sent data unacknowledged this long means the connection is dead, so a statement to
        // a database host that vanished fails instead of hanging; keepalives find idle
        // connections to it dead after 30 s rather than the system's 2 hours.
        config
            .tcp_user_timeout(TCP_USER_TIMEOUT)
            .keepalives_idle(KEEPALIVES_IDLE);
        let connected = match self.cert_check() {
            CertCheck::NoTls => config
                .ssl_mode(postgres::config::SslMode::Disable)
                .connect(postgres::NoTls),
            check => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(
                    self.tls_config(&check).map_err(|err| self.scrub(err))?,
                );
                let mode = if self.ssl_mode == SslMode::Prefer {
                    postgres::config::SslMode::Prefer
                } else {
                    postgres::config::SslMode::Require
                };
                config.ssl_mode(mode).connect(tls)
            }
        };
        connected.map_err(|err| {
            self.scrub(format!(
                "cannot connect to the database {} (sslmode={}): {}",
                self.masked,
                self.ssl_mode,
                error_chain(&err)
            ))
        })
    }

    /// The rustls client configuration enforcing `check` (never called for [`CertCheck::NoTls`]).
    fn tls_config(&self, check: &CertCheck) -> Result<ClientConfig, String> {
        // rustls 0.23.48 deprecates the ring provider because it has no post-quantum key
        // exchange (that needs aws-lc, a C build that would complicate the static binary).
        // The classical groups it offers (X25519, P-256, P-384) are what PostgreSQL servers
        // built on OpenSSL negotiate, so ring loses nothing against them today.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let verifier = match check {
            CertCheck::NoTls | CertCheck::EncryptOnly => ServerCheck {
                roots: None,
                check_name: false,
                algorithms,
            },
            CertCheck::Chain(roots) | CertCheck::ChainAndName(roots) => ServerCheck {
                roots: Some(Arc::new(load_roots(roots)?)),
                check_name: matches!(check, CertCheck::ChainAndName(_)),
                algorithms,
            },
        };
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| format!("cannot set up TLS: {err}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    }

    /// `text` with every spelling of the password (as decoded, as written in the URL) replaced
    /// by `***`: a guarantee that holds whatever a lower layer put in its message.
    fn scrub(&self, text: String) -> String {
        let Some(password) = &self.password else {
            return text;
        };
        let mut text = text;
        for spelling in [
            &password.decoded,
            &password.written,
            &percent_encode(&password.decoded),
        ] {
            if !spelling.is_empty() {
                text = text.replace(spelling.as_str(), "***");
            }
        }
        text
    }
}

/// The part after `postgres://` or `postgresql://`, if `url` starts with either.
fn scheme_rest(url: &str) -> Option<&str> {
    url.strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| {
            "the database URL has an IPv6 address without its closing `]`".to_owned()
        })?;
        match after {
            "" => (host.to_owned(), None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host.to_owned(), Some(port)),
                None => {
                    return Err(format!(
                        "unexpected `{after}` after the IPv6 address in the database URL"
                    ))
                }
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (decode(host, "host")?, Some(port)),
            None => (decode(hostport, "host")?, None),
        }
    };
    if host.is_empty() {
        return Err(
            "the database URL names no host (postgres://user@HOST/dbname; Unix sockets are \
             not supported)"
                .into(),
        );
    }
    if host.contains(',') {
        return Err("the database URL names several hosts; give exactly one".into());
    }
    if host.starts_with('/') {
        return Err("Unix-socket database hosts are not supported; give a TCP host".into());
    }
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                return Err(format!(
                    "port `{text}` in the database URL is not a number from 1 to 65535"
                ))
            }
        },
    };
    Ok((host, port))
}

/// Percent-decodes one part of the URL (`what` names it in the error, never its text, since
/// the password goes through here too).
fn decode(text: &str, what: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| {
                    format!("the {what} in the database URL has an invalid percent escape")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| format!("the {what} in the database URL is not UTF-8 once decoded"))
}

/// Percent-encodes every byte outside RFC 3986's unreserved set (the form a password takes in
/// a URL when it needs escaping), so [`PgTarget::scrub`] catches that spelling too.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An error with its causes, `: `-joined (the driver puts the useful part in the source).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}

/// The trusted roots for `roots`: the certificates of a PEM file, or the system's store.
fn load_roots(roots: &RootCerts) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCerts::File(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|err| format!("cannot read sslrootcert {shown}: {err}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| {
                    format!("sslrootcert {shown} is not a PEM certificate file: {err}")
                })?;
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|err| format!("sslrootcert {shown} holds a bad certificate: {err}"))?;
            }
            if store.is_empty() {
                return Err(format!("sslrootcert {shown} holds no certificate"));
            }
        }
        RootCerts::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(
                    "no trusted root certificates found in the system's trust store; give \
                     the server's CA as sslrootcert=PATH in the database URL"
                        .into(),
                );
            }
        }
    }
    Ok(store)
}

/// The rustls verifier behind every TLS mode: no checks, the chain only, or chain and name.
/// The handshake signatures are verified in every case, so even `require` talks to the holder
/// of the certificate's key.
#[derive(Debug)]
struct ServerCheck {
    /// `None`: accept any certificate (encrypt-only modes).
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
            if self.check_name {
                verify_server_name(&cert, server_name)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-P@ss:w/rd%";
    const SECRET_IN_URL: &str = "s3cr3t-P%40ss%3Aw%2Frd%25";

    fn parse(url: &str) -> PgTarget {
        PgTarget::parse(url).unwrap_or_else(|err| panic!("{url}: {err}"))
    }

    fn parse_err(url: &str) -> String {
        match PgTarget::parse(url) {
            Ok(target) => panic!("{url} parsed as {target:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn full_url_is_parsed_into_its_parts() {
        let target = parse(&format!(
            "postgres://shipstar:{SECRET_IN_URL}@db.example.com:6543/ship%20star?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=3"
        ));
        assert_eq!(target.host(), "db.example.com");
        assert_eq!(target.port(), 6543);
        assert_eq!(target.user(), "shipstar");
        assert_eq!(target.dbname(), "ship star");
        assert_eq!(target.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(
            target.password.as_ref().map(|p| p.decoded.as_str()),
            Some(SECRET)
        );
        assert_eq!(
            target.cert_check(),
            CertCheck::ChainAndName(RootCerts::File("/etc/ca.pem".into()))
        );
        assert_eq!(target.connect_timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn defaults_are_port_5432_dbname_user_and_sslmode_prefer() {
        let target = parse("postgresql://alice@db.internal");
        assert_eq!(target.port(), DEFAULT_PORT);
        assert_eq!(target.dbname(), "alice");
        assert_eq!(target.ssl_mode(), SslMode::Prefer);
        assert!(target.password.is_none());
        assert_eq!(
            target.connect_timeout,
            Some(Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS))
        );
        assert_eq!(parse("postgres://alice@h/").dbname(), "alice");
        assert_eq!(parse("postgres://alice@h:/?").port(), DEFAULT_PORT);
    }

    #[test]
    fn both_schemes_and_nothing_else_select_postgres() {
        use crate::database_url::is_postgres_url;
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("/var/lib/shipstar/shipstar.db"));
        assert!(!is_postgres_url("shipstar.db"));
        assert!(!is_postgres_url("postgres:/u@h/db"));
        assert!(!is_postgres_url("mysql://u@h/db"));
        assert!(parse_err("mysql://u@h/db").contains("postgres://"));
    }

    #[test]
    fn ipv6_hosts_are_written_in_brackets() {
        let target = parse("postgres://u@[::1]:5433/db");
        assert_eq!(target.host(), "::1");
        assert_eq!(target.port(), 5433);
        assert!(target.is_loopback());
        assert_eq!(parse("postgres://u@[2001:db8::7]/db").host(), "2001:db8::7");
        assert!(parse_err("postgres://u@[::1/db").contains("`]`"));
        assert!(parse_err("postgres://u@[::1]x/db").contains("`x`"));
    }

    #[test]
    fn each_sslmode_keeps_libpqs_meaning() {
        let check = |query: &str| parse(&format!("postgres://u@h/db?{query}")).cert_check();
        let file = || RootCerts::File("/ca.pem".into());
        assert_eq!(check("sslmode=disable"), CertCheck::NoTls);
        assert_eq!(check(""), CertCheck::EncryptOnly);
        assert_eq!(check("sslmode=prefer"), CertCheck::EncryptOnly);
        assert_eq!(check("sslmode=require"), CertCheck::EncryptOnly);
        // libpq: require with a root certificate checks the chain, as verify-ca.
        assert_eq!(
            check("sslmode=require&sslrootcert=/ca.pem"),
            CertCheck::Chain(file())
        );
        assert_eq!(
            check("sslmode=verify-ca"),
            CertCheck::Chain(RootCerts::System)
        );
        assert_eq!(
            check("sslmode=verify-ca&sslrootcert=/ca.pem"),
            CertCheck::Chain(file())
        );
        assert_eq!(
            check("sslmode=verify-full"),
            CertCheck::ChainAndName(RootCerts::System)
        );
        assert_eq!(
            check("sslrootcert=/ca.pem&sslmode=verify-full"),
            CertCheck::ChainAndName(file())
        );
        for mode in SslMode::ALL {
            assert_eq!(SslMode::parse(mode.as_str()), Some(mode));
        }
    }

    #[test]
    fn sslrootcert_system_means_verify_full_and_refuses_weaker_modes() {
        let target = parse("postgres://u@h/db?sslrootcert=system");
        assert_eq!(target.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(
            target.cert_check(),
            CertCheck::ChainAndName(RootCerts::System)
        );
        let err = parse_err("postgres://u@h/db?sslrootcert=system&sslmode=require");
        assert!(
            err.contains("sslmode=require") && err.contains("verify-full"),
            "{err}"
        );
    }

    #[test]
    fn unknown_mode_or_parameter_is_an_error_naming_it() {
        let err = parse_err("postgres://u@h/db?sslmode=verify_full");
        assert!(err.contains("unknown sslmode `verify_full`"), "{err}");
        assert!(err.contains("verify-full"), "{err}");
        let err = parse_err("postgres://u@h/db?sslmode=require&sslcert=/c.pem");
        assert!(err.contains("unknown parameter `sslcert`"), "{err}");
        let err = parse_err("postgres://u@h/db?sslmode");
        assert!(err.contains("`sslmode` has no value"), "{err}");
        assert!(parse_err("postgres://u@h/db?connect_timeout=soon").contains("`soon`"));
        assert!(parse_err("postgres://u@h/db?sslrootcert=").contains("empty"));
    }

    #[test]
    fn missing_or_bad_parts_are_errors() {
        assert!(parse_err("postgres://h/db").contains("no user"));
        assert!(parse_err("postgres://:pw@h/db").contains("no user"));
        assert!(parse_err("postgres://u@/db").contains("no host"));
        assert!(parse_err("postgres://u@h1,h2/db").contains("several hosts"));
        assert!(parse_err("postgres://u@%2Ftmp/db").contains("Unix-socket"));
        assert!(parse_err("postgres://u@h:0/db").contains("`0`"));
        assert!(parse_err("postgres://u@h:70000/db").contains("`70000`"));
        assert!(parse_err("postgres://u@h:port/db").contains("`port`"));
        assert!(parse_err("postgres://u%zz@h/db").contains("user name"));
        assert!(parse_err("postgres://u@h/d%ff").contains("not UTF-8"));
    }

    #[test]
    fn the_masked_url_replaces_only_the_password() {
        let url = format!("postgres://shipstar:{SECRET_IN_URL}@db:5432/prod?sslmode=require");
        assert_eq!(
            parse(&url).masked(),
            "postgres://shipstar:***@db:5432/prod?sslmode=require"
        );
        // An empty password is masked too: whether there is one is not the reader's business.
        assert_eq!(
            parse("postgres://u:@h/db").masked(),
            "postgres://u:***@h/db"
        );
        assert_eq!(parse("postgres://u@h/db").masked(), "postgres://u@h/db");
        // A `?` or `:` inside the password is still the password (libpq reads to the `@`).
        let target = parse("postgres://u:a?b:c@h/db");
        assert_eq!(target.masked(), "postgres://u:***@h/db");
        assert_eq!(target.host(), "h");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let target = parse(&format!("postgres://u:{SECRET_IN_URL}@h/db"));
        let shown = format!("{target:?}");
        assert!(
            !shown.contains(SECRET) && !shown.contains(SECRET_IN_URL),
            "{shown}"
        );
        assert!(shown.contains("password: Some(***)"), "{shown}");
        assert!(shown.contains("\"h\""), "{shown}");
    }

    #[test]
    fn a_bad_escape_in_the_password_is_reported_without_the_password() {
        let err = parse_err("postgres://u:hunter2%zz@h/db");
        assert!(err.contains("password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn connect_errors_name_the_masked_url_and_never_the_password() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let target = parse(&format!(
            "postgres://u:{SECRET_IN_URL}@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"
        ));
        let err = match target.connect() {
            Ok(_) => panic!("connected to port 1"),
            Err(err) => err,
        };
        assert!(
            !err.contains(SECRET) && !err.contains(SECRET_IN_URL),
            "{err}"
        );
        assert!(err.contains("postgres://u:***@127.0.0.1:1/db"), "{err}");
        assert!(err.contains("sslmode=disable"), "{err}");
    }

    #[test]
    fn a_missing_root_file_is_an_error_before_any_connection() {
        let target = parse(
            "postgres://u:hunter2@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        );
        let err = target.connect().err().expect("no root file");
        assert!(
            err.contains("cannot read sslrootcert /nonexistent/ca.pem"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn scrub_removes_every_spelling_of_the_password() {
        let target = parse(&format!("postgres://u:{SECRET_IN_URL}@h/db"));
        let text = format!("a {SECRET} b {SECRET_IN_URL} c");
        assert_eq!(target.scrub(text), "a *** b *** c");
        let lower = parse("postgres://u:p%2fq@h/db");
        assert_eq!(lower.scrub("x p%2fq p/q p%2Fq".into()), "x *** *** ***");
    }

    #[test]
    fn plaintext_warning_only_for_a_remote_host_that_may_go_unencrypted() {
        let warning = |url: &str| parse(url).plaintext_warning();
        for local in ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "[::1]"] {
            for mode in SslMode::ALL {
                assert_eq!(
                    warning(&format!("postgres://u:pw@{local}/db?sslmode={mode}")),
                    None,
                    "{local} {mode}"
                );
            }
        }
        for mode in [SslMode::Disable, SslMode::Prefer] {
            let text = warning(&format!(
                "postgres://u:hunter2@db.example.com/db?sslmode={mode}"
            ))
            .expect("remote without TLS warns");
            assert!(text.contains("db.example.com"), "{text}");
            assert!(text.contains(&format!("sslmode={mode}")), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
            assert_eq!(text.lines().count(), 1, "{text}");
        }
        assert!(warning("postgres://u@db.example.com/db").is_some());
        for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            assert_eq!(
                warning(&format!("postgres://u@10.0.0.5/db?sslmode={mode}")),
                None
            );
        }
    }
}
