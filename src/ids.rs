//! Identifiers and random tokens from the operating system's random source, and the typed ids
//! of the domain ([`UserId`], [`TeamId`], [`ProjectId`], [`ApiKeyId`], [`ContentId`],
//! [`SessionId`]).
//!
//! A typed id can only be made three ways: [`UserId::parse`] and friends (text from outside,
//! checked by [`is_uuid`]), `new_v4` (a fresh id) and `from_stored` (an id read back from the
//! store, which only ever holds ids that were made one of the first two ways). So a value of
//! one of these types is always a canonical UUID, and an id of one kind cannot be passed where
//! another kind is expected.

/// Fills `buf` from the OS random source.
///
/// The process cannot do anything safe without randomness (ids, secrets, tokens), so a failing
/// random source is treated as fatal rather than degraded silently.
pub fn random_bytes(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("the operating system's random source failed: {err}");
    }
}

/// A new random UUID v4 in its canonical lowercase hyphenated form.
pub fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    random_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = to_hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `len` random bytes as lowercase hex (a token of `8 * len` bits of entropy).
pub fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    random_bytes(&mut bytes);
    to_hex(&bytes)
}

/// A new request id: 16 random bytes as 32 lowercase hex characters, like `random_hex(16)`.
///
/// The bytes come from the OS random source like every other id, but are fetched 512 bytes
/// at a time per thread, so a request does not pay a `getrandom` system call. Request ids
/// only need to be unique, not secret; never use this for tokens or keys.
pub fn request_id() -> String {
    use std::cell::RefCell;
    const BATCH: usize = 512;
    const ID_BYTES: usize = 16;
    thread_local! {
        // (random bytes, how many of them are used up)
        static POOL: RefCell<([u8; BATCH], usize)> = const { RefCell::new(([0; BATCH], BATCH)) };
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used + ID_BYTES > BATCH {
            random_bytes(bytes);
            *used = 0;
        }
        let id = to_hex(&bytes[*used..*used + ID_BYTES]);
        *used += ID_BYTES;
        id
    })
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Whether `text` is a canonical lowercase UUID (any version), as ids in paths must be.
pub fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

/// Declares one typed id: a canonical lowercase UUID of one kind of record.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// `text` as this id when it is a canonical lowercase UUID ([`is_uuid`]), else
            /// `None`: the one check for ids that come from outside (paths, arguments).
            pub fn parse(text: &str) -> Option<Self> {
                is_uuid(text).then(|| Self(text.to_owned()))
            }

            /// A new random id (UUID v4).
            pub fn new_v4() -> Self {
                Self(uuid_v4())
            }

            /// An id read back from the store. The store only holds ids made by
            /// [`Self::parse`] or [`Self::new_v4`], so it is not checked again; use this only
            /// on values read from the store, never on input.
            pub(crate) fn from_stored(text: String) -> Self {
                Self(text)
            }

            /// The id as text (the canonical UUID).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        /// Reads as its text wherever text is wanted (formatting, audit details, JSON); the
        /// dereference cannot make an id, so it never bypasses [`Self::parse`].
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The id of a user account.
    UserId
);
id_type!(
    /// The id of a team.
    TeamId
);
id_type!(
    /// The id of a project (which belongs to one team).
    ProjectId
);
id_type!(
    /// The id of an API key (which belongs to one project).
    ApiKeyId
);
id_type!(
    /// The id of a content item (changelog entry, blog post or KB article).
    ContentId
);
id_type!(
    /// The id of a sign-in session.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_has_version_and_variant_bits() {
        let id = uuid_v4();
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn uuids_are_distinct() {
        assert_ne!(uuid_v4(), uuid_v4());
    }

    #[test]
    fn is_uuid_rejects_uppercase_and_wrong_shape() {
        assert!(!is_uuid("3F2504E0-4F89-41D3-9A0C-0305E82C3301"));
        assert!(!is_uuid("3f2504e0-4f89-41d3-9a0c-0305e82c330"));
        assert!(!is_uuid("3f2504e0x4f89-41d3-9a0c-0305e82c3301"));
        assert!(is_uuid("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
    }

    #[test]
    fn typed_ids_parse_exactly_what_is_uuid_accepts() {
        for text in [
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            "00000000-0000-0000-0000-000000000000",
            "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
            "3f2504e0-4f89-41d3-9a0c-0305e82c330",
            "3f2504e0x4f89-41d3-9a0c-0305e82c3301",
            "",
            "not-a-uuid",
        ] {
            let accepted = is_uuid(text);
            assert_eq!(UserId::parse(text).is_some(), accepted, "{text}");
            assert_eq!(TeamId::parse(text).is_some(), accepted, "{text}");
            assert_eq!(ProjectId::parse(text).is_some(), accepted, "{text}");
            assert_eq!(ApiKeyId::parse(text).is_some(), accepted, "{text}");
            assert_eq!(ContentId::parse(text).is_some(), accepted, "{text}");
            assert_eq!(SessionId::parse(text).is_some(), accepted, "{text}");
        }
    }

    #[test]
    fn typed_ids_keep_their_text() {
        let text = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        let Some(id) = TeamId::parse(text) else {
            panic!("a canonical UUID is a team id");
        };
        assert_eq!(id.as_str(), text);
        assert_eq!(id.to_string(), text);
        assert_eq!(id, *text);
        assert_eq!(format!("{id:?}"), format!("TeamId({text:?})"));
        assert_eq!(
            serde_json::to_value(&id).ok(),
            Some(serde_json::json!(text))
        );
        assert_eq!(id.into_string(), text);
    }

    #[test]
    fn new_typed_ids_are_distinct_v4_uuids() {
        let (a, b) = (ProjectId::new_v4(), ProjectId::new_v4());
        assert!(is_uuid(a.as_str()) && is_uuid(b.as_str()));
        assert_eq!(&a.as_str()[14..15], "4");
        assert_ne!(a, b);
    }

    #[test]
    fn random_hex_has_twice_the_length() {
        assert_eq!(random_hex(16).len(), 32);
    }

    #[test]
    fn hex_is_lowercase_and_zero_padded() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(to_hex(&[]), "");
    }

    #[test]
    fn request_ids_are_32_hex_characters_and_distinct_across_refills() {
        let ids: std::collections::HashSet<String> = (0..100).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 100);
        assert!(ids.iter().all(|id| id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
    }
}
