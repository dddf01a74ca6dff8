//! The JWT signing keys the server signs and verifies with (contract: `auth.md`, "Signing
//! keys").
//!
//! Two sources, never mixed:
//!
//! - **Configured** (`jwt_secret` set): the configuration owns the keys. `jwt_secret` signs;
//!   each of `jwt_secret_fallbacks` still verifies the tokens it signed before it stopped
//!   signing. That moment is not in the configuration, so the first start that sees a secret
//!   as a fallback (or not at all) records it in the database; a fallback then verifies only
//!   tokens with `iat` at or before it. Removing a fallback from the configuration retires it.
//!   The set is fixed for the life of the process: changing it means a restart.
//! - **Database** (no `jwt_secret`): one key is generated on first start, `shipstar secret
//!   rotate` adds a newer one that signs from then on (the older keeps verifying only tokens
//!   issued at or before the rotation), and `shipstar secret retire` removes a key from the
//!   verifying set.
//!
//! Why the in-memory copy is never stale where it matters, without a query per request: every
//! change to the key table bumps a counter that the session lookup (done for every token
//! anyway) returns in the same statement. [`KeyRing::confirm`] compares it with the counter the
//! cached keys were read at and, when they differ, reloads and checks the token again, so a
//! retirement takes effect on the next request. Signing (login, refresh: rare, and already
//! costly) reads the counter first, so a rotation made by the CLI next to a running server
//! signs the very next token. A token naming a kid the cache does not know reads the counter
//! (one single-row read) and reloads only when it moved: a key added since the last read (by
//! the CLI, or another node's start) verifies at once on every node of a deployment, while a
//! made-up kid costs that one read and never a reload, as a made-up API key costs its one
//! lookup.
//!
//! Every failure here is the same 401 as any other bad session token.

use crate::auth::jwt::{self, Claims, JwtError, SigningKey, Validation, VerifyingKey};
use crate::error::{AuthFailure, Error};
use crate::store::{Audit, Store, StoredSigningKey};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};

/// Bytes of a generated signing secret.
pub const GENERATED_SECRET_BYTES: usize = 32;

/// The keys as read at one moment.
struct Loaded {
    /// `signing_keys_version` when read (unused for configured keys, which never reload).
    version: i64,
    /// The verifying set: the signing key first, then older ones, each with its bound, each
    /// prepared once for the checks of every request.
    keys: Vec<VerifyingKey>,
}

/// The server's signing keys; see the module docs for the rules.
pub struct KeyRing {
    configured: bool,
    loaded: RwLock<Arc<Loaded>>,
}

/// A token whose signature, claims and key bound passed, awaiting [`KeyRing::confirm`]
/// against the key counter read with its session.
#[derive(Debug)]
pub struct Verified<'t> {
    /// The token's claims.
    pub claims: Claims,
    token: &'t str,
    validation: Validation,
    keys_version: i64,
}

/// The configured secrets: `jwt_secret` and `jwt_secret_fallbacks`.
pub struct ConfiguredSecrets<'a> {
    /// `jwt_secret`: signs every token.
    pub signing: &'a [u8],
    /// `jwt_secret_fallbacks`: verify tokens they signed before they stopped signing.
    pub fallbacks: Vec<&'a [u8]>,
}

fn unauthorized() -> Error {
    Error::Unauthorized(AuthFailure::Session)
}

