//! The two schemas hold the same thing (contract: `scale-out.md`, "Schema"): `schema.sql`
//! loaded into SQLite and `schema.postgres.sql` loaded into a fresh PostgreSQL database have
//! the same tables, columns (name, order, nullability, type class, default), primary keys,
//! UNIQUE, CHECK and foreign-key constraints, indexes and triggers, and the same statements
//! leave the same rows behind on both (triggers, constraints, byte-order collation).
//!
//! The documented exceptions (the header of `schema.postgres.sql`): PostgreSQL's `rowid`
//! column, the stand-in for SQLite's implicit rowid, last in every table that has a rowid in
//! SQLite and last in the indexes that serve a rowid tie-break; and its `schema_version`
//! table, where SQLite has `PRAGMA user_version`.

use crate::fixture::{
    fresh_postgres_database, postgres_base_url, postgres_url_with_database, repo_path,
    NEEDS_POSTGRES,
};
use rusqlite::Connection;
use shipstar::store::pg_target::PgTarget;
use shipstar::store::Store;
use std::collections::{BTreeMap, BTreeSet};

/// One column as both backends can describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    /// `integer`, `text` or `blob`; any other type keeps its own name, so it cannot match.
    class: String,
    not_null: bool,
    /// The default expression without a type cast (`1`, `'{}'`).
    default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    table: String,
    references: Vec<String>,
    on_delete: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    unique: BTreeSet<Vec<String>>,
    /// Each CHECK as the sorted column names and literals it mentions.
    checks: BTreeSet<Vec<String>>,
    foreign_keys: BTreeSet<ForeignKey>,
}

#[derive(Debug, PartialEq, Eq)]
struct Index {
    table: String,
    unique: bool,
    columns: Vec<String>,
    /// The partial index's condition, without parentheses, lower-cased.
    predicate: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeMap<String, Table>,
    indexes: BTreeMap<String, Index>,
    /// Trigger name to (table, timing, event).
    triggers: BTreeMap<String, (String, String, String)>,
}

/// A `CHECK` expression reduced to what it constrains: the column names it mentions and the
/// literals it compares them with, sorted. `role IN ('owner', 'admin')` and PostgreSQL's
/// `CHECK ((role = ANY (ARRAY['owner'::text, 'admin'::text])))` both become
/// `['admin', 'owner', role]`.
fn check_terms(expression: &str, columns: &[Column]) -> Vec<String> {
    let mut terms = Vec::new();
    let chars: Vec<char> = expression.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut literal = String::from("'");
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' && chars.get(i + 1) == Some(&'\'') {
                    literal.push_str("''");
                    i += 2;
                } else if chars[i] == '\'' {
                    break;
                } else {
                    literal.push(chars[i]);
                    i += 1;
                }
            }
            literal.push('\'');
            terms.push(literal);
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if columns.iter().any(|column| column.name == word) {
                terms.push(word);
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            terms.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    terms.sort();
    terms
}

/// A default expression without PostgreSQL's trailing type cast: `'{}'::text` is `'{}'`.
fn strip_cast(expression: &str) -> String {
    match expression.rsplit_once("::") {
        Some((value, cast)) if cast.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') => {
            value.to_string()
        }
        _ => expression.to_string(),
    }
}

