//! The one seam between the store's statements and a database engine: a connection on
//! SQLite (`rusqlite`) or on PostgreSQL (the synchronous `postgres` client), with the same
//! small surface for both.
//!
//! Every statement in the store is written once, in the SQL both engines accept, with
//! numbered `?N` placeholders (SQLite's form). On PostgreSQL each statement is rewritten to
//! `$N` placeholders the first time a connection prepares it and kept prepared on that
//! connection, so a statement costs one round trip after its first use. Values cross the seam
//! as [`Value`] (bound) and [`ValueRef`] (read): integers, text, bytes, reals and NULL, the
//! types both engines share. A PostgreSQL parameter takes whatever type the server inferred
//! for it from the statement (a `BIGINT` column, a `TEXT` column, ...), so one Rust integer
//! binds to any integer column and a flag column compared with `0`/`1` reads the same on both.
//!
//! Errors keep their engine's cause ([`DbError`]) until the one mapping to the crate's error
//! in `mod.rs`; a PostgreSQL serialization failure is also recorded on its connection, so the
//! write that ran into it can be run again whole (see `Store::write`).

use postgres::types::{to_sql_checked, IsNull, ToSql as PgToSql, Type};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A value bound to a statement's parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (flags bind as 0 and 1).
    Int(i64),
    /// A real number.
    Real(f64),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

/// A value read from a row's column, borrowed from the row.
pub(super) type ValueRef<'a> = Value<'a>;

/// A Rust value that binds to a statement parameter.
pub(super) trait ToValue {
    /// The value as bound.
    fn to_value(&self) -> Value<'_>;
}

/// A Rust value read from a column; `Err` carries why the stored value does not fit.
pub(super) trait FromValue: Sized {
    /// Reads it from a column's value.
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String>;
}

/// An owned value, for statements whose parameters are built at run time and for rows read
/// whatever their columns hold (`shipstar copy` moves them between engines as they are).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SqlValue {
    /// SQL NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A real number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl ToValue for SqlValue {
    fn to_value(&self) -> Value<'_> {
        match self {
            SqlValue::Null => Value::Null,
            SqlValue::Integer(value) => Value::Int(*value),
            SqlValue::Real(value) => Value::Real(*value),
            SqlValue::Text(value) => Value::Text(value),
            SqlValue::Blob(value) => Value::Blob(value),
        }
    }
}

impl FromValue for SqlValue {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        Ok(match value {
            Value::Null => SqlValue::Null,
            Value::Int(value) => SqlValue::Integer(value),
            Value::Real(value) => SqlValue::Real(value),
            Value::Text(text) => SqlValue::Text(text.to_owned()),
            Value::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
        })
    }
}

/// Run-time values as a statement's parameter list.
pub(super) fn params_from_iter(values: &[SqlValue]) -> Vec<&dyn ToValue> {
    values.iter().map(|value| value as &dyn ToValue).collect()
}

/// The parameter list of a statement: `params![a, b]`.
pub(super) type Params<'a> = [&'a dyn ToValue];

/// Builds a statement's parameter list from values that bind: `params![id, now]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::db::ToValue]
    };
    ($($value:expr),+ $(,)?) => {
        &[$(&$value as &dyn $crate::store::db::ToValue),+] as &[&dyn $crate::store::db::ToValue]
    };
}
pub(super) use params;

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(value) => value.to_value(),
            None => Value::Null,
        }
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl ToValue for i32 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToValue for Value<'_> {
    fn to_value(&self) -> Value<'_> {
        *self
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Int(value) => Ok(value),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

impl FromValue for u32 {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        let wide = i64::from_value(value)?;
        u32::try_from(wide).map_err(|_| format!("{wide} is out of range"))
    }
}

impl FromValue for usize {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        let wide = i64::from_value(value)?;
        usize::try_from(wide).map_err(|_| format!("{wide} is out of range"))
    }
}

