//! Schema versions with `PRAGMA user_version`.
//!
//! A fresh file gets `schema.sql` (the full current schema) in one step. An older file gets
//! each pending entry of [`UPGRADES`] in order, each in its own transaction together with the
//! `user_version` bump, so a crash mid-upgrade leaves a file at a well-defined version. A file
//! whose version is newer than this build is refused before anything is written to it.

use rusqlite::Connection;

/// The full current schema, compiled into the binary.
pub const SCHEMA_SQL: &str = include_str!("../../schema.sql");

/// `UPGRADES[i]` turns a version `i + 1` file into version `i + 2`.
const UPGRADES: &[&str] = &[
    include_str!("upgrades/0002_content.sql"),
    include_str!("upgrades/0003_signing_keys.sql"),
    include_str!("upgrades/0004_content_version.sql"),
    include_str!("upgrades/0005_audit.sql"),
    include_str!("upgrades/0006_key_activity.sql"),
    include_str!("upgrades/0007_shared_state.sql"),
];

/// The version a fresh database gets and an older one is upgraded to.
pub const LATEST_VERSION: i64 = 1 + UPGRADES.len() as i64;

/// Creates or upgrades the schema; the error is a sentence for the operator.
pub fn bring_up_to_date(conn: &mut Connection) -> Result<(), String> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|err| err.to_string())?;
    if version > LATEST_VERSION {
        return Err(format!(
            "schema version {version} is newer than this shipstar supports ({LATEST_VERSION}); \
             run a newer shipstar (the file was not modified)"
        ));
    }
    if version == 0 {
        let objects: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .map_err(|err| err.to_string())?;
        if objects > 0 {
            return Err("not a shipstar database (it has tables but no schema version)".into());
        }
        let tx = conn.transaction().map_err(|err| err.to_string())?;
        tx.execute_batch(SCHEMA_SQL)
            .map_err(|err| format!("cannot create the schema: {err}"))?;
        tx.pragma_update(None, "user_version", LATEST_VERSION)
            .map_err(|err| err.to_string())?;
        return tx.commit().map_err(|err| err.to_string());
    }
    for (index, upgrade) in UPGRADES.iter().enumerate().skip((version - 1) as usize) {
        let target = index as i64 + 2;
        let tx = conn.transaction().map_err(|err| err.to_string())?;
        tx.execute_batch(upgrade)
            .map_err(|err| format!("migration to version {target} failed: {err}"))?;
        tx.pragma_update(None, "user_version", target)
            .map_err(|err| err.to_string())?;
        tx.commit().map_err(|err| err.to_string())?;
    }
    Ok(())
}

/// The full current PostgreSQL schema, compiled into the binary.
pub const SCHEMA_POSTGRES_SQL: &str = include_str!("../../schema.postgres.sql");

/// The first schema version PostgreSQL databases were created at.
const FIRST_POSTGRES_VERSION: i64 = 6;

/// `UPGRADES_POSTGRES[i]` turns a PostgreSQL database at version `FIRST_POSTGRES_VERSION + i`
/// into the next version: the PostgreSQL form of the SQLite upgrade of the same number.
const UPGRADES_POSTGRES: &[&str] = &[include_str!("upgrades/postgres/0007_shared_state.sql")];

// Both engines reach the same version with their own upgrades.
const _: () = assert!(FIRST_POSTGRES_VERSION + UPGRADES_POSTGRES.len() as i64 == LATEST_VERSION);

/// The advisory lock nodes take while they migrate, so that of several nodes starting on one
/// database exactly one creates or upgrades the schema and the others wait, then find it done.
const MIGRATION_LOCK: i64 = 0x5348_4950_5354_4152; // "SHIPSTAR"

