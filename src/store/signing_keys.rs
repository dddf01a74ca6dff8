//! JWT signing keys and their lifecycle (contract: `auth.md`, "Signing keys").
//!
//! Two kinds of row live in `signing_keys`:
//!
//! - **Generated** keys, made by the server on first start and by `shipstar secret rotate`
//!   when no `jwt_secret` is configured. The row holds the secret. Exactly one generated key is
//!   *current* (not superseded, not retired) once the first start has run.
//! - **Configured** keys (`jwt_secret` and `jwt_secret_fallbacks`). The configuration holds the
//!   secret, so the row has none; it exists to remember when the key stopped signing
//!   (`superseded_at`), which the "only tokens issued before the rotation" rule needs and the
//!   configuration alone cannot say.
//!
//! `superseded_at` is the rotation moment: from then on the key verifies only tokens whose
//! `iat` is at or before it. `retired_at` ends verification altogether; retiring a generated
//! key also erases its secret, so a backup made afterwards no longer holds it.
//!
//! Every change bumps `signing_keys_version` (triggers in the schema), which
//! [`Store::session_with_user`] returns with each session, so a running server learns of a
//! retirement on the next request without a query of its own.

use super::audit::{append, Audit, AuditAction};
use super::db::{params, OptionalExtension, Row, Transaction};
use super::{column_count, FromRow, Store};
use crate::error::Error;

/// A signing key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Public key id, put in the JWT header.
    pub kid: String,
    /// The HMAC key; `None` for a configured key (the configuration holds it) and for a
    /// retired generated key (erased on retirement).
    pub secret: Option<Vec<u8>>,
    /// Whether the configuration (`jwt_secret`, `jwt_secret_fallbacks`) owns this key.
    pub is_configured: bool,
    /// Unix seconds: when it began signing (a configured key: the first start that saw it).
    pub created_at: i64,
    /// Unix seconds: when a newer key began signing; it verifies only tokens issued by then.
    pub superseded_at: Option<i64>,
    /// Unix seconds: when it stopped verifying anything.
    pub retired_at: Option<i64>,
}

impl StoredSigningKey {
    /// A new generated key that signs from `created_at` on.
    pub fn generated(kid: String, secret: Vec<u8>, created_at: i64) -> Self {
        StoredSigningKey {
            kid,
            secret: Some(secret),
            is_configured: false,
            created_at,
            superseded_at: None,
            retired_at: None,
        }
    }

    /// Whether this key signs new tokens: neither superseded nor retired.
    pub fn is_current(&self) -> bool {
        self.superseded_at.is_none() && self.retired_at.is_none()
    }
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("is_configured", &self.is_configured)
            .field("created_at", &self.created_at)
            .field("superseded_at", &self.superseded_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// What `secret retire --kid K` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetireOutcome {
    /// The key is retired now; its tokens fail from the next request on.
    Retired,
    /// No key has this kid.
    Unknown,
    /// The key was retired before; nothing changed.
    AlreadyRetired,
    /// The key signs new tokens; refused (retiring it would leave nothing to sign with).
    Current,
    /// The configuration owns the key; refused (edit the configuration instead).
    Configured,
}

/// The columns [`StoredSigningKey`]'s [`FromRow`] reads, in its order.
const KEY_COLUMNS: &str = "kid, secret, is_configured, created_at, superseded_at, retired_at";

impl FromRow for StoredSigningKey {
    const COLUMNS: usize = column_count(KEY_COLUMNS);

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<StoredSigningKey> {
        Ok(StoredSigningKey {
            kid: row.get(first)?,
            secret: row.get(first + 1)?,
            is_configured: row.get(first + 2)?,
            created_at: row.get(first + 3)?,
            superseded_at: row.get(first + 4)?,
            retired_at: row.get(first + 5)?,
        })
    }
}

/// Every key, newest first, read inside `conn`'s current transaction (if any).
fn all_keys(conn: &super::db::Connection) -> Result<Vec<StoredSigningKey>, Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, rowid DESC"
    ))?;
    let rows = stmt.query_map(params![], StoredSigningKey::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn version_of(conn: &super::db::Connection) -> Result<i64, Error> {
    Ok(conn
        .prepare_cached("SELECT version FROM signing_keys_version WHERE id = 1")
        .and_then(|mut stmt| stmt.query_row(params![], |row| row.get(0)).optional())
        .map(Option::unwrap_or_default)?)
}

fn insert(tx: &Transaction, key: &StoredSigningKey) -> Result<(), Error> {
    tx.prepare_cached(&format!(
        "INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.kid,
            key.secret,
            key.is_configured,
            key.created_at,
            key.superseded_at,
            key.retired_at
        ])
    })?;
    Ok(())
}

