//! API keys: `sk_live_` + 32 random base62 characters + 6 base62 characters of CRC32.
//!
//! The checksum (GitHub's token-format idea) lets the server reject a mistyped or made-up
//! key from its shape alone, before any database lookup, and lets secret scanners recognise
//! a real key. Only the SHA-256 of the whole key is stored: a fast hash is right here because
//! the key carries 190 bits of randomness, so it cannot be guessed whatever the hash speed
//! (unlike a password). The first 8 random characters are kept in clear as `key_prefix`, so
//! people and logs can name a key without holding it.
//!
//! Must not import `http`, `store` or `api`.

use sha2::{Digest, Sha256};

/// Every key starts with this.
pub const PREFIX: &str = "sk_live_";
/// Random base62 characters after the prefix.
pub const RANDOM_CHARS: usize = 32;
/// Base62 characters of the CRC32 checksum at the end.
pub const CHECKSUM_CHARS: usize = 6;
/// Total length of a key.
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
/// Characters after the prefix shown as the key's public identification.
pub const PREFIX_CHARS: usize = 8;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly generated key: the raw key (shown once) and what is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    /// The key itself; never stored or logged.
    pub raw: String,
    /// Hex SHA-256 of `raw`, the lookup value.
    pub hash: String,
    /// `sk_live_` + the first 8 random characters.
    pub key_prefix: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("key_prefix", &self.key_prefix)
            .field("raw", &"***")
            .finish()
    }
}

/// Generates a key from the OS random source (uniform base62 by rejection sampling).
pub fn generate() -> GeneratedKey {
    let mut body = String::with_capacity(KEY_LEN);
    body.push_str(PREFIX);
    let mut pool = [0u8; 64];
    let mut taken = pool.len();
    while body.len() < PREFIX.len() + RANDOM_CHARS {
        if taken == pool.len() {
            crate::ids::random_bytes(&mut pool);
            taken = 0;
        }
        let byte = pool[taken];
        taken += 1;
        // 248 = 4 * 62: accepting only bytes below it keeps every character equally likely.
        if byte < 248 {
            body.push(BASE62[(byte % 62) as usize] as char);
        }
    }
    let checksum = base62_checksum(crc32(body.as_bytes()));
    body.push_str(&checksum);
    GeneratedKey {
        hash: hash(&body),
        key_prefix: prefix_of(&body),
        raw: body,
    }
}

/// Whether `key` has the exact shape and a correct checksum. Needs no database.
pub fn is_well_formed(key: &str) -> bool {
    if key.len() != KEY_LEN || !key.starts_with(PREFIX) {
        return false;
    }
    let rest = &key.as_bytes()[PREFIX.len()..];
    if !rest.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (body, checksum) = key.split_at(PREFIX.len() + RANDOM_CHARS);
    base62_checksum(crc32(body.as_bytes())) == checksum
}

/// Hex SHA-256 of the whole key: the stored lookup value.
pub fn hash(key: &str) -> String {
    crate::ids::to_hex(&Sha256::digest(key.as_bytes()))
}

/// `sk_live_` + the first 8 random characters (for a well-formed key).
pub fn prefix_of(key: &str) -> String {
    key.chars().take(PREFIX.len() + PREFIX_CHARS).collect()
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// `value` in base62, most significant digit first, left-padded with `0` to 6 characters.
pub fn base62_checksum(mut value: u32) -> String {
    let mut digits = [b'0'; CHECKSUM_CHARS];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_zlib_check_value() {
        // The standard check value of CRC-32/ISO-HDLC over "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn base62_is_most_significant_first_and_zero_padded() {
        assert_eq!(base62_checksum(0), "000000");
        assert_eq!(base62_checksum(61), "00000z");
        assert_eq!(base62_checksum(62), "000010");
        assert_eq!(base62_checksum(u32::MAX), "4gfFC3");
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let key = generate();
        assert_eq!(key.raw.len(), 46);
        assert!(key.raw.starts_with("sk_live_"));
        assert!(is_well_formed(&key.raw));
        assert_eq!(key.key_prefix, key.raw[..16]);
        assert_eq!(key.hash, hash(&key.raw));
        assert_eq!(key.hash.len(), 64);
        assert!(!format!("{key:?}").contains(&key.raw));
    }

    #[test]
    fn generated_keys_are_distinct() {
        assert_ne!(generate().raw, generate().raw);
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let key = generate().raw;
        let mut chars: Vec<char> = key.chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let tampered: String = chars.into_iter().collect();
        assert!(!is_well_formed(&tampered));
    }

    #[test]
    fn wrong_shapes_are_rejected() {
        let key = generate().raw;
        assert!(!is_well_formed(&key[..45]));
        assert!(!is_well_formed(&format!("{key}0")));
        assert!(!is_well_formed(&key.replacen("sk_live_", "sk_test_", 1)));
        assert!(!is_well_formed(&format!("sk_live_{}", "-".repeat(38))));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed(&format!("sk_live_{}", "é".repeat(19))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

        #[test]
        fn shape_check_never_panics_on_arbitrary_text(text in "\\PC{0,64}") {
            let _ = is_well_formed(&text);
        }

        #[test]
        fn key_like_strings_pass_only_with_the_right_checksum(body in "[0-9A-Za-z]{32}", tail in "[0-9A-Za-z]{6}") {
            let candidate = format!("{PREFIX}{body}{tail}");
            let expected = base62_checksum(crc32(format!("{PREFIX}{body}").as_bytes()));
            proptest::prop_assert_eq!(is_well_formed(&candidate), tail == expected);
        }
    }
}