impl FromValue for bool {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromValue for f64 {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Real(value) => Ok(value),
            Value::Int(value) => Ok(value as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromValue for String {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Text(text) => Ok(text.to_owned()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: ValueRef<'_>) -> std::result::Result<Self, String> {
        match value {
            Value::Blob(bytes) => Ok(bytes.to_vec()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}

/// Why a statement failed, with its engine's cause.
#[derive(Debug)]
pub(super) enum DbError {
    /// SQLite's error.
    Sqlite(rusqlite::Error),
    /// PostgreSQL's error (from the server, or the connection to it).
    Postgres(postgres::Error),
    /// A single-row read found no row (see [`OptionalExtension`]).
    NoRows,
    /// A column's stored value does not fit the Rust type read from it.
    Conversion {
        /// The column's index.
        index: usize,
        /// What did not fit.
        why: String,
    },
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sqlite(err) => write!(f, "{err}"),
            DbError::Postgres(err) => match err.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.code().code(), db.message()),
                None => write!(f, "{err}"),
            },
            DbError::NoRows => f.write_str("query returned no rows"),
            DbError::Conversion { index, why } => write!(f, "column {index}: {why}"),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> Self {
        match err {
            rusqlite::Error::QueryReturnedNoRows => DbError::NoRows,
            other => DbError::Sqlite(other),
        }
    }
}

impl From<postgres::Error> for DbError {
    fn from(err: postgres::Error) -> Self {
        DbError::Postgres(err)
    }
}

/// A statement's outcome.
pub(super) type Result<T> = std::result::Result<T, DbError>;

/// `.optional()` on a single-row read: no row is `Ok(None)`.
pub(super) trait OptionalExtension<T> {
    /// `Ok(None)` when the read found no row.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(DbError::NoRows) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// One row of a result, on either engine.
pub(super) enum Row<'a> {
    /// A SQLite row.
    Sqlite(&'a rusqlite::Row<'a>),
    /// A PostgreSQL row.
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// The value of column `index` as `T`.
    pub(super) fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let convert = |why: String| DbError::Conversion { index, why };
        match self {
            Row::Sqlite(row) => {
                let value = match row.get_ref(index)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(value) => Value::Int(value),
                    rusqlite::types::ValueRef::Real(value) => Value::Real(value),
                    rusqlite::types::ValueRef::Text(bytes) => Value::Text(
                        std::str::from_utf8(bytes).map_err(|err| convert(err.to_string()))?,
                    ),
                    rusqlite::types::ValueRef::Blob(bytes) => Value::Blob(bytes),
                };
                T::from_value(value).map_err(convert)
            }
            Row::Postgres(row) => match postgres_value(row, index)? {
                Value::Text(text) if text.contains(NUL_ESCAPE) => {
                    T::from_value(Value::Text(&unescape_nul(text))).map_err(convert)
                }
                value => T::from_value(value).map_err(convert),
            },
        }
    }
}

/// PostgreSQL text cannot hold U+0000, which SQLite text (and so the contract's content)
/// can. Text bound on PostgreSQL writes U+0000 as this character followed by `0`, and this
/// character itself doubled; text read back is decoded. A noncharacter, so no real text
/// needs it, and absent from every identifier, slug and email the statements compare.
const NUL_ESCAPE: char = '\u{10FFFE}';

/// `text` with U+0000 and [`NUL_ESCAPE`] escaped, borrowed when there is neither.
fn escape_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\0', NUL_ESCAPE]) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0' => {
                out.push(NUL_ESCAPE);
                out.push('0');
            }
            NUL_ESCAPE => {
                out.push(NUL_ESCAPE);
                out.push(NUL_ESCAPE);
            }
            other => out.push(other),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The text [`escape_nul`] was given.
fn unescape_nul(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == NUL_ESCAPE {
            match chars.next() {
                Some('0') => out.push('\0'),
                Some(other) => out.push(other),
                None => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Column `index` of a PostgreSQL row as a [`Value`], by the column's type: the integer
/// types and booleans read as integers, the text types as text, `bytea` as bytes.
fn postgres_value<'r>(row: &'r postgres::Row, index: usize) -> Result<Value<'r>> {
    let column = row
        .columns()
        .get(index)
        .ok_or_else(|| DbError::Conversion {
            index,
            why: "no such column".into(),
        })?;
    let ty = column.type_().clone();
    let value = if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(index)?.map(Value::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(index)?
            .map(|v| Value::Int(i64::from(v)))
    } else if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(index)?
            .map(|v| Value::Int(i64::from(v)))
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(index)?
            .map(|v| Value::Int(i64::from(v)))
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(index)?.map(Value::Real)
    } else if ty == Type::BYTEA {
        row.try_get::<_, Option<&[u8]>>(index)?.map(Value::Blob)
    } else if ty == Type::TEXT || ty == Type::VARCHAR || ty == Type::NAME || ty == Type::BPCHAR {
        row.try_get::<_, Option<&str>>(index)?.map(Value::Text)
    } else {
        return Err(DbError::Conversion {
            index,
            why: format!("column type {ty} is not read by the store (cast it in the statement)"),
        });
    };
    Ok(value.unwrap_or(Value::Null))
}

/// A bound value as PostgreSQL's binary form of whatever type the server inferred for its
/// parameter: an integer fits any integer type (checked), a boolean or a real; text fits the
/// text types.
#[derive(Debug)]
struct PgParam<'a>(Value<'a>);

impl PgToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(value) => {
                if *ty == Type::INT8 {
                    value.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(value)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(value)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (value != 0).to_sql(ty, out)
                } else if *ty == Type::FLOAT8 {
                    (value as f64).to_sql(ty, out)
                } else {
                    Err(format!("an integer cannot bind to a {ty} parameter").into())
                }
            }
            Value::Real(value) => value.to_sql(ty, out),
            Value::Text(text) => escape_nul(text).as_ref().to_sql(ty, out),
            Value::Blob(bytes) => bytes.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The value decides (`to_sql` refuses what it cannot represent).
        true
    }

    to_sql_checked!();
}

