//! Integration tests: signing key rotation and retirement (auth.md "Signing keys",
//! operations.md "CLI").
//!
//! The CLI runs against the database of a live server, as an operator would. The attacker of
//! these tests holds a copy of the database (a backup): they read an old signing secret from
//! the file and mint tokens with it.

use crate::fixture::{self, *};
use serde_json::{json, Value};
use shipstar::auth::jwt::{b64url_decode, b64url_encode, sign_input};
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

const ME: &str = "/api/internal/users/me";
const REFRESH: &str = "/api/internal/auth/jwt/refresh";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn expect_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Exit 2, nothing on stdout, one line on stderr; returns the line.
fn expect_refusal(out: &Output, what: &str) -> String {
    expect_exit(out, 2, what);
    assert_eq!(text(&out.stdout), "", "{what}: stdout must stay empty");
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: stderr must be one line:\n{err}");
    lines[0].to_owned()
}

/// The JSON of one token part (0: header, 1: claims).
fn part(token: &str, index: usize) -> Value {
    let bytes = b64url_decode(token.split('.').nth(index).unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn kid_of(token: &str) -> String {
    part(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// A token with `claims` and a header naming `kid`, signed with `secret`.
fn forge(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(claims.to_string().as_bytes())
    );
    let signature = sign_input(input.as_bytes(), secret);
    format!("{input}.{signature}")
}

/// `token`'s claims with `iat` and `exp` moved.
fn redated(token: &str, iat: i64) -> Value {
    let mut claims = part(token, 1);
    claims["iat"] = json!(iat);
    claims["exp"] = json!(iat + 3600);
    claims
}

/// What an attacker with a copy of the database reads: the key's stored secret (on
/// PostgreSQL, read from the database itself: a dump holds the same).
fn secret_from_database_file(server: &TestServer, kid: &str) -> Option<Vec<u8>> {
    let query = format!("SELECT secret FROM signing_keys WHERE kid = '{kid}'");
    if fixture::on_postgres() {
        return server.db().blob(&query);
    }
    let copy = server.dir.join(format!("stolen-{kid}.db"));
    let _ = std::fs::remove_file(&copy);
    let out = server.cli(&["backup", copy.to_str().unwrap()], None);
    expect_exit(&out, 0, "backup");
    TestDb::open(copy.to_str().unwrap()).blob(&query)
}

fn me(server: &TestServer, token: &str) -> u16 {
    server.get(ME).bearer(token).send().status
}

fn refresh(server: &TestServer, token: &str) -> Resp {
    server.post(REFRESH).bearer(token).send()
}

/// The lines of `secret list`, checked to exit 0 with nothing on stderr.
fn list(server: &TestServer) -> Vec<String> {
    let out = server.cli(&["secret", "list"], None);
    expect_exit(&out, 0, "secret list");
    assert_eq!(text(&out.stderr), "");
    text(&out.stdout).lines().map(str::to_owned).collect()
}

fn line_of<'a>(lines: &'a [String], kid: &str) -> &'a str {
    lines
        .iter()
        .find(|line| line.split_whitespace().next() == Some(kid))
        .unwrap_or_else(|| panic!("no line for {kid}: {lines:#?}"))
}

#[test]
fn rotation_next_to_a_running_server_keeps_old_tokens_and_signs_new_ones_with_the_new_key() {
    let server = TestServer::start();
    let before = server.admin_token();
    let old_kid = kid_of(&before);
    let out = server.cli(&["secret", "rotate"], None);
    expect_exit(&out, 0, "secret rotate");
    assert!(
        text(&out.stdout).contains(&old_kid),
        "{}",
        text(&out.stdout)
    );

    // No restart: the old token still works, and the very next login uses the new key.
    assert_eq!(me(&server, &before), 200);
    let after = server.admin_token();
    assert_ne!(kid_of(&after), old_kid);
    assert_eq!(me(&server, &after), 200);
    // A refresh of the old token is signed by the new key too.
    let resp = refresh(&server, &before);
    resp.expect_status(200);
    let refreshed = resp.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&refreshed), kid_of(&after));
    assert_eq!(me(&server, &refreshed), 200);
}

