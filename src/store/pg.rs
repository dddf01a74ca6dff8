//! The PostgreSQL backend's connections: where to connect, how many at most, and the schema
//! brought up to date once, under a database lock, whichever node starts first.

use super::db::{Connection, PgConnection};
use super::migrations;
use std::time::Duration;

/// How long opening a connection may take when the URL does not say (`connect_timeout`): a
/// request never waits longer than this for a database that is away.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long sent data may stay unacknowledged before the connection counts as dead (when the
/// URL does not say), so a statement to a database host that vanished fails instead of
/// hanging; TCP keepalives find idle connections to it dead as well.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle time before the first keepalive probe.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);

/// A database URL that selects PostgreSQL.
pub(super) fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// A PostgreSQL database to connect to, and the most connections this node may open.
pub(super) struct PgBackend {
    url: String,
    /// The parsed URL with the timeouts set (boxed: it is large, and read once per connect).
    config: Box<postgres::Config>,
    pool_size: usize,
}

impl PgBackend {
    /// Reads the URL; errors name what is wrong, never the password.
    pub(super) fn parse(url: &str, pool_size: usize) -> Result<PgBackend, String> {
        let mut config = url
            .parse::<postgres::Config>()
            .map_err(|_| format!("database {}: not a valid PostgreSQL URL", mask(url)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        // Keepalives are on by default; probe an idle connection after 30 s, not 2 hours.
        config.keepalives_idle(KEEPALIVES_IDLE);
        Ok(PgBackend {
            url: url.to_owned(),
            config: Box::new(config),
            pool_size: pool_size.max(1),
        })
    }

    /// The most connections open at once.
    pub(super) fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// The URL with its password masked, the only form printed or logged.
    pub(super) fn masked(&self) -> String {
        mask(&self.url)
    }

    /// A new connection (giving up after the connect timeout); the error is a sentence
    /// without the password.
    pub(super) fn connect(&self) -> Result<Connection, String> {
        let client = self
            .config
            .connect(postgres::NoTls)
            .map_err(|err| format!("cannot connect to {}: {err}", self.masked()))?;
        Ok(Connection::Postgres(Box::new(PgConnection::new(client))))
    }

    /// The first connection, with the schema created or upgraded (under an advisory lock, so
    /// nodes starting together migrate once).
    pub(super) fn connect_and_migrate(&self) -> Result<Connection, String> {
        let conn = self.connect()?;
        migrations::bring_up_to_date_postgres(&conn)
            .map_err(|why| format!("database {}: {why}", self.masked()))?;
        Ok(conn)
    }
}

/// `url` with the password between `:` and `@` of its authority replaced by `***`.
fn mask(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_masked() {
        assert_eq!(
            mask("postgres://app:s3cret@db.example:5432/ship?sslmode=require"),
            "postgres://app:***@db.example:5432/ship?sslmode=require"
        );
        assert_eq!(mask("postgres://app@db/ship"), "postgres://app@db/ship");
        assert_eq!(mask("postgresql://db/ship"), "postgresql://db/ship");
    }
}