/// A partial index's condition in one spelling: no parentheses, single spaces, lower case.
fn normalize_predicate(predicate: &str) -> String {
    predicate
        .replace(['(', ')'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The `(...)` bodies of every `CHECK` in a `CREATE TABLE` statement.
fn checks_in(create_table: &str) -> Vec<String> {
    let upper = create_table.to_uppercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = upper[from..].find("CHECK") {
        let start = from + at + "CHECK".len();
        let open = start + upper[start..].find('(').expect("CHECK (");
        let mut depth = 0;
        let mut end = open;
        for (offset, c) in create_table[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + offset;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.push(create_table[open + 1..end].to_string());
        from = end;
    }
    found
}

fn sqlite_class(declared: &str) -> String {
    match declared.to_uppercase().as_str() {
        "INTEGER" => "integer".into(),
        "TEXT" => "text".into(),
        "BLOB" => "blob".into(),
        other => format!("sqlite {other}"),
    }
}

/// The SQLite database with `schema.sql` loaded, foreign keys enforced as the store sets them.
fn sqlite_with_schema() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    let schema = std::fs::read_to_string(repo_path("schema.sql")).unwrap();
    conn.execute_batch(&schema)
        .expect("schema.sql loads into SQLite");
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn
}

/// A fresh database on the test cluster with `schema.postgres.sql` loaded.
fn postgres_with_schema() -> postgres::Client {
    let url = fresh_postgres_database();
    let mut client = PgTarget::parse(&url).unwrap().connect().unwrap();
    let schema = std::fs::read_to_string(repo_path("schema.postgres.sql")).unwrap();
    client
        .batch_execute(&schema)
        .unwrap_or_else(|err| panic!("schema.postgres.sql does not load: {err:?}"));
    client
}

fn sqlite_schema(conn: &Connection) -> Schema {
    let strings = |sql: &str| -> Vec<(String, String, String)> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    let mut schema = Schema::default();
    for (name, _, sql) in strings(
        "SELECT name, tbl_name, sql FROM sqlite_master \
         WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    ) {
        let mut table = Table::default();
        let mut primary_key: Vec<(i64, String)> = Vec::new();
        let mut stmt = conn
            .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)")
            .unwrap();
        let mut rows = stmt.query([&name]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let column: String = row.get(0).unwrap();
            let pk: i64 = row.get(4).unwrap();
            if pk > 0 {
                primary_key.push((pk, column.clone()));
            }
            table.columns.push(Column {
                name: column,
                class: sqlite_class(&row.get::<_, String>(1).unwrap()),
                // A key column is NOT NULL on PostgreSQL by definition; SQLite's own
                // leniency there (NULL in a non-integer key) is a historical bug.
                not_null: row.get::<_, bool>(2).unwrap() || pk > 0,
                default: row.get(3).unwrap(),
            });
        }
        primary_key.sort();
        table.primary_key = primary_key.into_iter().map(|(_, c)| c).collect();
        for check in checks_in(&sql) {
            table.checks.insert(check_terms(&check, &table.columns));
        }
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_index_list(?1) WHERE origin = 'u'")
            .unwrap();
        let unique: Vec<String> = stmt
            .query_map([&name], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for index in unique {
            table.unique.insert(sqlite_index_columns(conn, &index));
        }
        let mut stmt = conn
            .prepare(
                "SELECT id, \"from\", \"table\", \"to\", on_delete \
                 FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )
            .unwrap();
        let mut keys: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        let mut rows = stmt.query([&name]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let key = keys.entry(row.get(0).unwrap()).or_insert(ForeignKey {
                columns: Vec::new(),
                table: row.get(2).unwrap(),
                references: Vec::new(),
                on_delete: row.get(4).unwrap(),
            });
            key.columns.push(row.get(1).unwrap());
            key.references.push(row.get(3).unwrap());
        }
        table.foreign_keys = keys.into_values().collect();
        schema.tables.insert(name, table);
    }
    for (name, table, sql) in strings(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    ) {
        let upper = sql.to_uppercase();
        let predicate = upper
            .find(" WHERE ")
            .map(|at| normalize_predicate(&sql[at + " WHERE ".len()..]));
        schema.indexes.insert(
            name.clone(),
            Index {
                table,
                unique: upper.starts_with("CREATE UNIQUE INDEX"),
                columns: sqlite_index_columns(conn, &name),
                predicate,
            },
        );
    }
    for (name, table, sql) in
        strings("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    {
        let words: Vec<String> = sql.split_whitespace().map(str::to_uppercase).collect();
        let timing_at = words
            .iter()
            .position(|w| w == "AFTER" || w == "BEFORE")
            .expect("AFTER or BEFORE");
        schema.triggers.insert(
            name,
            (
                table,
                words[timing_at].clone(),
                words[timing_at + 1].clone(),
            ),
        );
    }
    schema
}

fn sqlite_index_columns(conn: &Connection, index: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
        .unwrap();
    let rows = stmt.query_map([index], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The PostgreSQL schema, with the documented exceptions checked and then taken out: each
/// table's last column `rowid` (identity, always generated), trailing `rowid` in indexes, and
/// the `schema_version` table.
fn postgres_schema(client: &mut postgres::Client, without_rowid: &BTreeSet<String>) -> Schema {
    let mut schema = Schema::default();
    let columns = client
        .query(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
                    a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,
                    co.collname::text
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             LEFT JOIN pg_collation co ON co.oid = a.attcollation
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0
                   AND NOT a.attisdropped
             ORDER BY c.relname, a.attnum",
            &[],
        )
        .unwrap();
    for row in columns {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let pg_type: String = row.get(2);
        let collation: Option<String> = row.get(6);
        let class = match pg_type.as_str() {
            "bigint" => "integer".to_string(),
            "text" => {
                // Byte order, as SQLite compares: ORDER BY and slug ranges must agree.
                assert_eq!(
                    collation.as_deref(),
                    Some("C"),
                    "{table}.{name} is text without COLLATE \"C\""
                );
                "text".to_string()
            }
            "bytea" => "blob".to_string(),
            other => format!("postgres {other}"),
        };
        let identity: String = row.get(5);
        if name == "rowid" {
            assert_eq!(
                (class.as_str(), identity.as_str()),
                ("integer", "a"),
                "{table}.rowid must be BIGINT GENERATED ALWAYS AS IDENTITY"
            );
        }
        let default: Option<String> = row.get(4);
        schema
            .tables
            .entry(table)
            .or_default()
            .columns
            .push(Column {
                name,
                class,
                not_null: row.get(3),
                default: default.as_deref().map(strip_cast),
            });
    }

    let version = schema
        .tables
        .remove("schema_version")
        .expect("a schema_version table");
    assert_eq!(
        version.columns,
        [Column {
            name: "version".into(),
            class: "integer".into(),
            not_null: true,
            default: None,
        }]
    );
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_version", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        versions,
        [Store::schema_version()],
        "schema_version holds the version this build writes, once"
    );

    for (name, table) in schema.tables.iter_mut() {
        if without_rowid.contains(name) {
            assert!(
                table.columns.iter().all(|c| c.name != "rowid"),
                "{name} is WITHOUT ROWID in SQLite, so it has no rowid column"
            );
        } else {
            let last = table.columns.pop().expect("columns");
            assert_eq!(last.name, "rowid", "{name} ends with its rowid column");
        }
    }

    let constraints = client
        .query(
            "SELECT c.relname::text, k.contype::text, pg_get_constraintdef(k.oid),
                    ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                          ORDER BY u.i),
                    COALESCE(f.relname::text, ''),
                    ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n
                          ORDER BY u.i),
                    k.confdeltype::text
             FROM pg_constraint k
             JOIN pg_class c ON c.oid = k.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_class f ON f.oid = k.confrelid
             WHERE n.nspname = 'public'",
            &[],
        )
        .unwrap();
    for row in constraints {
        let table_name: String = row.get(0);
        let Some(table) = schema.tables.get_mut(&table_name) else {
            continue; // schema_version
        };
        let columns: Vec<String> = row.get(3);
        match row.get::<_, String>(1).as_str() {
            "p" => table.primary_key = columns,
            "u" => {
                table.unique.insert(columns);
            }
            "c" => {
                let definition: String = row.get(2);
                let terms = check_terms(&definition, &table.columns);
                table.checks.insert(terms);
            }
            "f" => {
                let on_delete = match row.get::<_, String>(6).as_str() {
                    "a" => "NO ACTION",
                    "r" => "RESTRICT",
                    "c" => "CASCADE",
                    "n" => "SET NULL",
                    "d" => "SET DEFAULT",
                    other => panic!("unknown confdeltype {other}"),
                };
                table.foreign_keys.insert(ForeignKey {
                    columns,
                    table: row.get(4),
                    references: row.get(5),
                    on_delete: on_delete.into(),
                });
            }
            other => panic!("unexpected constraint kind {other} on {table_name}"),
        }
    }

    let indexes = client
        .query(
            "SELECT i.relname::text, t.relname::text, x.indisunique,
                    ARRAY(SELECT a.attname::text
                          FROM unnest(x.indkey::int2[]) WITH ORDINALITY u(n, i)
                          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n
                          ORDER BY u.i),
                    pg_get_expr(x.indpred, x.indrelid)
             FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'public'
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                               WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid
                                     AND k.contype IN ('p', 'u', 'x'))",
            &[],
        )
        .unwrap();
    for row in indexes {
        let name: String = row.get(0);
        let mut columns: Vec<String> = row.get(3);
        // SQLite's indexes end with the rowid implicitly; PostgreSQL's say so.
        if columns.last().map(String::as_str) == Some("rowid") {
            columns.pop();
        }
        assert!(
            !columns.iter().any(|c| c == "rowid"),
            "{name}: rowid may only end an index"
        );
        let predicate: Option<String> = row.get(4);
        schema.indexes.insert(
            name,
            Index {
                table: row.get(1),
                unique: row.get(2),
                columns,
                predicate: predicate.as_deref().map(normalize_predicate),
            },
        );
    }

    let triggers = client
        .query(
            "SELECT trigger_name::text, event_object_table::text, action_timing::text,
                    event_manipulation::text
             FROM information_schema.triggers WHERE trigger_schema = 'public'",
            &[],
        )
        .unwrap();
    for row in triggers {
        schema
            .triggers
            .insert(row.get(0), (row.get(1), row.get(2), row.get(3)));
    }
    schema
}

#[test]
#[ignore = "needs a PostgreSQL cluster: run ./test"]
fn postgres_schema_has_the_same_tables_columns_constraints_indexes_and_triggers() {
    let sqlite = sqlite_with_schema();
    let mut postgres = postgres_with_schema();
    let expected = sqlite_schema(&sqlite);
    let without_rowid: BTreeSet<String> = sqlite
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%WITHOUT ROWID%'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        without_rowid,
        BTreeSet::from(["content_published_counts".to_string()])
    );
    let actual = postgres_schema(&mut postgres, &without_rowid);

    // Spot checks that the readers themselves see what is there, so an empty reading of both
    // sides cannot pass.
    let members = &expected.tables["team_members"];
    assert_eq!(members.primary_key, ["team_id", "user_id"]);
    assert_eq!(
        members.checks,
        BTreeSet::from([vec![
            "'admin'".to_string(),
            "'member'".into(),
            "'owner'".into(),
            "role".into()
        ]])
    );
    assert_eq!(
        expected.tables["users"].columns[5].default.as_deref(),
        Some("1")
    );
    assert_eq!(
        expected.indexes["content_slugs"].predicate.as_deref(),
        Some("public_slug is not null")
    );
    assert_eq!(expected.triggers.len(), 9);

    assert_eq!(
        actual.tables.keys().collect::<Vec<_>>(),
        expected.tables.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (name, table) in &expected.tables {
        assert_eq!(&actual.tables[name], table, "table {name}");
    }
    assert_eq!(
        actual.indexes.keys().collect::<Vec<_>>(),
        expected.indexes.keys().collect::<Vec<_>>(),
        "the same index names"
    );
    for (name, index) in &expected.indexes {
        assert_eq!(&actual.indexes[name], index, "index {name}");
    }
    assert_eq!(actual.triggers, expected.triggers, "the same triggers");
}

/// Statements valid in both dialects: content moving between projects, kinds and publication
/// (the count triggers), any change to content and signing keys (the version triggers), and a
/// cascade that takes content with it.
const SAME_STATEMENTS: &[&str] = &[
    "INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'a@example.com', 'h', 1)",
    "INSERT INTO teams (id, name, slug, created_at) VALUES ('t1', 'T', 'team-b', 1), ('t2', 'T', 'Team-a', 1), ('t3', 'T', '_x', 1), ('t4', 'T', 'team-a', 1)",
    "INSERT INTO projects (id, team_id, name, slug, created_at) VALUES ('p1', 't1', 'P', 'p', 1), ('p2', 't1', 'Q', 'q', 1)",
    "INSERT INTO content (id, project_id, kind, title, body, is_published, public_slug, created_at, updated_at) VALUES \
     ('c1', 'p1', 'blog', 'a', 'b', 1, 's1', 1, 1), ('c2', 'p1', 'blog', 'a', 'b', 0, NULL, 1, 1), \
     ('c3', 'p1', 'kb', 'a', 'b', 1, NULL, 1, 1), ('c4', 'p2', 'changelog', 'a', 'b', 1, 's1', 1, 1)",
    "UPDATE content SET is_published = 1 WHERE id = 'c2'",
    "UPDATE content SET kind = 'changelog' WHERE id = 'c3'",
    "UPDATE content SET project_id = 'p2' WHERE id = 'c1'",
    "UPDATE content SET title = 'renamed'",
    "UPDATE content SET is_published = 0 WHERE id = 'c4'",
    "DELETE FROM content WHERE id = 'c2'",
    "UPDATE content SET is_published = 0, kind = 'kb' WHERE id = 'c3'",
    "INSERT INTO content (id, project_id, kind, title, body, is_published, created_at, updated_at) VALUES ('c5', 'p1', 'kb', 'a', 'b', 1, 2, 2)",
    "INSERT INTO signing_keys (kid, created_at) VALUES ('k1', 1), ('k2', 2)",
    "UPDATE signing_keys SET superseded_at = 3 WHERE kid = 'k1'",
    "UPDATE signing_keys SET retired_at = 4 WHERE kid = 'none'",
    "DELETE FROM signing_keys WHERE kid = 'k1'",
    "DELETE FROM projects WHERE id = 'p2'",
];

/// Statements both backends must refuse: CHECK, UNIQUE (plain and partial), NOT NULL and
/// foreign keys.
const REFUSED_STATEMENTS: &[&str] = &[
    "INSERT INTO team_members (team_id, user_id, role, added_at) VALUES ('t1', 'u1', 'boss', 1)",
    "INSERT INTO teams (id, name, slug, created_at) VALUES ('t9', 'T', 'team-b', 1)",
    "INSERT INTO users (id, email, password_hash, created_at) VALUES ('u2', 'a@example.com', 'h', 1)",
    "INSERT INTO users (id, email, password_hash, created_at) VALUES ('u3', 'c@example.com', NULL, 1)",
    "INSERT INTO content (id, project_id, kind, title, body, public_slug, created_at, updated_at) VALUES ('c9', 'p1', 'blog', 'a', 'b', 'x', 1, 1), ('c10', 'p1', 'blog', 'a', 'b', 'x', 1, 1)",
    "INSERT INTO content (id, project_id, kind, title, body, created_at, updated_at) VALUES ('c11', 'p1', 'news', 'a', 'b', 1, 1)",
    "INSERT INTO projects (id, team_id, name, slug, created_at) VALUES ('p9', 'no-team', 'P', 'p9', 1)",
    "INSERT INTO signing_keys_version (id, version) VALUES (2, 0)",
    "INSERT INTO audit_events (id, at, action, actor_type) VALUES ('e1', 1, 'x', 'robot')",
];

/// Queries whose answers must be equal, as text rows.
const SAME_ANSWERS: &[&str] = &[
    "SELECT kind, project_id, CAST(published AS TEXT) FROM content_published_counts ORDER BY kind, project_id",
    "SELECT CAST(version AS TEXT), '' , '' FROM content_version",
    "SELECT CAST(version AS TEXT), '', '' FROM signing_keys_version",
    "SELECT id, kind, project_id FROM content ORDER BY id",
    // Byte order: '_' (0x5F) after upper case, before lower case.
    "SELECT slug, '', '' FROM teams ORDER BY slug",
    "SELECT slug, '', '' FROM teams WHERE slug >= 'team-' AND slug < 'team.' ORDER BY slug DESC",
    // Two NULL slugs of one kind are fine under the partial unique index.
    "SELECT CAST(count(*) AS TEXT), '', '' FROM content WHERE public_slug IS NULL",
];

#[test]
#[ignore = "needs a PostgreSQL cluster: run ./test"]
fn the_same_statements_leave_the_same_rows_on_both_schemas() {
    let sqlite = sqlite_with_schema();
    let mut postgres = postgres_with_schema();
    for statement in SAME_STATEMENTS {
        sqlite
            .execute_batch(statement)
            .unwrap_or_else(|err| panic!("SQLite: {statement}: {err}"));
        postgres
            .batch_execute(statement)
            .unwrap_or_else(|err| panic!("PostgreSQL: {statement}: {err:?}"));
    }
    for statement in REFUSED_STATEMENTS {
        assert!(
            sqlite.execute_batch(statement).is_err(),
            "SQLite took {statement}"
        );
        // Each in its own implicit transaction, so a refusal does not poison the next.
        assert!(
            postgres.batch_execute(statement).is_err(),
            "PostgreSQL took {statement}"
        );
    }
    let mut answers = Vec::new();
    for query in SAME_ANSWERS {
        let mut stmt = sqlite.prepare(query).unwrap();
        let from_sqlite: Vec<[String; 3]> = stmt
            .query_map([], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let from_postgres: Vec<[String; 3]> = postgres
            .query(*query, &[])
            .unwrap_or_else(|err| panic!("PostgreSQL: {query}: {err:?}"))
            .iter()
            .map(|r| [r.get(0), r.get(1), r.get(2)])
            .collect();
        assert_eq!(from_postgres, from_sqlite, "{query}");
        answers.push(from_sqlite);
    }
    // SQLite's answers, worked out by hand, so two identical mistakes cannot pass.
    let row = |a: &str, b: &str, c: &str| [a.to_string(), b.to_string(), c.to_string()];
    assert_eq!(
        answers[0],
        [
            row("blog", "p1", "0"),
            row("changelog", "p1", "0"),
            row("kb", "p1", "1")
        ]
    );
    // 5 rows inserted, 9 row updates (1 + 1 + 1 + 4 + 1 + 1), 1 row deleted and the 2 rows
    // of p2 deleted by the cascade.
    assert_eq!(answers[1], [row("17", "", "")]);
    assert_eq!(answers[2], [row("4", "", "")]);
    assert_eq!(
        answers[4],
        [
            row("Team-a", "", ""),
            row("_x", "", ""),
            row("team-a", "", ""),
            row("team-b", "", "")
        ]
    );
    assert_eq!(answers[5], [row("team-b", "", ""), row("team-a", "", "")]);
}

/// The SQL statements of the block marked `<!-- least-privilege-role: NAME -->` in
/// docs/SECURITY.md, one by one, with every `shipstar` identifier renamed to `name`.
fn docs_statements(block: &str, name: &str) -> Vec<String> {
    let docs = std::fs::read_to_string(repo_path("docs/SECURITY.md")).unwrap();
    let marker = format!("<!-- least-privilege-role: {block} -->");
    let after = &docs[docs
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in SECURITY.md"))..];
    let start = after.find("```sql\n").expect("a sql block") + "```sql\n".len();
    let sql = &after[start..start + after[start..].find("```").expect("its end")];
    let mut renamed = String::new();
    let mut rest = sql;
    while let Some(at) = rest.find("shipstar") {
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let before = rest[..at].chars().last();
        let next = rest[at + "shipstar".len()..].chars().next();
        renamed.push_str(&rest[..at]);
        renamed.push_str(if is_word(before) || is_word(next) {
            "shipstar"
        } else {
            name
        });
        rest = &rest[at + "shipstar".len()..];
    }
    renamed.push_str(rest);
    renamed
        .split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(String::from)
        .collect()
}

#[test]
#[ignore = "needs a PostgreSQL cluster: run ./test"]
fn the_least_privilege_role_of_the_docs_owns_the_schema_and_nothing_more() {
    let base = postgres_base_url().unwrap_or_else(|| panic!("{NEEDS_POSTGRES}"));
    let cluster = PgTarget::parse(&base).unwrap();
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).unwrap();
    // Roles are cluster-wide: a name of its own keeps runs on one cluster apart.
    let name = format!("shipstar_lp_{}", u32::from_le_bytes(random));
    let connect = |url: &str| PgTarget::parse(url).and_then(|target| target.connect());
    let url_as = |user: &str| {
        format!(
            "postgres://{user}:a-long-random-password@{}:{}/{name}?sslmode=disable",
            cluster.host(),
            cluster.port()
        )
    };

    let mut admin = connect(&base).unwrap();
    for statement in docs_statements("cluster", &name) {
        admin
            .batch_execute(&statement)
            .unwrap_or_else(|err| panic!("{statement}: {err:?}"));
    }
    let mut admin_db = connect(&postgres_url_with_database(&base, &name)).unwrap();
    for statement in docs_statements("database", &name) {
        admin_db
            .batch_execute(&statement)
            .unwrap_or_else(|err| panic!("{statement}: {err:?}"));
    }

    // The role loads the schema, into its own schema, and works in it.
    let mut role = connect(&url_as(&name)).unwrap();
    let schema = std::fs::read_to_string(repo_path("schema.postgres.sql")).unwrap();
    role.batch_execute(&schema)
        .unwrap_or_else(|err| panic!("the role cannot load the schema: {err:?}"));
    let placed: Vec<(String, i64)> = role
        .query(
            "SELECT table_schema::text, count(*) FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') GROUP BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(placed, [(name.clone(), 18)]);
    for statement in SAME_STATEMENTS {
        role.batch_execute(statement)
            .unwrap_or_else(|err| panic!("as the role: {statement}: {err:?}"));
    }

    // ... and nothing beyond it.
    for statement in [
        "CREATE ROLE intruder LOGIN".to_string(),
        "CREATE DATABASE intruder".to_string(),
        "CREATE SCHEMA intruder".to_string(),
        "CREATE TABLE public.intruder (a BIGINT)".to_string(),
        format!("ALTER ROLE {name} SUPERUSER"),
    ] {
        let refused = role.batch_execute(&statement);
        assert!(refused.is_err(), "the role may {statement}");
    }

    // Other roles (not superusers) can neither connect nor, once allowed to, read its tables.
    let other = format!("{name}_other");
    admin
        .batch_execute(&format!("CREATE ROLE {other} LOGIN"))
        .unwrap();
    let err = connect(&url_as(&other)).err().expect("CONNECT is revoked");
    assert!(err.contains("permission denied for database"), "{err}");
    admin_db
        .batch_execute(&format!("GRANT CONNECT ON DATABASE {name} TO {other}"))
        .unwrap();
    let mut outsider = connect(&url_as(&other)).unwrap();
    let err = outsider
        .query(&format!("SELECT password_hash FROM {name}.users"), &[])
        .expect_err("another role reads the users");
    assert!(
        format!("{err:?}").contains("permission denied for schema"),
        "{err:?}"
    );
}
