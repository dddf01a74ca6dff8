//! The JWT signing keys the server signs and verifies with.
//!
//! With `jwt_secret` configured, that secret is the one key. Otherwise keys live in the
//! database: one is generated on first start, `shipstar secret rotate` adds newer ones, and
//! older ones keep verifying the tokens they signed. The ring re-reads the database every
//! [`RELOAD_SECS`] seconds, so a rotation done by the CLI next to a running server takes
//! effect without a restart.

use crate::auth::jwt::SigningKey;
use crate::error::Error;
use crate::store::{Store, StoredSigningKey};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};

/// How often the database keys are re-read.
pub const RELOAD_SECS: i64 = 30;
/// Bytes of a generated signing secret.
pub const GENERATED_SECRET_BYTES: usize = 32;

/// The signing keys, newest (the one that signs) first.
pub struct KeyRing {
    configured: Option<Arc<Vec<SigningKey>>>,
    loaded: RwLock<(Arc<Vec<SigningKey>>, i64)>,
}

impl KeyRing {
    /// A ring for `configured_secret` if given, else the database's keys (generating the
    /// first one if there is none).
    pub fn open(store: &Store, configured_secret: Option<&[u8]>, now: i64) -> Result<Self, Error> {
        if let Some(secret) = configured_secret {
            let key = SigningKey {
                kid: configured_kid(secret),
                secret: secret.to_vec(),
            };
            let keys = Arc::new(vec![key]);
            return Ok(KeyRing {
                configured: Some(Arc::clone(&keys)),
                loaded: RwLock::new((keys, now)),
            });
        }
        let stored = store.ensure_signing_key(&generate(now))?;
        Ok(KeyRing {
            configured: None,
            loaded: RwLock::new((Arc::new(convert(stored)), now)),
        })
    }

    /// The keys as of at most [`RELOAD_SECS`] ago. A failed reload keeps the previous keys.
    pub fn keys(&self, store: &Store, now: i64) -> Arc<Vec<SigningKey>> {
        if let Some(keys) = &self.configured {
            return Arc::clone(keys);
        }
        {
            let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            if now - loaded.1 < RELOAD_SECS {
                return Arc::clone(&loaded.0);
            }
        }
        let mut loaded = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        if now - loaded.1 >= RELOAD_SECS {
            if let Ok(stored) = store.signing_keys() {
                if !stored.is_empty() {
                    loaded.0 = Arc::new(convert(stored));
                }
            }
            loaded.1 = now;
        }
        Arc::clone(&loaded.0)
    }
}

/// A new random signing key for the database.
pub fn generate(now: i64) -> StoredSigningKey {
    let mut secret = vec![0u8; GENERATED_SECRET_BYTES];
    crate::ids::random_bytes(&mut secret);
    StoredSigningKey {
        kid: crate::ids::random_hex(8),
        secret,
        created_at: now,
    }
}

/// The key id of a configured secret: a short hash, so tokens name the key without revealing
/// anything about it, and changing the secret changes the id.
fn configured_kid(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    format!("cfg-{}", crate::ids::to_hex(&digest[..6]))
}

fn convert(stored: Vec<StoredSigningKey>) -> Vec<SigningKey> {
    stored
        .into_iter()
        .map(|key| SigningKey {
            kid: key.kid,
            secret: key.secret,
        })
        .collect()
}