/// A database connection on either engine.
pub(super) enum Connection {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL (boxed: its client and statement cache are much larger than a SQLite
    /// handle, and the pool moves connections around).
    Postgres(Box<PgConnection>),
}

/// A PostgreSQL connection with its prepared statements.
pub(super) struct PgConnection {
    client: RefCell<postgres::Client>,
    /// Prepared statements by their SQL as the store wrote it.
    prepared: RefCell<HashMap<String, postgres::Statement>>,
    /// Set when a statement failed with a serialization failure or a deadlock: the
    /// transaction is lost and may be run again from its start.
    retryable: Cell<bool>,
    /// Set when a statement failed because the connection (not the statement) failed, so
    /// the pool drops it.
    broken: Cell<bool>,
}

impl PgConnection {
    /// Wraps a connected client.
    pub(super) fn new(client: postgres::Client) -> PgConnection {
        PgConnection {
            client: RefCell::new(client),
            prepared: RefCell::new(HashMap::new()),
            retryable: Cell::new(false),
            broken: Cell::new(false),
        }
    }

    /// Notes what a failure says about the transaction and the connection.
    fn observe(&self, err: &postgres::Error) {
        match err.code() {
            Some(code)
                if *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED =>
            {
                self.retryable.set(true)
            }
            // The server ends this session (shutting down, crashed, connection failure):
            // nothing more will run on it.
            Some(code)
                if code.code().starts_with("08")
                    || *code == postgres::error::SqlState::ADMIN_SHUTDOWN
                    || *code == postgres::error::SqlState::CRASH_SHUTDOWN
                    || *code == postgres::error::SqlState::CANNOT_CONNECT_NOW =>
            {
                self.broken.set(true)
            }
            Some(_) => {}
            None => self.broken.set(true),
        }
        if self
            .client
            .try_borrow()
            .is_ok_and(|client| client.is_closed())
        {
            self.broken.set(true);
        }
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.prepared.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let rewritten = numbered_placeholders(sql);
        let statement = self.call(|client| client.prepare(&rewritten))?;
        self.prepared
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Runs `work` on the client, noting what a failure says about the transaction and the
    /// connection.
    fn call<T>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        // The client's borrow ends with this statement, so `observe` can look at it.
        let outcome = work(&mut self.client.borrow_mut());
        Ok(outcome.inspect_err(|err| self.observe(err))?)
    }

