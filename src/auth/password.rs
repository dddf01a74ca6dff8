//! Password hashing with Argon2id in PHC string format.
//!
//! Three properties matter beyond "hash and verify":
//! * **No user enumeration by timing.** An unknown email is answered after the same Argon2
//!   work as a wrong password, by verifying against a dummy hash made at start-up with the
//!   configured parameters.
//! * **Bounded CPU.** At most `max_concurrent` hashes run at once; further callers wait their
//!   turn, so a login flood occupies a known number of cores and the rest keep serving.
//! * **Upgrades.** A hash made with other parameters verifies and reports `needs_rehash`, so
//!   the caller can store a fresh hash after a successful login.
//! * **Bounded memory.** Each hash needs `m` KiB (19 MiB by default). Freshly allocating that
//!   per login leaves the allocator holding hundreds of MiB after a burst, so each hashing slot
//!   reuses one buffer: memory for hashing stays at `max_concurrent x m` KiB.

use argon2::password_hash::{Output, PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Condvar, Mutex};
use subtle::ConstantTimeEq;

/// Bytes of a new hash's output.
const HASH_BYTES: usize = 32;
/// Bytes of a new hash's salt.
const SALT_BYTES: usize = 16;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP's recommended minimum for Argon2id: m=19456 KiB, t=2, p=1.
    pub const OWASP: HashParams = HashParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password matches; `needs_rehash` is true when the hash used other parameters.
    Match {
        /// Whether the stored hash should be replaced by one with the current parameters.
        needs_rehash: bool,
    },
    /// The password does not match, or the stored hash is unreadable.
    Mismatch,
}

/// Hashes and verifies passwords with a bounded number of concurrent computations.
pub struct PasswordHasher {
    params: HashParams,
    argon2: Argon2<'static>,
    dummy_hash: String,
    permits: Mutex<usize>,
    permit_freed: Condvar,
    /// Argon2 working memory, one buffer per slot in use at most, reused across hashes.
    buffers: Mutex<Vec<Vec<Block>>>,
    block_count: usize,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The parameters cannot be used by Argon2 (e.g. memory below 8 x parallelism).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParams(pub String);

impl PasswordHasher {
    /// A hasher with `params` that runs at most `max_concurrent` (>= 1) hashes at once.
    /// Computes the dummy hash used for unknown users, so construction costs one hash.
    pub fn new(params: HashParams, max_concurrent: usize) -> Result<Self, BadParams> {
        let argon2_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|err| BadParams(err.to_string()))?;
        let block_count = argon2_params.block_count();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        let mut hasher = PasswordHasher {
            params,
            argon2,
            dummy_hash: String::new(),
            permits: Mutex::new(max_concurrent.max(1)),
            permit_freed: Condvar::new(),
            buffers: Mutex::new(Vec::new()),
            block_count,
        };
        let mut filler = [0u8; 24];
        crate::ids::random_bytes(&mut filler);
        hasher.dummy_hash = hasher
            .hash(&crate::ids::to_hex(&filler))
            .map_err(|err| BadParams(err.0))?;
        Ok(hasher)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// A PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`) for `password` with a fresh
    /// 16-byte random salt.
    pub fn hash(&self, password: &str) -> Result<String, BadParams> {
        let mut salt = [0u8; SALT_BYTES];
        crate::ids::random_bytes(&mut salt);
        let salt_text = SaltString::encode_b64(&salt).map_err(|err| BadParams(err.to_string()))?;
        let mut out = [0u8; HASH_BYTES];
        self.compute(password.as_bytes(), &salt, &mut out)?;
        let output = Output::new(&out).map_err(|err| BadParams(err.to_string()))?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            salt_text.as_str(),
            output
        ))
    }

    /// Checks `password` against the PHC string `stored`, with the parameters recorded in it.
    pub fn verify(&self, password: &str, stored: &str) -> Verdict {
        let Ok(parsed) = PasswordHash::new(stored) else {
            // An unreadable stored hash still costs the same work, and never matches.
            self.burn(password);
            return Verdict::Mismatch;
        };
        let current = self.uses_current_params(&parsed);
        let matched = if current {
            self.matches_with_current_params(password, &parsed)
        } else {
            // Older parameters: let the library size its own memory for this one hash.
            let _permit = self.acquire();
            self.argon2
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        };
        if matched {
            Verdict::Match {
                needs_rehash: !current,
            }
        } else {
            Verdict::Mismatch
        }
    }

    /// Recomputes a hash made with the current parameters in a reused buffer and compares
    /// it in constant time.
    fn matches_with_current_params(&self, password: &str, parsed: &PasswordHash<'_>) -> bool {
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        self.compute(password.as_bytes(), salt, &mut out).is_ok()
            && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    }

    /// Runs Argon2id with the current parameters in one of the bounded slots and its buffer.
    fn compute(&self, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), BadParams> {
        let _permit = self.acquire();
        let reused = self.buffers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut memory = reused.unwrap_or_else(|| vec![Block::default(); self.block_count]);
        let result = self
            .argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory)
            .map_err(|err| BadParams(err.to_string()));
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(memory);
        result
    }

    /// Spends the work of one verification and discards the result: the answer for an unknown
    /// email must take as long as the answer for a wrong password.
    pub fn burn(&self, password: &str) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy_hash) {
            let _ = self.matches_with_current_params(password, &parsed);
        }
    }

    fn uses_current_params(&self, parsed: &PasswordHash<'_>) -> bool {
        let field = |name: &str| parsed.params.get_decimal(name).unwrap_or(u32::MAX);
        parsed.algorithm.as_str() == "argon2id"
            && parsed.version == Some(0x13)
            && field("m") == self.params.memory_kib
            && field("t") == self.params.iterations
            && field("p") == self.params.parallelism
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.permits.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self
                .permit_freed
                .wait(free)
                .unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Permit { hasher: self }
    }
}