#[test]
fn a_token_minted_with_a_rotated_out_secret_from_a_database_copy_is_401() {
    let server = TestServer::start();
    let token = server.admin_token();
    let old_kid = kid_of(&token);
    let old_secret = secret_from_database_file(&server, &old_kid).unwrap();
    // The forgery is sound: before the rotation, the stolen secret mints a working token.
    let iat = part(&token, 1)["iat"].as_i64().unwrap();
    let early = forge(&old_kid, &redated(&token, iat), &old_secret);
    assert_eq!(me(&server, &early), 200);

    expect_exit(&server.cli(&["secret", "rotate"], None), 0, "secret rotate");
    // Dated at or before the rotation: what the old key signed, still good.
    assert_eq!(me(&server, &early), 200);
    // Dated after the rotation (no clock wait needed: the server has no upper bound on iat
    // beyond this rule, so a date ahead of the rotation is what an attacker would use).
    let later = forge(&old_kid, &redated(&token, now_secs() + 2), &old_secret);
    me_is_401(&server, &later);
    let resp = refresh(&server, &later);
    resp.expect_status(401);
    // The session is untouched by the failed attempt.
    assert_eq!(me(&server, &token), 200);
}

fn me_is_401(server: &TestServer, token: &str) {
    let resp = server.get(ME).bearer(token).send();
    resp.expect_status(401);
    assert!(
        resp.header("WWW-Authenticate").is_some(),
        "{}",
        resp.request
    );
}

#[test]
fn retire_makes_the_old_keys_tokens_fail_at_once_on_the_running_server() {
    let server = TestServer::start();
    let old = server.admin_token();
    let old_kid = kid_of(&old);
    // Warm the server's key cache with the old key in it.
    assert_eq!(me(&server, &old), 200);

    let refused = expect_refusal(
        &server.cli(&["secret", "retire", "--kid", &old_kid], None),
        "retire the current key",
    );
    assert!(refused.contains("secret rotate"), "{refused}");
    assert_eq!(
        me(&server, &old),
        200,
        "a refused retirement changes nothing"
    );

    expect_exit(&server.cli(&["secret", "rotate"], None), 0, "secret rotate");
    assert_eq!(me(&server, &old), 200);
    let out = server.cli(&["secret", "retire", "--kid", &old_kid], None);
    expect_exit(&out, 0, "secret retire");
    assert!(text(&out.stdout).contains(&old_kid));
    // At once: the very next request, no restart, no wait.
    me_is_401(&server, &old);
    refresh(&server, &old).expect_status(401);
    // Signing in again works, with the current key.
    let fresh = server.admin_token();
    assert_ne!(kid_of(&fresh), old_kid);
    assert_eq!(me(&server, &fresh), 200);
    // The retired secret is erased from the database, so later backups do not hold it.
    assert_eq!(secret_from_database_file(&server, &old_kid), None);

    let unknown = expect_refusal(
        &server.cli(&["secret", "retire", "--kid", "no-such-kid"], None),
        "retire an unknown kid",
    );
    assert!(
        unknown.contains("no-such-kid") && unknown.contains("secret list"),
        "{unknown}"
    );
}

#[test]
fn retire_all_but_current_ends_every_older_keys_tokens() {
    let server = TestServer::start();
    let first = server.admin_token();
    expect_exit(&server.cli(&["secret", "rotate"], None), 0, "rotate 1");
    let second = server.admin_token();
    expect_exit(&server.cli(&["secret", "rotate"], None), 0, "rotate 2");
    let third = server.admin_token();
    for token in [&first, &second, &third] {
        assert_eq!(me(&server, token), 200);
    }
    let out = server.cli(&["secret", "retire", "--all-but-current"], None);
    expect_exit(&out, 0, "retire --all-but-current");
    me_is_401(&server, &first);
    me_is_401(&server, &second);
    assert_eq!(me(&server, &third), 200);
    // Neither or both of --kid and --all-but-current: a usage error.
    for args in [
        vec!["secret", "retire"],
        vec!["secret", "retire", "--kid", "x", "--all-but-current"],
    ] {
        expect_exit(&server.cli(&args, None), 2, &args.join(" "));
    }
}