    /// Runs `call` on the client with `params` in PostgreSQL's binary form.
    fn with_params<T>(
        &self,
        params: &Params<'_>,
        call: impl FnOnce(
            &mut postgres::Client,
            &[&(dyn PgToSql + Sync)],
        ) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let values: Vec<PgParam<'_>> = params.iter().map(|p| PgParam(p.to_value())).collect();
        let refs: Vec<&(dyn PgToSql + Sync)> =
            values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect();
        self.call(|client| call(client, &refs))
    }

    fn run(
        &self,
        statement: &postgres::Statement,
        params: &Params<'_>,
    ) -> Result<Vec<postgres::Row>> {
        self.with_params(params, |client, values| client.query(statement, values))
    }

    fn run_count(&self, statement: &postgres::Statement, params: &Params<'_>) -> Result<usize> {
        let changed =
            self.with_params(params, |client, values| client.execute(statement, values))?;
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    /// Runs statements without parameters (a schema, `BEGIN`, `COMMIT`).
    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        self.call(|client| client.batch_execute(sql))
    }

    /// Whether the last transaction failed in a way that running it again may fix; clears
    /// the mark.
    pub(super) fn take_retryable(&self) -> bool {
        self.retryable.replace(false)
    }

    /// Whether the connection can no longer be used.
    pub(super) fn is_broken(&self) -> bool {
        self.broken.get()
            || self
                .client
                .try_borrow()
                .map_or(true, |client| client.is_closed())
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (a bare `?` takes the next number), outside quoted
/// text and identifiers.
pub(super) fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1usize;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            None => out.push(c),
        }
    }
    out
}

/// A prepared statement on either engine.
pub(super) enum Statement<'c> {
    /// A cached SQLite statement.
    Sqlite(rusqlite::CachedStatement<'c>),
    /// A PostgreSQL statement prepared on `connection`.
    Postgres {
        /// The connection it was prepared on.
        connection: &'c PgConnection,
        /// The prepared statement.
        statement: postgres::Statement,
    },
}

/// Binds `params` to a SQLite statement, by position.
fn bind_sqlite(stmt: &mut rusqlite::CachedStatement<'_>, params: &Params<'_>) -> Result<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(DbError::Sqlite(rusqlite::Error::InvalidParameterCount(
            params.len(),
            expected,
        )));
    }
    for (index, param) in params.iter().enumerate() {
        let position = index + 1;
        match param.to_value() {
            Value::Null => stmt.raw_bind_parameter(position, rusqlite::types::Null)?,
            Value::Int(value) => stmt.raw_bind_parameter(position, value)?,
            Value::Real(value) => stmt.raw_bind_parameter(position, value)?,
            Value::Text(text) => stmt.raw_bind_parameter(position, text)?,
            Value::Blob(bytes) => stmt.raw_bind_parameter(position, bytes)?,
        }
    }
    Ok(())
}

impl Statement<'_> {
    /// Runs a statement that returns no rows; how many rows it changed.
    pub(super) fn execute(&mut self, params: &Params<'_>) -> Result<usize> {
        match self {
            Statement::Sqlite(stmt) => {
                bind_sqlite(stmt, params)?;
                Ok(stmt.raw_execute()?)
            }
            Statement::Postgres {
                connection,
                statement,
            } => connection.run_count(statement, params),
        }
    }

    /// The first row mapped by `map`; [`DbError::NoRows`] when there is none.
    pub(super) fn query_row<T>(
        &mut self,
        params: &Params<'_>,
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        match self {
            Statement::Sqlite(stmt) => {
                bind_sqlite(stmt, params)?;
                let mut rows = stmt.raw_query();
                match rows.next()? {
                    Some(row) => map(&Row::Sqlite(row)),
                    None => Err(DbError::NoRows),
                }
            }
            Statement::Postgres {
                connection,
                statement,
            } => {
                let rows = connection.run(statement, params)?;
                match rows.first() {
                    Some(row) => map(&Row::Postgres(row)),
                    None => Err(DbError::NoRows),
                }
            }
        }
    }

    /// Every row mapped by `map`, in order.
    pub(super) fn query_map<T>(
        &mut self,
        params: &Params<'_>,
        mut map: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut out = Vec::new();
        match self {
            Statement::Sqlite(stmt) => {
                bind_sqlite(stmt, params)?;
                let mut rows = stmt.raw_query();
                while let Some(row) = rows.next()? {
                    out.push(map(&Row::Sqlite(row)));
                }
            }
            Statement::Postgres {
                connection,
                statement,
            } => {
                for row in connection.run(statement, params)? {
                    out.push(map(&Row::Postgres(&row)));
                }
            }
        }
        Ok(out.into_iter())
    }
}