/// One of the bounded hashing slots; returned on drop, also when hashing panics.
struct Permit<'a> {
    hasher: &'a PasswordHasher,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut free = self
            .hasher
            .permits
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *free += 1;
        self.hasher.permit_freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Small parameters keep the tests fast; the logic is the same.
    const FAST: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn hash_is_argon2id_phc_and_verifies() {
        let hasher = PasswordHasher::new(FAST, 2).unwrap();
        let hash = hasher.hash("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert_eq!(
            hasher.verify("correct horse", &hash),
            Verdict::Match {
                needs_rehash: false
            }
        );
        assert_eq!(hasher.verify("wrong horse", &hash), Verdict::Mismatch);
    }

    #[test]
    fn hash_with_older_params_needs_rehash() {
        let old = PasswordHasher::new(FAST, 1).unwrap();
        let hash = old.hash("correct horse").unwrap();
        let newer = PasswordHasher::new(
            HashParams {
                memory_kib: 128,
                ..FAST
            },
            1,
        )
        .unwrap();
        assert_eq!(
            newer.verify("correct horse", &hash),
            Verdict::Match { needs_rehash: true }
        );
    }

    #[test]
    fn owasp_defaults_are_the_documented_ones() {
        let hasher = PasswordHasher::new(HashParams::OWASP, 1).unwrap();
        let hash = hasher.hash("password123").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[test]
    fn unreadable_stored_hash_never_matches() {
        let hasher = PasswordHasher::new(FAST, 1).unwrap();
        assert_eq!(hasher.verify("anything1", "not a hash"), Verdict::Mismatch);
        assert_eq!(hasher.verify("anything1", ""), Verdict::Mismatch);
    }

    #[test]
    fn same_password_gets_distinct_salts() {
        let hasher = PasswordHasher::new(FAST, 1).unwrap();
        assert_ne!(
            hasher.hash("password1").unwrap(),
            hasher.hash("password1").unwrap()
        );
    }

    #[test]
    fn hashes_agree_with_the_reference_implementation_both_ways() {
        use argon2::password_hash::PasswordHasher as _;
        let hasher = PasswordHasher::new(FAST, 1).unwrap();
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let ours = hasher.hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(reference.verify_password(b"correct horse", &parsed).is_ok());
        assert!(reference.verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = reference
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            hasher.verify("correct horse", &theirs),
            Verdict::Match {
                needs_rehash: false
            }
        );
        assert_eq!(hasher.verify("wrong horse", &theirs), Verdict::Mismatch);
    }

    #[test]
    fn buffers_are_reused_not_multiplied() {
        let hasher = PasswordHasher::new(FAST, 2).unwrap();
        for i in 0..5 {
            hasher.hash(&format!("password{i}")).unwrap();
        }
        assert_eq!(hasher.buffers.lock().unwrap().len(), 1);
    }

    #[test]
    fn impossible_params_are_refused() {
        let bad = HashParams {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
        };
        assert!(PasswordHasher::new(bad, 1).is_err());
    }

    #[test]
    fn concurrent_hashing_respects_the_bound() {
        let hasher = Arc::new(PasswordHasher::new(FAST, 1).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let hasher = Arc::clone(&hasher);
                std::thread::spawn(move || hasher.hash(&format!("password{i}")).unwrap())
            })
            .collect();
        for thread in threads {
            assert!(thread.join().unwrap().starts_with("$argon2id$"));
        }
        assert_eq!(*hasher.permits.lock().unwrap(), 1);
    }
}
