//! TLS to PostgreSQL (contract: `scale-out.md`, "Choosing the backend"): each `sslmode`
//! checks what libpq's does, proven through [`PgTarget::connect`] against a throwaway cluster
//! with `ssl=on`, a certificate authority made here with `openssl`, and a server certificate
//! for `localhost` only.
//!
//! Whether a connection is encrypted is asked of the server (`pg_stat_ssl`), not inferred.

use crate::fixture::{postgres_base_url, PostgresCluster, NEEDS_POSTGRES};
use shipstar::store::pg_target::PgTarget;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The password of the role made for the password tests, with characters a URL must escape.
const PASSWORD: &str = "p@ss:w/rd%42?";
const PASSWORD_IN_URL: &str = "p%40ss%3Aw%2Frd%2542%3F";

/// A cluster serving TLS with a certificate for `localhost`, signed by `ca.crt`; `other-ca.crt`
/// is a second authority that signed nothing of it.
struct TlsCluster {
    cluster: PostgresCluster,
    tls: PathBuf,
    port: u16,
}

/// Runs `openssl` in `dir` with `command_line` (arguments separated by spaces, none holding one).
fn openssl(dir: &Path, command_line: &str) {
    let output = Command::new("openssl")
        .args(command_line.split_whitespace())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run openssl ({err}): run ./test, which installs it"));
    assert!(
        output.status.success(),
        "openssl {command_line} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A self-signed certificate authority: `NAME.key` and `NAME.crt` in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &format!(
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
             -subj /CN=shipstar-test-{name} -keyout {name}.key -out {name}.crt \
             -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
}

impl TlsCluster {
    fn start() -> TlsCluster {
        let dir = PostgresCluster::new_dir();
        let tls = dir.join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        make_ca(&tls, "ca");
        make_ca(&tls, "other-ca");
        openssl(
            &tls,
            "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
             -keyout server.key -out server.csr",
        );
        std::fs::write(
            tls.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            &tls,
            "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 2 \
             -extfile server.ext -out server.crt",
        );
        // PostgreSQL refuses a key others can read.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            tls.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        // The password role authenticates with SCRAM; everyone else is trusted (loopback only).
        std::fs::write(
            tls.join("pg_hba.conf"),
            "local all all trust\n\
             host all shipstar_pw 127.0.0.1/32 scram-sha-256\n\
             host all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let path = |name: &str| tls.join(name).display().to_string();
        let cluster = PostgresCluster::start(
            dir,
            &[
                "ssl=on".to_string(),
                format!("ssl_cert_file={}", path("server.crt")),
                format!("ssl_key_file={}", path("server.key")),
                format!("hba_file={}", path("pg_hba.conf")),
            ],
        );
        let port = PgTarget::parse(&cluster.url).unwrap().port();
        TlsCluster { cluster, tls, port }
    }

    /// A URL for `user` at `host` on this cluster with the query `query`.
    fn url(&self, user: &str, host: &str, query: &str) -> String {
        let query = query
            .replace("{ca}", &self.tls.join("ca.crt").display().to_string())
            .replace(
                "{other-ca}",
                &self.tls.join("other-ca.crt").display().to_string(),
            );
        format!("postgres://{user}@{host}:{}/postgres?{query}", self.port)
    }
}

/// Connects to `url` and answers whether the session is encrypted, as the server sees it.
fn connect(url: &str) -> Result<bool, String> {
    let mut client = PgTarget::parse(url)?.connect()?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .map_err(|err| err.to_string())?;
    Ok(row.get(0))
}

fn expect_encrypted(url: &str) {
    match connect(url) {
        Ok(true) => {}
        Ok(false) => panic!("{url}: connected without TLS"),
        Err(err) => panic!("{url}: {err}"),
    }
}

fn expect_refused(url: &str, because: &str) -> String {
    match connect(url) {
        Ok(ssl) => panic!("{url}: connected (ssl: {ssl}), expected a refusal ({because})"),
        Err(err) => {
            assert!(
                err.contains(because),
                "{url}: expected {because:?} in: {err}"
            );
            err
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL server binaries and openssl: run ./test"]
fn each_sslmode_checks_what_libpq_checks() {
    let server = TlsCluster::start();
    let url = |host: &str, query: &str| server.url("postgres", host, query);

    // verify-full: the chain to the given CA and the host name.
    expect_encrypted(&url("localhost", "sslmode=verify-full&sslrootcert={ca}"));
    expect_refused(
        &url("localhost", "sslmode=verify-full&sslrootcert={other-ca}"),
        "invalid peer certificate: UnknownIssuer",
    );
    // The certificate names localhost only, so 127.0.0.1 is not the server it vouches for.
    expect_refused(
        &url("127.0.0.1", "sslmode=verify-full&sslrootcert={ca}"),
        "invalid peer certificate: certificate not valid for name",
    );

    // verify-ca: the chain, whatever the name.
    expect_encrypted(&url("127.0.0.1", "sslmode=verify-ca&sslrootcert={ca}"));
    expect_refused(
        &url("127.0.0.1", "sslmode=verify-ca&sslrootcert={other-ca}"),
        "UnknownIssuer",
    );

    // require: encrypted without checks, unless a root is given (then as verify-ca).
    expect_encrypted(&url("127.0.0.1", "sslmode=require"));
    expect_encrypted(&url("127.0.0.1", "sslmode=require&sslrootcert={ca}"));
    expect_refused(
        &url("127.0.0.1", "sslmode=require&sslrootcert={other-ca}"),
        "UnknownIssuer",
    );

    // prefer (the default) takes the TLS the server offers; disable never encrypts.
    expect_encrypted(&url("127.0.0.1", "sslmode=prefer"));
    expect_encrypted(&url("127.0.0.1", ""));
    assert_eq!(connect(&url("127.0.0.1", "sslmode=disable")), Ok(false));
}

#[test]
#[ignore = "needs PostgreSQL server binaries and openssl: run ./test"]
fn a_password_travels_over_verified_tls_and_never_appears_in_an_error() {
    let server = TlsCluster::start();
    let mut admin = PgTarget::parse(&server.cluster.url)
        .unwrap()
        .connect()
        .unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE shipstar_pw LOGIN PASSWORD '{}'",
            PASSWORD.replace('\'', "''")
        ))
        .unwrap();

    let good = server.url(
        &format!("shipstar_pw:{PASSWORD_IN_URL}"),
        "localhost",
        "sslmode=verify-full&sslrootcert={ca}",
    );
    expect_encrypted(&good);

    let wrong_password = "not-the-p@ss";
    let bad = server.url(
        &format!("shipstar_pw:{}", "not-the-p%40ss"),
        "localhost",
        "sslmode=verify-full&sslrootcert={ca}",
    );
    let err = expect_refused(
        &bad,
        "password authentication failed for user \"shipstar_pw\"",
    );
    assert!(
        !err.contains(wrong_password) && !err.contains("not-the-p%40ss"),
        "{err}"
    );
    assert!(
        err.contains("postgres://shipstar_pw:***@localhost:"),
        "{err}"
    );

    // A refused certificate does not leak the (right) password either.
    let err = expect_refused(
        &server.url(
            &format!("shipstar_pw:{PASSWORD_IN_URL}"),
            "localhost",
            "sslmode=verify-full&sslrootcert={other-ca}",
        ),
        "UnknownIssuer",
    );
    assert!(
        !err.contains(PASSWORD) && !err.contains(PASSWORD_IN_URL),
        "{err}"
    );
    let shown = format!("{:?}", PgTarget::parse(&good).unwrap());
    assert!(
        !shown.contains(PASSWORD) && !shown.contains(PASSWORD_IN_URL),
        "{shown}"
    );
}

#[test]
#[ignore = "needs a PostgreSQL cluster: run ./test"]
fn against_a_server_without_tls_prefer_goes_plain_and_require_refuses() {
    let base = postgres_base_url().unwrap_or_else(|| panic!("{NEEDS_POSTGRES}"));
    let plain = PgTarget::parse(&base).unwrap();
    let url = |mode: &str| {
        format!(
            "postgres://{}@{}:{}/{}?sslmode={mode}",
            plain.user(),
            plain.host(),
            plain.port(),
            plain.dbname()
        )
    };
    // The test cluster (tests/postgres-cluster.sh) runs without ssl.
    assert_eq!(connect(&url("disable")), Ok(false));
    assert_eq!(connect(&url("prefer")), Ok(false));
    expect_refused(&url("require"), "server does not support TLS");
    expect_refused(&url("verify-full"), "server does not support TLS");
}