impl Connection {
    /// Prepares `sql` (or takes it from this connection's cache).
    pub(super) fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        match self {
            Connection::Sqlite(conn) => Ok(Statement::Sqlite(conn.prepare_cached(sql)?)),
            Connection::Postgres(conn) => Ok(Statement::Postgres {
                connection: conn,
                statement: conn.statement(sql)?,
            }),
        }
    }

    /// Prepares and runs a statement that returns no rows.
    pub(super) fn execute(&self, sql: &str, params: &Params<'_>) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// Prepares and runs a single-row read.
    pub(super) fn query_row<T>(
        &self,
        sql: &str,
        params: &Params<'_>,
        map: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, map)
    }

    /// Runs statements without parameters, separated by semicolons.
    pub(super) fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Connection::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Connection::Postgres(conn) => conn.batch(sql),
        }
    }

    /// Whether this is a PostgreSQL connection.
    pub(super) fn is_postgres(&self) -> bool {
        matches!(self, Connection::Postgres(_))
    }

    /// The SQLite connection, for what only SQLite has (pragmas, `VACUUM INTO`).
    pub(super) fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Connection::Sqlite(conn) => Some(conn),
            Connection::Postgres(_) => None,
        }
    }
}

/// A connection inside a write transaction (see `Store::write`): statements run as
/// on any connection, and commit together.
pub(super) type Transaction = Connection;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_quotes() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ?2 AND c = ?1"),
            "SELECT a FROM t WHERE b = $2 AND c = $1"
        );
        assert_eq!(
            numbered_placeholders("INSERT INTO t VALUES (?, ?, '?', \"?x\")"),
            "INSERT INTO t VALUES ($1, $2, '?', \"?x\")"
        );
        assert_eq!(numbered_placeholders("LIMIT ?12"), "LIMIT $12");
    }

    #[test]
    fn nul_escaping_round_trips_and_leaves_plain_text_borrowed() {
        for text in [
            "",
            "plain",
            "a\0b",
            "\0",
            "x\u{10FFFE}y",
            "\u{10FFFE}0",
            "\0\u{10FFFE}\0",
        ] {
            let escaped = escape_nul(text);
            assert!(!escaped.contains('\0'), "{escaped:?}");
            assert_eq!(unescape_nul(&escaped), text);
        }
        assert!(matches!(escape_nul("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn values_bind_and_read_back_on_sqlite() {
        let conn = Connection::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.execute_batch("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, f INTEGER)")
            .unwrap();
        let text = String::from("hello");
        let none: Option<i64> = None;
        assert_eq!(
            conn.execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
                params![7i64, text, vec![1u8, 2], true]
            )
            .unwrap(),
            1
        );
        conn.execute(
            "INSERT INTO t VALUES (?1, NULL, NULL, ?2)",
            params![none, false],
        )
        .unwrap();
        type Read = (Option<i64>, Option<String>, Option<Vec<u8>>, bool);
        let rows: Vec<Read> = conn
            .prepare_cached("SELECT i, s, b, f FROM t ORDER BY rowid")
            .unwrap()
            .query_map(params![], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (Some(7), Some("hello".into()), Some(vec![1, 2]), true),
                (None, None, None, false)
            ]
        );
        let missing = conn
            .query_row("SELECT i FROM t WHERE i = ?1", params![99i64], |row| {
                row.get::<i64>(0)
            })
            .optional()
            .unwrap();
        assert_eq!(missing, None);
        match conn.query_row("SELECT s FROM t WHERE i = 7", params![], |row| {
            row.get::<i64>(0)
        }) {
            Err(DbError::Conversion { index: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            conn.execute("INSERT INTO t VALUES (?1)", params![1i64, 2i64]),
            Err(DbError::Sqlite(_))
        ));
    }
}