impl KeyRing {
    /// The ring for `configured` secrets if given, else the database's keys.
    ///
    /// With secrets configured, records in the database when each fallback stopped signing
    /// (first start that sees it so) and retires configured keys no longer listed. Without,
    /// retires every configured key (the configuration no longer holds them) and generates
    /// the first database key if none signs yet.
    pub fn open(
        store: &Store,
        configured: Option<&ConfiguredSecrets<'_>>,
        now: i64,
    ) -> Result<Self, Error> {
        // Key changes made here are the server's own, at start.
        let start = Audit::system("server start");
        let Some(secrets) = configured else {
            store.record_configured_keys(None, &[], &start, now)?;
            store.ensure_signing_key(&generate(now), &start)?;
            return Ok(KeyRing {
                configured: false,
                loaded: RwLock::new(Arc::new(load(store)?)),
            });
        };
        let signing_kid = configured_kid(secrets.signing);
        let fallback_kids: Vec<String> = secrets
            .fallbacks
            .iter()
            .map(|secret| configured_kid(secret))
            .collect();
        let rows = store.record_configured_keys(Some(&signing_kid), &fallback_kids, &start, now)?;
        let mut keys = vec![SigningKey::new(signing_kid, secrets.signing.to_vec())];
        for (kid, secret) in fallback_kids.into_iter().zip(&secrets.fallbacks) {
            // The row was just written, so it is there; `now` is the safe bound otherwise.
            let until = rows
                .iter()
                .find(|row| row.kid == kid)
                .and_then(|row| row.superseded_at)
                .unwrap_or(now);
            keys.push(SigningKey {
                kid,
                secret: secret.to_vec(),
                issued_until: Some(until),
            });
        }
        Ok(KeyRing {
            configured: true,
            loaded: RwLock::new(Arc::new(Loaded {
                version: 0,
                keys: keys.into_iter().map(VerifyingKey::new).collect(),
            })),
        })
    }

    fn snapshot(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The cached keys if read at `version` or later, else freshly read ones (cached).
    fn at_least(&self, store: &Store, version: i64) -> Result<Arc<Loaded>, Error> {
        let mut loaded = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        if loaded.version < version {
            *loaded = Arc::new(load(store)?);
        }
        Ok(Arc::clone(&loaded))
    }

    /// Checks `token` against the cached keys: every rule of [`jwt::verify`], including the
    /// rotation bound of an older key. Session and user checks follow, then [`Self::confirm`].
    /// Any failure is the session 401.
    pub fn verify<'t>(
        &self,
        store: &Store,
        token: &'t str,
        validation: &Validation,
        now: i64,
    ) -> Result<Verified<'t>, Error> {
        let mut loaded = self.snapshot();
        let mut outcome = jwt::verify_with(token, &loaded.keys, validation, now);
        if outcome == Err(JwtError::UnknownKey) && !self.configured {
            // Maybe a key added since the last read (another node signs with it already):
            // the counter says so, and only then are the keys read again.
            let version = store.signing_keys_version()?;
            if version > loaded.version {
                loaded = self.at_least(store, version)?;
                outcome = jwt::verify_with(token, &loaded.keys, validation, now);
            }
        }
        let claims = outcome.map_err(|_| unauthorized())?;
        Ok(Verified {
            claims,
            token,
            validation: validation.clone(),
            keys_version: loaded.version,
        })
    }

    /// Completes [`Self::verify`] once the session lookup returned `keys_version`, the key
    /// table's counter now: if the keys changed since they were cached (a rotation or
    /// retirement by the CLI), reloads them and checks the token again, so a retired key's
    /// tokens fail on the next request. Costs nothing when nothing changed.
    pub fn confirm(
        &self,
        store: &Store,
        verified: &Verified<'_>,
        keys_version: i64,
        now: i64,
    ) -> Result<(), Error> {
        if self.configured || keys_version == verified.keys_version {
            return Ok(());
        }
        let loaded = self.at_least(store, keys_version)?;
        jwt::verify_with(verified.token, &loaded.keys, &verified.validation, now)
            .map(|_| ())
            .map_err(|_| unauthorized())
    }

    /// The key that signs a token issued now. With database keys, reads the key counter first
    /// (one indexed read; signing is rare) so a rotation made next to the running server
    /// signs the very next token, which later checks then accept.
    pub fn signing_key(&self, store: &Store) -> Result<SigningKey, Error> {
        let loaded = if self.configured {
            self.snapshot()
        } else {
            self.at_least(store, store.signing_keys_version()?)?
        };
        loaded
            .keys
            .first()
            .map(VerifyingKey::key)
            .filter(|key| key.issued_until.is_none())
            .cloned()
            .ok_or_else(|| Error::Internal("no current JWT signing key".into()))
    }
}

