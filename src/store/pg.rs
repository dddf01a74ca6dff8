//! The PostgreSQL backend's connections: where to connect, how many at most, and the schema
//! brought up to date once, under a database lock, whichever node starts first.

use super::db::{Connection, PgConnection};
use super::migrations;
use super::pg_target::PgTarget;

/// A PostgreSQL database to connect to, and the most connections this node may open.
pub(super) struct PgBackend {
    target: PgTarget,
    pool_size: usize,
}

impl PgBackend {
    /// Reads the URL; errors name what is wrong, never the password.
    pub(super) fn parse(url: &str, pool_size: usize) -> Result<PgBackend, String> {
        Ok(PgBackend {
            target: PgTarget::parse(url)?,
            pool_size: pool_size.max(1),
        })
    }

    /// The one warning to log at start when the connection may travel unencrypted to
    /// another machine.
    pub(super) fn plaintext_warning(&self) -> Option<String> {
        self.target.plaintext_warning()
    }

    /// The most connections open at once.
    pub(super) fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// The URL with its password masked, the only form printed or logged.
    pub(super) fn masked(&self) -> String {
        self.target.masked()
    }

    /// A new connection (giving up after the connect timeout, see `pg_target`); the error
    /// is a sentence without the password.
    pub(super) fn connect(&self) -> Result<Connection, String> {
        let client = self.target.connect()?;
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
