//! Email addresses: the one rule for which addresses shipstar accepts, and the one form it
//! keeps them in.
//!
//! Every way an address enters the system (the register and user routes, the setup page, the
//! first-start administrator from the config, `shipstar user create`, seed files) goes through
//! [`Email::parse`], so the rule and the normal form cannot drift apart between them. The
//! check is for shape only: an address is plausible, not proven deliverable.
//!
//! Plain logic over strings, so the API, the CLI, setup and config can all use it: it must not
//! import `http`, `api` or `store`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest address accepted, in bytes (RFC 5321's 64-byte local part, `@` and 255-byte domain,
/// rounded the way most services do).
pub const MAX_EMAIL_BYTES: usize = 320;

/// A plausible email address in normal form (trimmed, lower-case). The only way to make one
/// is [`Email::parse`], so holding an `Email` means the rule was applied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

/// The text given is not a plausible email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidEmail;

impl fmt::Display for InvalidEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid email address")
    }
}

impl std::error::Error for InvalidEmail {}

impl Email {
    /// Checks `text` and returns it in normal form.
    ///
    /// Plausible means: one `@` (the last one) with a non-empty local part before it and no
    /// other `@`, a domain with a dot that neither starts nor ends it, no white space or
    /// control character anywhere, at most [`MAX_EMAIL_BYTES`]. White space is refused rather
    /// than trimmed, so what a user typed is either stored as typed (lower-cased) or answered
    /// with an error.
    pub fn parse(text: &str) -> Result<Email, InvalidEmail> {
        if is_plausible(text) {
            Ok(Email(normalise(text)))
        } else {
            Err(InvalidEmail)
        }
    }

    /// The address in normal form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address in normal form, as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Deserializing applies [`Email::parse`]: a config file cannot smuggle in an address the
/// rule refuses.
impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Email, D::Error> {
        let text = String::deserialize(deserializer)?;
        Email::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The normal form of an address, for text that is not (or not yet) known to be valid: a
/// login name is looked up and rate-limited under it. Trimmed and lower-cased, the same form
/// [`Email::parse`] stores, so a valid address and its lookup key always agree.
pub fn normalise(text: &str) -> String {
    text.trim().to_lowercase()
}

fn is_plausible(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    text.len() <= MAX_EMAIL_BYTES
        && !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plausible_address_is_accepted_and_lower_cased() {
        let email = Email::parse("Ada.Lovelace@Example.COM").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        assert_eq!(email.to_string(), "ada.lovelace@example.com");
        assert_eq!(String::from(email), "ada.lovelace@example.com");
    }

    #[test]
    fn emails_are_checked_for_shape_only() {
        for good in [
            "a@example.com",
            "a+tag@sub.example.org",
            "\"odd\"@example.com",
        ] {
            assert!(Email::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "a",
            "a@example",
            "@example.com",
            "a@.com",
            "a@example.com.",
            "a@@example.com",
            "a@b@example.com",
            "a b@example.com",
            " a@example.com",
            "a@example.com\n",
            "a\u{0}@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
    }

    #[test]
    fn the_length_limit_is_320_bytes() {
        let domain = "@example.com";
        let fits = format!("{}{domain}", "a".repeat(MAX_EMAIL_BYTES - domain.len()));
        assert!(Email::parse(&fits).is_ok());
        let over = format!("a{fits}");
        assert_eq!(Email::parse(&over), Err(InvalidEmail));
    }

    #[test]
    fn normalise_trims_and_lower_cases_any_text() {
        assert_eq!(normalise("  Bob@Example.com \t"), "bob@example.com");
        assert_eq!(normalise("not an email"), "not an email");
        assert_eq!(
            normalise("BOB@EXAMPLE.COM"),
            Email::parse("BOB@EXAMPLE.COM").unwrap().as_str()
        );
    }

    #[test]
    fn deserializing_applies_the_rule() {
        let ok: Email = serde_json::from_str("\"A@Example.com\"").unwrap();
        assert_eq!(ok.as_str(), "a@example.com");
        assert!(serde_json::from_str::<Email>("\"a@example\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"a@example.com\"");
    }
}