/// Appends `signing_key.rotated` by `audit`: `kid` signs from now on; `superseded` lists the
/// kids that stopped signing (details). Never the secret.
fn append_rotated(
    tx: &Transaction,
    audit: &Audit,
    kid: &str,
    superseded: &[String],
    now: i64,
) -> Result<(), Error> {
    let event = audit
        .event(AuditAction::SigningKeyRotated, now)
        .target("signing_key", kid, Some(kid))
        .details(serde_json::json!({ "superseded": superseded }));
    append(tx, &event).map(|_| ())
}

/// Appends `signing_key.retired` by `audit` for `kid`.
fn append_retired(tx: &Transaction, audit: &Audit, kid: &str, now: i64) -> Result<(), Error> {
    let event =
        audit
            .event(AuditAction::SigningKeyRetired, now)
            .target("signing_key", kid, Some(kid));
    append(tx, &event).map(|_| ())
}

impl Store {
    /// Every stored signing key (retired ones included), newest first.
    pub fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, Error> {
        all_keys(&*self.conn()?)
    }

    /// The change counter of the signing keys and every key, read in one transaction so the
    /// two agree.
    pub fn signing_keys_with_version(&self) -> Result<(i64, Vec<StoredSigningKey>), Error> {
        self.read(|tx| Ok((version_of(tx)?, all_keys(tx)?)))
    }

    /// The change counter alone: one primary-key read, for the rare paths (signing a token)
    /// that must see a rotation made by another process at once.
    pub fn signing_keys_version(&self) -> Result<i64, Error> {
        version_of(&*self.conn()?)
    }

    /// Stores `key` only if no generated key is current (first start, race-free between a
    /// server and a CLI command starting together); returns the keys afterwards. Storing it
    /// appends `signing_key.rotated` by `audit` (nothing superseded) in the same transaction.
    pub fn ensure_signing_key(
        &self,
        key: &StoredSigningKey,
        audit: &Audit,
    ) -> Result<Vec<StoredSigningKey>, Error> {
        self.write(|tx| {
            let current: i64 = tx.query_row(
                "SELECT count(*) FROM signing_keys WHERE is_configured = 0 \
                 AND superseded_at IS NULL AND retired_at IS NULL",
                params![],
                |row| row.get(0),
            )?;
            if current == 0 {
                insert(tx, key)?;
                append_rotated(tx, audit, &key.kid, &[], key.created_at)?;
            }
            all_keys(tx)
        })
    }

    /// `secret rotate`: in one transaction, marks the current generated key(s) superseded at
    /// `key.created_at` and stores `key`, which signs from then on, with its
    /// `signing_key.rotated` event by `audit`. Returns the kids that were superseded.
    pub fn rotate_signing_key(
        &self,
        key: &StoredSigningKey,
        audit: &Audit,
    ) -> Result<Vec<String>, Error> {
        self.write(|tx| {
            let superseded: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "UPDATE signing_keys SET superseded_at = ?1 WHERE is_configured = 0 \
                     AND superseded_at IS NULL AND retired_at IS NULL RETURNING kid",
                )?;
                let rows = stmt.query_map(params![key.created_at], |row| row.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            insert(tx, key)?;
            append_rotated(tx, audit, &key.kid, &superseded, key.created_at)?;
            Ok(superseded)
        })
    }