/// Creates or checks the PostgreSQL schema under the migration lock; the error is a sentence
/// for the operator.
pub fn bring_up_to_date_postgres(conn: &super::db::Connection) -> Result<(), String> {
    use super::db::params;
    let text = |err: super::db::DbError| err.to_string();
    conn.query_row(
        "SELECT pg_advisory_lock(?1)",
        params![MIGRATION_LOCK],
        |_| Ok(()),
    )
    .map_err(text)?;
    let outcome = (|| -> Result<(), String> {
        let has_version: bool = conn
            .query_row(
                "SELECT to_regclass('schema_version') IS NOT NULL",
                params![],
                |row| row.get(0),
            )
            .map_err(text)?;
        if has_version {
            let version: i64 = conn
                .query_row(
                    "SELECT max(version) FROM schema_version",
                    params![],
                    |row| row.get::<Option<i64>>(0).map(|v| v.unwrap_or(0)),
                )
                .map_err(text)?;
            if version > LATEST_VERSION {
                return Err(format!(
                    "schema version {version} is newer than this shipstar supports \
                     ({LATEST_VERSION}); run a newer shipstar (the database was not modified)"
                ));
            }
            if version < FIRST_POSTGRES_VERSION {
                return Err(format!(
                    "schema version {version} cannot be upgraded by this shipstar \
                     (PostgreSQL schemas start at version {FIRST_POSTGRES_VERSION})"
                ));
            }
            // Each upgrade commits together with its version, as on SQLite.
            for (index, upgrade) in UPGRADES_POSTGRES
                .iter()
                .enumerate()
                .skip((version - FIRST_POSTGRES_VERSION) as usize)
            {
                let target = FIRST_POSTGRES_VERSION + index as i64 + 1;
                conn.execute_batch("BEGIN").map_err(text)?;
                let upgraded = conn
                    .execute_batch(upgrade)
                    .and_then(|()| {
                        conn.execute("UPDATE schema_version SET version = ?1", params![target])
                    })
                    .and_then(|_| conn.execute_batch("COMMIT"));
                if let Err(err) = upgraded {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(format!("migration to version {target} failed: {err}"));
                }
            }
            return Ok(());
        }
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
                params![],
                |row| row.get(0),
            )
            .map_err(text)?;
        if tables > 0 {
            return Err("not a shipstar database (it has tables but no schema version)".into());
        }
        conn.execute_batch("BEGIN").map_err(text)?;
        // The schema records its own version (its `schema_version` row).
        let created = conn
            .execute_batch(SCHEMA_POSTGRES_SQL)
            .and_then(|()| conn.execute_batch("COMMIT"));
        if let Err(err) = created {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(format!("cannot create the schema: {err}"));
        }
        Ok(())
    })();
    let unlocked = conn
        .query_row(
            "SELECT pg_advisory_unlock(?1)",
            params![MIGRATION_LOCK],
            |_| Ok(()),
        )
        .map_err(text);
    outcome.and(unlocked)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema as shipped in version 1, kept verbatim so upgrades are tested from it.
    const VERSION_1_SCHEMA: &str = include_str!("testdata/schema_v1.sql");

    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn fresh_and_migrated_databases_end_identical() {
        let mut fresh = Connection::open_in_memory().unwrap();
        bring_up_to_date(&mut fresh).unwrap();

        let mut old = Connection::open_in_memory().unwrap();
        old.execute_batch(VERSION_1_SCHEMA).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        bring_up_to_date(&mut old).unwrap();

        assert_eq!(schema_of(&fresh), schema_of(&old));
        let version = |c: &Connection| -> i64 {
            c.pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap()
        };
        assert_eq!(version(&fresh), LATEST_VERSION);
        assert_eq!(version(&old), LATEST_VERSION);
    }

    #[test]
    fn upgrade_marks_every_signing_key_but_the_newest_as_superseded_at_the_next_ones_creation() {
        let mut old = Connection::open_in_memory().unwrap();
        old.execute_batch(VERSION_1_SCHEMA).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        old.execute_batch(
            "INSERT INTO signing_keys (kid, secret, created_at) VALUES
                 ('first', x'01', 100), ('second', x'02', 200), ('third', x'03', 200);",
        )
        .unwrap();
        bring_up_to_date(&mut old).unwrap();
        let mut stmt = old
            .prepare(
                "SELECT kid, superseded_at, retired_at, secret FROM signing_keys ORDER BY rowid",
            )
            .unwrap();
        type Row = (String, Option<i64>, Option<i64>, Vec<u8>);
        let rows: Vec<Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [
                ("first".to_owned(), Some(200), None, vec![1]),
                ("second".to_owned(), Some(200), None, vec![2]),
                ("third".to_owned(), None, None, vec![3]),
            ]
        );
    }

    #[test]
    fn newer_database_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 1)
            .unwrap();
        let err = bring_up_to_date(&mut conn).unwrap_err();
        assert!(err.contains("newer"), "{err}");
        assert!(schema_of(&conn).is_empty());
    }

    #[test]
    fn foreign_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (x TEXT)").unwrap();
        assert!(bring_up_to_date(&mut conn)
            .unwrap_err()
            .contains("not a shipstar"));
    }
}