/// Reads the database keys: the verifying set is every generated key not retired, the current
/// one first, each older one bounded by its rotation moment.
fn load(store: &Store) -> Result<Loaded, Error> {
    let (version, stored) = store.signing_keys_with_version()?;
    let mut keys: Vec<SigningKey> = stored
        .into_iter()
        .filter(|key| !key.is_configured && key.retired_at.is_none())
        .filter_map(|key| {
            let secret = key.secret?;
            Some(SigningKey {
                kid: key.kid,
                secret,
                issued_until: key.superseded_at,
            })
        })
        .collect();
    // Stable: the current key first, the rest stay newest first.
    keys.sort_by_key(|key| key.issued_until.is_some());
    Ok(Loaded {
        version,
        keys: keys.into_iter().map(VerifyingKey::new).collect(),
    })
}

/// A new random signing key for the database, signing from `now`.
pub fn generate(now: i64) -> StoredSigningKey {
    let mut secret = vec![0u8; GENERATED_SECRET_BYTES];
    crate::ids::random_bytes(&mut secret);
    StoredSigningKey::generated(crate::ids::random_hex(8), secret, now)
}

/// The key id of a configured secret: a short hash, so tokens name the key without revealing
/// anything about it, and changing the secret changes the id.
pub fn configured_kid(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    format!("cfg-{}", crate::ids::to_hex(&digest[..6]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt::{sign, AUDIENCE};
    use crate::clock::Clock;
    use crate::store::tests::temp_store;

    const START: i64 = 1_700_000_000;
    const LIFETIME: i64 = 3600;
    const GRACE: i64 = 86_400;

    fn claims_at(iat: i64) -> Claims {
        Claims {
            sub: "u".into(),
            sid: "s".into(),
            gen: 0,
            iat,
            exp: iat + LIFETIME,
            aud: AUDIENCE.into(),
            jti: "j".into(),
            nbf: None,
        }
    }

    fn ordinary() -> Validation {
        Validation::new(0)
    }

    /// As the refresh route checks: expired accepted, then `exp + grace` must be ahead.
    fn refreshable(ring: &KeyRing, store: &Store, token: &str, now: i64) -> bool {
        let validation = Validation {
            allow_expired: true,
            ..Validation::new(0)
        };
        ring.verify(store, token, &validation, now)
            .is_ok_and(|verified| verified.claims.exp + GRACE > now)
    }

    /// Verify + confirm against the counter as the session lookup would read it.
    fn accepted(ring: &KeyRing, store: &Store, token: &str, now: i64) -> bool {
        let Ok(verified) = ring.verify(store, token, &ordinary(), now) else {
            return false;
        };
        let version = store.signing_keys_version().unwrap();
        ring.confirm(store, &verified, version, now).is_ok()
    }

    /// The secret of a stored key, as someone with a copy of the database reads it.
    fn stolen_secret(store: &Store, kid: &str) -> Vec<u8> {
        store
            .signing_keys()
            .unwrap()
            .into_iter()
            .find(|key| key.kid == kid)
            .and_then(|key| key.secret)
            .unwrap()
    }

    #[test]
    fn old_key_verifies_earlier_tokens_and_refuses_later_ones_after_rotation() {
        let temp = temp_store();
        let store = &temp.store;
        let clock = Clock::fixed(START);
        let ring = KeyRing::open(store, None, clock.now_secs()).unwrap();
        let old = ring.signing_key(store).unwrap();
        let before = sign(&claims_at(clock.now_secs()), &old);

        clock.advance_millis(60_000);
        let rotated_at = clock.now_secs();
        store
            .rotate_signing_key(&generate(rotated_at), &crate::store::Audit::cli("test"))
            .unwrap();
        let new = ring.signing_key(store).unwrap();
        assert_ne!(new.kid, old.kid, "the next token is signed by the new key");

        // Issued before the rotation: still good.
        assert!(accepted(&ring, store, &before, rotated_at + 1));
        // Issued at the rotation second: "at or before" holds.
        let at = sign(&claims_at(rotated_at), &stolen_signing(store, &old.kid));
        assert!(accepted(&ring, store, &at, rotated_at + 1));
        // Minted later with the old secret (a leaked backup): refused.
        let forged = sign(&claims_at(rotated_at + 1), &stolen_signing(store, &old.kid));
        assert!(!accepted(&ring, store, &forged, rotated_at + 2));
        // The new key signs whatever is current.
        let fresh = sign(&claims_at(rotated_at + 5), &new);
        assert!(accepted(&ring, store, &fresh, rotated_at + 6));
    }

    fn stolen_signing(store: &Store, kid: &str) -> SigningKey {
        SigningKey::new(kid, stolen_secret(store, kid))
    }

    #[test]
    fn old_key_token_is_refreshable_until_its_grace_ends_and_not_after() {
        let temp = temp_store();
        let store = &temp.store;
        let ring = KeyRing::open(store, None, START).unwrap();
        let old = ring.signing_key(store).unwrap();
        let before = sign(&claims_at(START), &old);
        store
            .rotate_signing_key(&generate(START + 10), &crate::store::Audit::cli("test"))
            .unwrap();

        let grace_end = START + LIFETIME + GRACE;
        assert!(accepted(&ring, store, &before, START + LIFETIME - 1));
        assert!(
            !accepted(&ring, store, &before, START + LIFETIME),
            "expired"
        );
        assert!(refreshable(&ring, store, &before, grace_end - 1));
        assert!(!refreshable(&ring, store, &before, grace_end));
    }

    #[test]
    fn retired_key_fails_on_the_next_check_despite_the_cache() {
        let temp = temp_store();
        let store = &temp.store;
        let ring = KeyRing::open(store, None, START).unwrap();
        let old = ring.signing_key(store).unwrap();
        let token = sign(&claims_at(START), &old);
        store
            .rotate_signing_key(&generate(START + 10), &crate::store::Audit::cli("test"))
            .unwrap();
        // Cached keys now include the rotation.
        assert!(accepted(&ring, store, &token, START + 11));

        // The CLI retires the key; the next check sees the new counter and refuses, though
        // the token still passes against the cached keys.
        assert!(store
            .retire_signing_key(&old.kid, &crate::store::Audit::cli("test"), START + 12)
            .is_ok());
        let verified = ring.verify(store, &token, &ordinary(), START + 12).unwrap();
        let version = store.signing_keys_version().unwrap();
        assert!(ring.confirm(store, &verified, version, START + 12).is_err());
        // And from then on the kid is unknown.
        assert!(ring.verify(store, &token, &ordinary(), START + 13).is_err());
    }

    #[test]
    fn unchanged_counter_confirms_without_reading_the_keys() {
        let temp = temp_store();
        let store = &temp.store;
        let ring = KeyRing::open(store, None, START).unwrap();
        let token = sign(&claims_at(START), &ring.signing_key(store).unwrap());
        let verified = ring.verify(store, &token, &ordinary(), START).unwrap();
        let version = store.signing_keys_version().unwrap();
        // The same counter: confirmed from memory. Handing it an unrelated, keyless database
        // proves the keys are not read again (had they been, the token would fail).
        let unrelated = temp_store();
        assert!(ring
            .confirm(&unrelated.store, &verified, version, START)
            .is_ok());
        // A different counter does read, and the keyless database refuses the token.
        assert!(ring
            .confirm(&unrelated.store, &verified, version + 1, START)
            .is_err());
    }

    #[test]
    fn a_key_added_elsewhere_verifies_at_once_even_right_after_a_read() {
        let temp = temp_store();
        let store = &temp.store;
        let ring = KeyRing::open(store, None, START).unwrap();
        // The ring read the keys this very second (as a node that just signed has).
        let own = sign(&claims_at(START), &ring.signing_key(store).unwrap());
        assert!(accepted(&ring, store, &own, START));
        let added = generate(START);
        store
            .rotate_signing_key(&added, &crate::store::Audit::cli("test"))
            .unwrap();
        let key = SigningKey::new(added.kid.clone(), added.secret.clone().unwrap());
        // Signed by another node with the key it just saw: accepted in the same second.
        let token = sign(&claims_at(START), &key);
        assert!(accepted(&ring, store, &token, START));
    }

    #[test]
    fn a_made_up_kid_is_refused_and_leaves_the_cached_keys_alone() {
        let temp = temp_store();
        let store = &temp.store;
        let ring = KeyRing::open(store, None, START).unwrap();
        let own = sign(&claims_at(START), &ring.signing_key(store).unwrap());
        let before = ring.snapshot();
        let made_up = sign(
            &claims_at(START),
            &SigningKey::new("made-up".to_string(), vec![b'x'; 32]),
        );
        for at in START..START + 3 {
            assert!(ring.verify(store, &made_up, &ordinary(), at).is_err());
        }
        // The counter did not move, so the keys were not read again.
        assert!(Arc::ptr_eq(&before, &ring.snapshot()));
        assert!(accepted(&ring, store, &own, START + 3));
    }

    #[test]
    fn configured_secret_signs_and_a_fallback_verifies_only_tokens_from_before_the_change() {
        let temp = temp_store();
        let store = &temp.store;
        let old_secret = [b'a'; 32];
        let new_secret = [b'b'; 32];
        let first = ConfiguredSecrets {
            signing: &old_secret,
            fallbacks: vec![],
        };
        let ring = KeyRing::open(store, Some(&first), START).unwrap();
        let old = ring.signing_key(store).unwrap();
        assert_eq!(old.kid, configured_kid(&old_secret));
        let before = sign(&claims_at(START + 5), &old);

        // Restart with a new secret and the old one as fallback.
        let changed_at = START + 100;
        let second = ConfiguredSecrets {
            signing: &new_secret,
            fallbacks: vec![&old_secret],
        };
        let ring = KeyRing::open(store, Some(&second), changed_at).unwrap();
        assert_eq!(
            ring.signing_key(store).unwrap().kid,
            configured_kid(&new_secret)
        );
        assert!(accepted(&ring, store, &before, changed_at + 1));
        let forged = sign(&claims_at(changed_at + 1), &old);
        assert!(!accepted(&ring, store, &forged, changed_at + 2));
        assert!(refreshable(
            &ring,
            store,
            &before,
            START + 5 + LIFETIME + GRACE - 1
        ));
        assert!(!refreshable(
            &ring,
            store,
            &before,
            START + 5 + LIFETIME + GRACE
        ));

        // A later restart does not move the takeover moment forwards.
        let ring = KeyRing::open(store, Some(&second), changed_at + 500).unwrap();
        let still_forged = sign(&claims_at(changed_at + 1), &old);
        assert!(!accepted(&ring, store, &still_forged, changed_at + 501));
        assert!(accepted(&ring, store, &before, changed_at + 501));

        // Removing the fallback retires it.
        let third = ConfiguredSecrets {
            signing: &new_secret,
            fallbacks: vec![],
        };
        let ring = KeyRing::open(store, Some(&third), changed_at + 600).unwrap();
        assert!(!accepted(&ring, store, &before, changed_at + 601));
        let retired = store
            .signing_keys()
            .unwrap()
            .into_iter()
            .find(|key| key.kid == old.kid)
            .unwrap();
        assert_eq!(retired.retired_at, Some(changed_at + 600));
    }

    #[test]
    fn a_fallback_never_seen_signing_verifies_only_tokens_from_before_its_first_start() {
        let temp = temp_store();
        let store = &temp.store;
        let fallback = [b'f'; 32];
        let secrets = ConfiguredSecrets {
            signing: &[b's'; 32],
            fallbacks: vec![&fallback],
        };
        let ring = KeyRing::open(store, Some(&secrets), START).unwrap();
        let key = SigningKey::new(configured_kid(&fallback), fallback.to_vec());
        assert!(accepted(
            &ring,
            store,
            &sign(&claims_at(START), &key),
            START + 1
        ));
        assert!(!accepted(
            &ring,
            store,
            &sign(&claims_at(START + 1), &key),
            START + 2
        ));
    }

    #[test]
    fn database_keys_do_not_verify_while_a_secret_is_configured() {
        let temp = temp_store();
        let store = &temp.store;
        let ring = KeyRing::open(store, None, START).unwrap();
        let generated = ring.signing_key(store).unwrap();
        let token = sign(&claims_at(START), &generated);
        let secrets = ConfiguredSecrets {
            signing: &[b's'; 32],
            fallbacks: vec![],
        };
        let ring = KeyRing::open(store, Some(&secrets), START + 1).unwrap();
        assert!(!accepted(&ring, store, &token, START + 2));
    }
}