    /// `secret retire --kid K`: retires a generated, non-current key and erases its secret.
    /// Refuses (changing nothing, recording nothing) the current key and configured keys; a
    /// retirement appends `signing_key.retired` by `audit` in the same transaction.
    pub fn retire_signing_key(
        &self,
        kid: &str,
        audit: &Audit,
        now: i64,
    ) -> Result<RetireOutcome, Error> {
        self.write(|tx| {
            let found = tx
                .prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} FROM signing_keys WHERE kid = ?1"
                ))
                .and_then(|mut stmt| {
                    stmt.query_row(params![kid], StoredSigningKey::from_row)
                        .optional()
                })?;
            let Some(key) = found else {
                return Ok(RetireOutcome::Unknown);
            };
            if key.is_configured {
                return Ok(RetireOutcome::Configured);
            }
            if key.retired_at.is_some() {
                return Ok(RetireOutcome::AlreadyRetired);
            }
            if key.superseded_at.is_none() {
                return Ok(RetireOutcome::Current);
            }
            tx.prepare_cached(
                "UPDATE signing_keys SET retired_at = ?2, secret = NULL WHERE kid = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![kid, now]))?;
            append_retired(tx, audit, kid, now)?;
            Ok(RetireOutcome::Retired)
        })
    }

    /// `secret retire --all-but-current`: retires every superseded generated key and erases
    /// their secrets; returns their kids (empty when there was none). Each retired key gets
    /// its own `signing_key.retired` event by `audit`, in the same transaction.
    pub fn retire_superseded_signing_keys(
        &self,
        audit: &Audit,
        now: i64,
    ) -> Result<Vec<String>, Error> {
        self.write(|tx| {
            let retired: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "UPDATE signing_keys SET retired_at = ?1, secret = NULL \
                     WHERE is_configured = 0 AND superseded_at IS NOT NULL \
                     AND retired_at IS NULL RETURNING kid",
                )?;
                let rows = stmt.query_map(params![now], |row| row.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for kid in &retired {
                append_retired(tx, audit, kid, now)?;
            }
            Ok(retired)
        })
    }

    /// Records what the configuration holds at server start, in one transaction, and returns
    /// every configured key afterwards (newest first).
    ///
    /// `signing` is the kid of `jwt_secret` (`None` when it is not set) and `fallbacks` the
    /// kids of `jwt_secret_fallbacks`. The signing key's row is current (created at `now` the
    /// first time). A fallback is superseded at `now` the first time a start sees it no
    /// longer signing; an earlier moment, once recorded, is kept, so restarts do not widen
    /// what it verifies. Every other configured key is retired at `now` (removed from the
    /// configuration); one that comes back is un-retired, since the configuration owns it.
    ///
    /// A configured key that starts signing appends `signing_key.rotated` (details: the
    /// configured keys it supersedes) and one removed from the configuration appends
    /// `signing_key.retired`, by `audit` (the server at start), in the same transaction.
    pub fn record_configured_keys(
        &self,
        signing: Option<&str>,
        fallbacks: &[String],
        audit: &Audit,
        now: i64,
    ) -> Result<Vec<StoredSigningKey>, Error> {
        self.write(|tx| {
            let existing: Vec<StoredSigningKey> = all_keys(tx)?
                .into_iter()
                .filter(|key| key.is_configured)
                .collect();
            let find = |kid: &str| existing.iter().find(|key| key.kid == kid);
            let update = |kid: &str,
                          superseded_at: Option<i64>,
                          retired_at: Option<i64>|
             -> Result<(), Error> {
                Ok(tx
                    .prepare_cached(
                        "UPDATE signing_keys SET superseded_at = ?2, retired_at = ?3 \
                         WHERE kid = ?1 AND is_configured = 1 \
                         AND (superseded_at IS DISTINCT FROM ?2 OR retired_at IS DISTINCT FROM ?3)",
                    )
                    .and_then(|mut stmt| stmt.execute(params![kid, superseded_at, retired_at]))
                    .map(|_| ())?)
            };
            let configured = |kid: &str, superseded_at: Option<i64>| StoredSigningKey {
                kid: kid.to_owned(),
                secret: None,
                is_configured: true,
                created_at: now,
                superseded_at,
                retired_at: None,
            };
            if let Some(kid) = signing {
                match find(kid) {
                    Some(_) => update(kid, None, None)?,
                    None => {
                        insert(tx, &configured(kid, None))?;
                        let superseded: Vec<String> = existing
                            .iter()
                            .filter(|key| key.is_current())
                            .map(|key| key.kid.clone())
                            .collect();
                        append_rotated(tx, audit, kid, &superseded, now)?;
                    }
                }
            }
            for kid in fallbacks {
                match find(kid) {
                    Some(key) => update(kid, Some(key.superseded_at.unwrap_or(now)), None)?,
                    None => insert(tx, &configured(kid, Some(now)))?,
                }
            }
            for key in &existing {
                let kept = signing == Some(key.kid.as_str()) || fallbacks.contains(&key.kid);
                if !kept && key.retired_at.is_none() {
                    update(&key.kid, Some(key.superseded_at.unwrap_or(now)), Some(now))?;
                    append_retired(tx, audit, &key.kid, now)?;
                }
            }
            Ok(all_keys(tx)?
                .into_iter()
                .filter(|key| key.is_configured)
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    fn key(kid: &str, at: i64) -> StoredSigningKey {
        StoredSigningKey::generated(kid.into(), vec![7; 32], at)
    }

    fn by_kid(store: &Store, kid: &str) -> StoredSigningKey {
        store
            .signing_keys()
            .unwrap()
            .into_iter()
            .find(|key| key.kid == kid)
            .unwrap()
    }

    #[test]
    fn first_key_is_kept_and_rotation_puts_newest_first() {
        let temp = temp_store();
        let store = &temp.store;
        assert_eq!(
            store
                .ensure_signing_key(&key("a", 1), &Audit::cli("test"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .ensure_signing_key(&key("b", 2), &Audit::cli("test"))
                .unwrap()[0]
                .kid,
            "a"
        );
        assert_eq!(
            store
                .rotate_signing_key(&key("c", 3), &Audit::cli("test"))
                .unwrap(),
            ["a"]
        );
        let kids: Vec<_> = store
            .signing_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(kids, ["c", "a"]);
    }

    #[test]
    fn rotation_records_the_moment_the_old_key_stopped_signing() {
        let temp = temp_store();
        let store = &temp.store;
        store
            .ensure_signing_key(&key("a", 100), &Audit::cli("test"))
            .unwrap();
        store
            .rotate_signing_key(&key("b", 250), &Audit::cli("test"))
            .unwrap();
        let old = by_kid(store, "a");
        assert_eq!(old.superseded_at, Some(250));
        assert!(!old.is_current());
        assert!(by_kid(store, "b").is_current());
        // A later first start finds a current key and adds none.
        assert_eq!(
            store
                .ensure_signing_key(&key("z", 300), &Audit::cli("test"))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn every_change_bumps_the_version() {
        let temp = temp_store();
        let store = &temp.store;
        let v0 = store.signing_keys_version().unwrap();
        store
            .ensure_signing_key(&key("a", 1), &Audit::cli("test"))
            .unwrap();
        let v1 = store.signing_keys_version().unwrap();
        store
            .rotate_signing_key(&key("b", 2), &Audit::cli("test"))
            .unwrap();
        let v2 = store.signing_keys_version().unwrap();
        store
            .retire_signing_key("a", &Audit::cli("test"), 3)
            .unwrap();
        let (v3, keys) = store.signing_keys_with_version().unwrap();
        assert!(v0 < v1 && v1 < v2 && v2 < v3, "{v0} {v1} {v2} {v3}");
        assert_eq!(keys.len(), 2);
        // Nothing to change: no bump.
        store
            .ensure_signing_key(&key("c", 4), &Audit::cli("test"))
            .unwrap();
        assert_eq!(store.signing_keys_version().unwrap(), v3);
    }

    #[test]
    fn retiring_erases_the_secret_and_refuses_current_unknown_and_repeated() {
        let temp = temp_store();
        let store = &temp.store;
        store
            .ensure_signing_key(&key("a", 1), &Audit::cli("test"))
            .unwrap();
        assert_eq!(
            store
                .retire_signing_key("a", &Audit::cli("test"), 2)
                .unwrap(),
            RetireOutcome::Current
        );
        assert_eq!(
            store
                .retire_signing_key("nope", &Audit::cli("test"), 2)
                .unwrap(),
            RetireOutcome::Unknown
        );
        store
            .rotate_signing_key(&key("b", 3), &Audit::cli("test"))
            .unwrap();
        assert_eq!(
            store
                .retire_signing_key("a", &Audit::cli("test"), 4)
                .unwrap(),
            RetireOutcome::Retired
        );
        let retired = by_kid(store, "a");
        assert_eq!(retired.retired_at, Some(4));
        assert_eq!(retired.secret, None);
        assert_eq!(
            store
                .retire_signing_key("a", &Audit::cli("test"), 5)
                .unwrap(),
            RetireOutcome::AlreadyRetired
        );
        assert_eq!(by_kid(store, "a").retired_at, Some(4));
        assert!(by_kid(store, "b").is_current());
    }

    #[test]
    fn retire_all_but_current_keeps_only_the_signing_key() {
        let temp = temp_store();
        let store = &temp.store;
        store
            .ensure_signing_key(&key("a", 1), &Audit::cli("test"))
            .unwrap();
        store
            .rotate_signing_key(&key("b", 2), &Audit::cli("test"))
            .unwrap();
        store
            .rotate_signing_key(&key("c", 3), &Audit::cli("test"))
            .unwrap();
        let mut retired = store
            .retire_superseded_signing_keys(&Audit::cli("test"), 9)
            .unwrap();
        retired.sort();
        assert_eq!(retired, ["a", "b"]);
        assert!(store
            .retire_superseded_signing_keys(&Audit::cli("test"), 10)
            .unwrap()
            .is_empty());
        assert!(by_kid(store, "c").is_current());
    }

    #[test]
    fn configured_keys_keep_their_first_takeover_moment_and_retire_when_removed() {
        let temp = temp_store();
        let store = &temp.store;
        store
            .record_configured_keys(Some("cfg-a"), &[], &Audit::cli("test"), 10)
            .unwrap();
        assert_eq!(
            store
                .retire_signing_key("cfg-a", &Audit::cli("test"), 11)
                .unwrap(),
            RetireOutcome::Configured
        );
        // The secret changes: the old one is now a fallback, superseded at this start.
        let fallbacks = vec!["cfg-a".to_owned()];
        store
            .record_configured_keys(Some("cfg-b"), &fallbacks, &Audit::cli("test"), 20)
            .unwrap();
        assert_eq!(by_kid(store, "cfg-a").superseded_at, Some(20));
        assert!(by_kid(store, "cfg-b").is_current());
        // A later restart with the same configuration keeps the first moment.
        store
            .record_configured_keys(Some("cfg-b"), &fallbacks, &Audit::cli("test"), 30)
            .unwrap();
        assert_eq!(by_kid(store, "cfg-a").superseded_at, Some(20));
        // Removing the fallback retires it.
        let keys = store
            .record_configured_keys(Some("cfg-b"), &[], &Audit::cli("test"), 40)
            .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(by_kid(store, "cfg-a").retired_at, Some(40));
        // A fallback never seen signing is superseded at its first start.
        store
            .record_configured_keys(
                Some("cfg-b"),
                &["cfg-c".to_owned()],
                &Audit::cli("test"),
                50,
            )
            .unwrap();
        assert_eq!(by_kid(store, "cfg-c").superseded_at, Some(50));
        // Without jwt_secret every configured key is retired; generated keys are untouched.
        store
            .ensure_signing_key(&key("gen", 55), &Audit::cli("test"))
            .unwrap();
        store
            .record_configured_keys(None, &[], &Audit::cli("test"), 60)
            .unwrap();
        for kid in ["cfg-b", "cfg-c"] {
            assert_eq!(by_kid(store, kid).retired_at, Some(60), "{kid}");
        }
        assert!(by_kid(store, "gen").is_current());
        assert!(by_kid(store, "cfg-a").secret.is_none());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        assert!(!format!("{:?}", key("a", 1)).contains("7, 7"));
    }
}