#[test]
fn secret_list_shows_one_line_per_key_marking_current_and_retired_and_never_a_secret() {
    let server = TestServer::start();
    let first_kid = kid_of(&server.admin_token());
    expect_exit(&server.cli(&["secret", "rotate"], None), 0, "rotate 1");
    let second_kid = kid_of(&server.admin_token());
    expect_exit(&server.cli(&["secret", "rotate"], None), 0, "rotate 2");
    let current_kid = kid_of(&server.admin_token());
    let second_secret = secret_from_database_file(&server, &second_kid).unwrap();
    let current_secret = secret_from_database_file(&server, &current_kid).unwrap();
    expect_exit(
        &server.cli(&["secret", "retire", "--kid", &first_kid], None),
        0,
        "retire",
    );

    let lines = list(&server);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let current = line_of(&lines, &current_kid);
    assert!(current.ends_with("  current"), "{current}");
    assert!(current.contains("  retired -  "), "{current}");
    let retired = line_of(&lines, &first_kid);
    assert!(retired.ends_with("  retired"), "{retired}");
    assert!(
        !retired.contains("retired -"),
        "retirement time missing: {retired}"
    );
    let older = line_of(&lines, &second_kid);
    assert!(
        older.contains("older, verifies tokens issued until 20"),
        "{older}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.ends_with(" current"))
            .count(),
        1
    );
    for line in &lines {
        // `KID  created <RFC 3339>  retired <RFC 3339 or ->  STATE`
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], "created", "{line}");
        assert!(fields[2].len() == 20 && fields[2].ends_with('Z'), "{line}");
        assert_eq!(fields[3], "retired", "{line}");
    }
    let all = lines.join("\n");
    for secret in [&second_secret, &current_secret] {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!all.contains(&hex), "a secret is printed:\n{all}");
        assert!(
            !all.contains(&b64url_encode(secret)),
            "a secret is printed:\n{all}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// jwt_secret configured: the configuration owns the keys
// ---------------------------------------------------------------------------------------------

const SECRET_A: &str = "signing-keys-test-secret-a-0123456789abcdef";
const SECRET_B: &str = "signing-keys-test-secret-b-0123456789abcdef";

fn configured(secret: &str) -> Options {
    Options::default().env("SHIPSTAR_JWT_SECRET", secret)
}

#[test]
fn a_configured_fallback_keeps_earlier_tokens_until_removed_and_refuses_later_ones() {
    let mut first = TestServer::start_with(configured(SECRET_A));
    let before = first.admin_token();
    assert!(first.terminate().success());

    // The secret changes; the old one is listed as a fallback (from a file, one per line).
    let fallbacks = first.dir.join("fallbacks");
    std::fs::write(&fallbacks, format!("{SECRET_A}\n")).unwrap();
    let mut second = TestServer::start_in(
        first.dir.clone(),
        configured(SECRET_B).env(
            "SHIPSTAR_JWT_SECRET_FALLBACKS_FILE",
            fallbacks.to_str().unwrap(),
        ),
    );
    assert_eq!(me(&second, &before), 200, "{}", second.log());
    let after = second.admin_token();
    assert_ne!(kid_of(&after), kid_of(&before));
    // Someone holding the old secret cannot mint a token dated after the change.
    let later = forge(
        &kid_of(&before),
        &redated(&before, now_secs() + 2),
        SECRET_A.as_bytes(),
    );
    me_is_401(&second, &later);
    // The list shows both configured keys; the CLI's refusals name both settings.
    let lines = list(&second);
    assert!(line_of(&lines, &kid_of(&after)).ends_with("current (configured)"));
    assert!(line_of(&lines, &kid_of(&before)).contains("older (configured), verifies"));
    for args in [
        vec!["secret", "rotate"],
        vec!["secret", "retire", "--kid", &kid_of(&before)],
        vec!["secret", "retire", "--all-but-current"],
    ] {
        let line = expect_refusal(&second.cli(&args, None), &args.join(" "));
        assert!(
            line.contains("jwt_secret") && line.contains("jwt_secret_fallbacks"),
            "{line}"
        );
    }
    assert!(second.terminate().success());

    // The fallback removed: its tokens fail; the current secret's keep working.
    let third = TestServer::start_in(first.dir.clone(), configured(SECRET_B));
    me_is_401(&third, &before);
    assert_eq!(me(&third, &after), 200);
    let lines = list(&third);
    assert!(line_of(&lines, &kid_of(&before)).ends_with("  retired"));
    drop(third);
    drop(second);
    drop(first);
}

#[test]
fn a_short_or_orphan_fallback_is_a_startup_error_that_does_not_echo_it() {
    let short = "short-fallback-xyz";
    for (options, expected) in [
        (
            configured(SECRET_A).env("SHIPSTAR_JWT_SECRET_FALLBACKS", short),
            "at least 32 bytes",
        ),
        (
            Options::default().env("SHIPSTAR_JWT_SECRET_FALLBACKS", SECRET_B),
            "needs jwt_secret",
        ),
    ] {
        let dir = temp_dir();
        let mut cmd = std::process::Command::new(binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--database", "s.db"])
            .current_dir(&dir)
            .env_clear();
        for (key, value) in &options.env {
            cmd.env(key, value);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("jwt_secret_fallbacks") && err.contains(expected),
            "{err}"
        );
        assert!(!err.contains(short) && !err.contains(SECRET_B), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
