//! The body-field rules that several routes share, each written once: the lengths of names
//! and emails, the email check, the two password-length answers (422 over the limit before
//! any hashing, the contract's 400 under it), team and project names with their slug, and
//! member roles. Handlers read their fields through [`JsonFields`] and call these for the
//! shared parts, so a rule changes in one place.

use super::extract::JsonFields;
use crate::accounts::{check_password, Password, PasswordProblem};
use crate::email::Email;
use crate::error::{Error, FieldError};
use crate::roles::Role;
use crate::slug::{self, MAX_NAME_CHARS, MAX_SLUG_CHARS};
use serde_json::json;

/// Longest email accepted in a body, in characters.
pub const MAX_EMAIL_CHARS: usize = 320;
/// Longest first or last name of a person, in characters.
pub const MAX_PERSON_NAME_CHARS: usize = 100;
/// Longest `role` value read before it is matched against the role names.
const MAX_ROLE_CHARS: usize = 20;

/// The 422 problem for a password over 1024 characters (refused before any hashing).
pub fn password_too_long() -> FieldError {
    FieldError::new(
        &["body", "password"],
        "string_too_long",
        "String should have at most 1024 characters",
    )
}

/// The 422 problem for a body `email` that [`Email::parse`] refuses.
pub fn invalid_email() -> FieldError {
    FieldError::new(
        &["body", "email"],
        "value_error",
        "value is not a valid email address",
    )
}

/// `text` as a normalised email, or [`invalid_email`] recorded and an empty placeholder
/// (which [`JsonFields::parse`] never lets out).
pub fn email(fields: &mut JsonFields<'_>, text: &str) -> String {
    match Email::parse(text) {
        Ok(email) => email.into_string(),
        Err(_) => {
            fields.problem(invalid_email());
            String::new()
        }
    }
}

/// Records [`password_too_long`] for a password over the limit: checked with the other
/// fields, before anything is hashed.
pub fn check_password_not_too_long(fields: &mut JsonFields<'_>, password: &str) {
    if check_password(password) == Err(PasswordProblem::TooLong) {
        fields.problem(password_too_long());
    }
}

/// `password` as a [`Password`] for a new or changed password. Under the minimum it is the
/// contract's 400 `{"code": code, "reason"}`, given only once every other field passed (it is
/// not a 422 problem); over the limit it is the 422 of [`password_too_long`], which
/// [`check_password_not_too_long`] normally reported with the other fields already.
pub fn new_password(password: &str, code: &str) -> Result<Password, Error> {
    Password::parse(password).map_err(|problem| match problem {
        PasswordProblem::TooShort => Error::BadRequest(json!({
            "code": code,
            "reason": "Password should be at least 8 characters",
        })),
        PasswordProblem::TooLong => Error::Validation(vec![password_too_long()]),
    })
}

/// A team's or project's `{"name", "slug"?}`: a name of 1..=[`MAX_NAME_CHARS`] characters
/// and, if given, a slug of the slug alphabet up to [`MAX_SLUG_CHARS`].
pub fn name_and_slug(fields: &mut JsonFields<'_>) -> (String, Option<String>) {
    let name = fields.required_string("name", 1, MAX_NAME_CHARS);
    let slug = fields.optional_string("slug", 1, MAX_SLUG_CHARS);
    if let Some(slug) = &slug {
        if !slug::is_valid(slug, MAX_SLUG_CHARS) {
            fields.problem(slug::mismatch(&["body", "slug"]));
        }
    }
    (name, slug)
}

/// A member's `role`: `admin` or `member`, and `owner` when `allow_owner`; otherwise a
/// problem is recorded and the answer is a placeholder (`member`) the caller never sees,
/// since [`JsonFields::parse`] refuses the body.
pub fn role(fields: &mut JsonFields<'_>, allow_owner: bool) -> Role {
    let Some(text) = fields.string("role", 1, MAX_ROLE_CHARS) else {
        return Role::Member;
    };
    match Role::parse(&text) {
        Some(role) if role < Role::Owner || allow_owner => return role,
        _ => {}
    }
    let expected = if allow_owner {
        "Input should be 'owner', 'admin' or 'member'"
    } else {
        "Input should be 'admin' or 'member'"
    };
    fields.problem(FieldError::new(&["body", "role"], "value_error", expected));
    Role::Member
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn kinds(result: Result<impl std::fmt::Debug, Error>) -> Vec<&'static str> {
        match result {
            Err(Error::Validation(problems)) => problems.iter().map(|p| p.kind).collect(),
            other => panic!("not a 422: {other:?}"),
        }
    }

    #[test]
    fn a_parsed_request_comes_out_only_when_every_field_passed() {
        let good = object(json!({"name": "Acme", "slug": "acme"}));
        assert_eq!(
            JsonFields::parse(&good, name_and_slug).unwrap(),
            ("Acme".to_string(), Some("acme".to_string()))
        );
        // Every problem is listed, and the placeholders never leave.
        let bad = object(json!({"slug": "Not A Slug"}));
        assert_eq!(
            kinds(JsonFields::parse(&bad, name_and_slug)),
            ["missing", "string_pattern_mismatch"]
        );
    }

    #[test]
    fn roles_outside_the_allowed_set_are_refused() {
        let owner = object(json!({"role": "owner"}));
        assert_eq!(
            JsonFields::parse(&owner, |f| role(f, true)).unwrap(),
            Role::Owner
        );
        assert_eq!(
            kinds(JsonFields::parse(&owner, |f| role(f, false))),
            ["value_error"]
        );
    }

    #[test]
    fn emails_are_lower_cased_and_bad_ones_are_a_problem() {
        let map = Map::new();
        let parsed = JsonFields::parse(&map, |f| email(f, "Ada@Example.COM"));
        assert_eq!(parsed.unwrap(), "ada@example.com");
        assert_eq!(
            kinds(JsonFields::parse(&map, |f| email(f, " ada@example.com"))),
            ["value_error"]
        );
    }

    #[test]
    fn passwords_too_long_are_422_and_too_short_are_the_contracts_400() {
        let map = Map::new();
        let long = "x".repeat(1025);
        assert_eq!(
            kinds(JsonFields::parse(&map, |f| check_password_not_too_long(
                f, &long
            ))),
            ["string_too_long"]
        );
        assert!(new_password("12345678", "CODE").is_ok());
        assert_eq!(
            new_password("short", "CODE").err(),
            Some(Error::BadRequest(json!({
                "code": "CODE",
                "reason": "Password should be at least 8 characters",
            })))
        );
        assert_eq!(kinds(new_password(&long, "CODE")), ["string_too_long"]);
    }
}
