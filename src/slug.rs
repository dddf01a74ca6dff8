//! Slugs: validation against the contract's pattern, and derivation from a name.

use crate::error::{Error, FieldError};

/// Longest team or project slug.
pub const MAX_SLUG_CHARS: usize = 100;
/// Longest team, project or API key name, in characters (at least 1).
pub const MAX_NAME_CHARS: usize = 100;

/// Whether `slug` matches `^[a-z0-9]+(-[a-z0-9]+)*$` and is 1..=`max` characters long.
pub fn is_valid(slug: &str, max: usize) -> bool {
    !slug.is_empty()
        && slug.len() <= max
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The 422 problem for a slug that does not match the pattern.
pub fn mismatch(loc: &[&str]) -> FieldError {
    FieldError::new(
        loc,
        "string_pattern_mismatch",
        "String should match pattern '^[a-z0-9]+(-[a-z0-9]+)*$'",
    )
}

/// A slug made from `name`: ASCII letters and digits lower-cased, everything else a single
/// hyphen, trimmed to `max`; `fallback` when nothing is left.
pub fn from_name(name: &str, fallback: &str, max: usize) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(max);
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        fallback.to_string()
    } else {
        slug
    }
}

/// Runs `create` with the requested slug, or with slugs derived from `name` (`x`, `x-2`,
/// `x-3`, ...) until one is free. A requested slug that is taken is a 409.
pub fn create_with_slug<T>(
    requested: Option<String>,
    name: &str,
    fallback: &str,
    mut create: impl FnMut(&str) -> Result<T, Error>,
) -> Result<T, Error> {
    if let Some(slug) = requested {
        return create(&slug);
    }
    let base = from_name(name, fallback, MAX_SLUG_CHARS - 4);
    let mut last = None;
    for attempt in 1..=20 {
        let candidate = if attempt == 1 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        match create(&candidate) {
            Err(Error::Conflict(why)) => last = Some(Error::Conflict(why)),
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| Error::Conflict("No free slug; choose one".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_accepts_hyphenated_lowercase_words() {
        assert!(is_valid("march-2025", 200));
        assert!(is_valid("a", 200));
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "é", "a b"] {
            assert!(!is_valid(bad, 200), "{bad:?}");
        }
        assert!(!is_valid(&"a".repeat(201), 200));
    }

    #[test]
    fn names_become_slugs() {
        assert_eq!(from_name("My Team!", "team", 100), "my-team");
        assert_eq!(from_name("  Ünïcode  ", "team", 100), "n-code");
        assert_eq!(from_name("日本", "team", 100), "team");
    }

    #[test]
    fn derived_slugs_get_a_suffix_when_taken() {
        let taken = ["acme", "acme-2"];
        let slug = create_with_slug(None, "Acme", "team", |s| {
            if taken.contains(&s) {
                Err(Error::Conflict("taken".into()))
            } else {
                Ok(s.to_string())
            }
        });
        assert_eq!(slug.unwrap(), "acme-3");
        let requested = create_with_slug(
            Some("acme".into()),
            "Acme",
            "team",
            |_| -> Result<(), Error> { Err(Error::Conflict("taken".into())) },
        );
        assert!(matches!(requested, Err(Error::Conflict(_))));
    }
}
