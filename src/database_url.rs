//! The `database` setting's two forms, and the one rule for printing it.
//!
//! A value starting `postgres://` or `postgresql://` selects PostgreSQL; anything else is a
//! SQLite file path (scale-out.md). A URL may carry a password, so the value is printed, logged
//! and put in errors only through [`masked`]: `config` (the `shipstar config` listing, its
//! `Debug`) and `store::pg_target` (the masked URL in startup lines, the ready line and
//! errors) both use it, so a value reads the same everywhere. Plain text logic, importing
//! nothing of the crate; parsing a URL for connecting is `store::pg_target`'s.

/// Whether `database` is a URL selecting PostgreSQL rather than a SQLite file path.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// `database` safe to print: a PostgreSQL URL with its password (between the user name and
/// `@`, or a `password=` parameter) as `***`; a file path as it is.
///
/// When in doubt it masks more rather than less: the user information ends at the last `@`
/// of the URL, so a password holding a `/`, `?` or `@` that the URL should have escaped is
/// still masked whole.
pub fn masked(database: &str) -> String {
    let Some((scheme, rest)) = database
        .split_once("://")
        .filter(|_| is_postgres_url(database))
    else {
        return database.to_owned();
    };
    let mut out = format!("{scheme}://");
    let after_userinfo = match rest.rsplit_once('@') {
        Some((userinfo, after)) => {
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            after
        }
        None => rest,
    };
    match after_userinfo.split_once('?') {
        Some((location, query)) => {
            out.push_str(location);
            out.push('?');
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}=***")
                    }
                    _ => parameter.to_owned(),
                })
                .collect();
            out.push_str(&parameters.join("&"));
        }
        None => out.push_str(after_userinfo),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_url_is_masked_and_a_path_is_left_alone() {
        assert_eq!(
            masked("postgres://app:s3cret@db.example:5432/ship?sslmode=require"),
            "postgres://app:***@db.example:5432/ship?sslmode=require"
        );
        assert_eq!(masked("postgres://app@db/ship"), "postgres://app@db/ship");
        assert_eq!(masked("postgresql://db/ship"), "postgresql://db/ship");
        assert_eq!(masked("/srv/ship:pw@x.db"), "/srv/ship:pw@x.db");
        assert_eq!(masked("shipstar.db"), "shipstar.db");
    }

    #[test]
    fn a_password_holding_url_delimiters_or_given_as_a_parameter_is_masked() {
        for (url, expected) in [
            ("postgres://app:pa/ss@db/ship", "postgres://app:***@db/ship"),
            (
                "postgres://app:p@ss:w@rd@db:5432/ship",
                "postgres://app:***@db:5432/ship",
            ),
            (
                "postgres://app:pa?ss@db/ship?sslmode=disable",
                "postgres://app:***@db/ship?sslmode=disable",
            ),
            (
                "postgresql://app@db/ship?sslmode=verify-full&password=s3cret",
                "postgresql://app@db/ship?sslmode=verify-full&password=***",
            ),
            (
                "postgres:///ship?host=/run/pg&PASSWORD=s3cret",
                "postgres:///ship?host=/run/pg&PASSWORD=***",
            ),
        ] {
            let shown = masked(url);
            assert_eq!(shown, expected, "{url}");
            for secret in ["s3cret", "pa/ss", "pa?ss", "w@rd"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }

    #[test]
    fn urls_select_postgres_and_anything_else_is_a_file() {
        assert!(is_postgres_url("postgres://db/ship"));
        assert!(is_postgres_url("postgresql://db/ship"));
        assert!(!is_postgres_url("shipstar.db"));
        assert!(!is_postgres_url("mysql://db/ship"));
    }
}
