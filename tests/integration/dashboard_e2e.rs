//! The dashboard in a real browser (dashboard.md "Quality"): headless Chromium, driven
//! through chromedriver, goes from the one-time setup link to signing out, while the test
//! checks each step against the HTTP API itself.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install -y chromium chromium-driver`); when
//! they are missing the test fails and says how to install them. Screenshots land in
//! `target/screenshots/`.

use crate::fixture::*;
use crate::webdriver::{Browser, ARROW_DOWN, ENTER};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a-long-owner-password";

/// Every form control on the page has a label (or an aria-label).
fn assert_every_control_is_labelled(browser: &Browser, page: &str) {
    let unlabelled = browser.js(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.id || e.name || e.outerHTML.slice(0, 80));",
        json!([]),
    );
    assert_eq!(unlabelled, json!([]), "controls without a label on {page}");
}

/// Nothing on the page uses an inline style attribute (the CSP would block it anyway).
fn assert_no_inline_styles(browser: &Browser, page: &str) {
    let styled = browser.js(
        "return [...document.querySelectorAll('[style]')].map(e => e.tagName);",
        json!([]),
    );
    assert_eq!(
        styled,
        json!([]),
        "elements with a style attribute on {page}"
    );
}

/// No value leaked into the page as "null", "undefined" and the like.
fn assert_no_placeholder_text(browser: &Browser, page: &str) {
    let found = browser.js(
        "return (document.body.innerText.match(/\\b(null|undefined|NaN|Invalid Date)\\b|\\[object Object\\]/g) || []);",
        json!([]),
    );
    assert_eq!(found, json!([]), "placeholder text on {page}");
}

/// The checks every page gets.
fn assert_clean_page(browser: &Browser, page: &str) {
    assert_every_control_is_labelled(browser, page);
    assert_no_inline_styles(browser, page);
    assert_no_placeholder_text(browser, page);
}

/// Reloads the current view until `css` has text other than `not`, i.e. the server has
/// flushed the counters (within 2 s by contract; the wait's own deadline bounds it).
fn reload_until_text_is(browser: &Browser, css: &str, expected: &str) {
    browser.wait_until(&format!("{css} to read {expected:?} after reloads"), || {
        browser.refresh();
        browser.wait_visible(css);
        browser.js(
            "return document.querySelector(arguments[0]).textContent.trim();",
            json!([css]),
        ) == json!(expected)
    });
}

/// `GET /api/v1/me` with `key` on a connection from the loopback address `from` (Linux
/// routes all of 127.0.0.0/8 locally), so the server sees a second client address.
fn me_from(server: std::net::SocketAddr, from: &str, key: &str) -> Resp {
    use socket2::{Domain, Socket, Type};
    use std::io::Write;
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let local: std::net::IpAddr = from.parse().expect("address");
    socket
        .bind(&std::net::SocketAddr::new(local, 0).into())
        .unwrap_or_else(|err| panic!("cannot bind a client socket to {from}: {err}"));
    socket.connect(&server.into()).expect("connect");
    let mut stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "GET /api/v1/me HTTP/1.1\r\nHost: {server}\r\nAuthorization: Bearer {key}\r\n\
         User-Agent: deploy-script/2\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    read_response(&mut std::io::BufReader::new(stream)).expect("answer")
}

#[test]
#[ignore = "needs Chromium and chromedriver: run ./test"]
fn dashboard_end_to_end_in_headless_chromium() {
    let server = TestServer::start_with(Options {
        with_admin: false,
        ..Options::default()
    });
    let base = format!("http://{}", server.addr);
    let shots = screenshots_dir();

    // The shell itself carries the page security headers.
    let shell = server.get("/dashboard").send();
    shell.expect_status(200);
    assert_eq!(
        shell.header("Content-Security-Policy"),
        Some("default-src 'self'; frame-ancestors 'none'")
    );
    assert_eq!(shell.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(shell.header("Referrer-Policy"), Some("no-referrer"));

    let browser = Browser::launch(&server.dir);

    // First start: the printed one-time link creates the superuser.
    browser.goto(&server.setup_url());
    browser.wait_text("h1", "Set up shipstar");
    assert_clean_page(&browser, "setup");
    browser.screenshot(&shots.join("setup.png"));
    browser.fill("#email", EMAIL);
    browser.fill("#password", PASSWORD);
    browser.click("form button[type=submit]");
    browser.wait_text("h1", "Administrator created");
    browser.click("a.btn-primary");

    // Sign in.
    browser.wait_visible("#signin-email");
    assert!(browser
        .current_url()
        .starts_with(&format!("{base}/dashboard")));
    assert_clean_page(&browser, "sign in");
    browser.screenshot(&shots.join("sign-in.png"));
    browser.fill("#signin-email", EMAIL);
    browser.fill("#signin-password", "not-the-password");
    browser.click("#signin-submit");
    browser.wait_text("#signin-error", "Wrong email or password.");
    browser.fill("#signin-password", PASSWORD);
    browser.click("#signin-submit");
    browser.wait_text("#page-title", "API Keys");
    browser.wait_text("main", "No API keys yet");
    assert_clean_page(&browser, "API keys, empty");

    // Create a key; it is shown once.
    browser.click("#create-key");
    browser.wait_visible("#key-name");
    assert_eq!(
        browser.js(
            "return document.getElementById('key-name').placeholder;",
            json!([])
        ),
        json!("Production Server")
    );
    assert_clean_page(&browser, "create key dialog");
    browser.fill("#key-name", "CI deploy");
    browser.click("#create-key-dialog button[type=submit]");
    browser.wait_visible("#revealed-key");
    let key = browser
        .js(
            "return document.getElementById('revealed-key').value;",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        key.starts_with("sk_live_") && key.len() == 46,
        "revealed key: {key:?}"
    );
    browser.wait_text("#reveal-dialog", "will not be shown again");
    browser.click("#copy-key");
    browser.wait_until("the copy button to report", || {
        browser.js(
            "return document.querySelector('#reveal-dialog [role=status]').textContent;",
            json!([]),
        ) != json!("")
    });
    browser.screenshot(&shots.join("api-key-reveal.png"));
    browser.click("#reveal-dialog button[type=submit]");
    browser.wait_gone("#reveal-dialog");
    let still_there = browser.js(
        "const k = arguments[0];
         return document.documentElement.outerHTML.includes(k)
           || [...document.querySelectorAll('input, textarea')].some(e => e.value.includes(k))
           || JSON.stringify(Object.assign({}, sessionStorage)).includes(k);",
        json!([key]),
    );
    assert_eq!(
        still_there,
        json!(false),
        "the key outlived its one-time reveal"
    );

    // The key works against the public API.
    let me = server.get("/api/v1/me").bearer(&key).send();
    me.expect_status(200);
    assert_eq!(me.json()["email"], json!(EMAIL));

    // The list shows it, with its last use once the server has flushed it.
    let key_id = browser
        .js(
            "return document.querySelector('tr[data-key-id]').getAttribute('data-key-id');",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string();
    let row = format!("tr[data-key-id='{key_id}']");
    browser.wait_text(&format!("{row} .cell-name"), "CI deploy");
    browser.wait_text(&format!("{row} [data-label=Status]"), "Active");
    reload_until_text_is(
        &browser,
        &format!("{row} [data-label='Last used']"),
        "just now",
    );
    assert_clean_page(&browser, "API keys");
    browser.screenshot(&shots.join("api-keys.png"));

    // The key detail lists the addresses that used it: 127.0.0.1 above, and now 127.0.0.2
    // (a real second loopback address), both first seen within 24 hours, so both "new".
    me_from(server.addr, "127.0.0.2", &key).expect_status(200);
    browser.click(&format!("{row} [data-action=activity]"));
    browser.wait_visible("#key-detail-dialog");
    browser.wait_until("both addresses in the key detail", || {
        let shown = browser.js(
            "return [...document.querySelectorAll('#key-detail-dialog tr[data-activity=ip]')]
               .map(r => [r.getAttribute('data-value'), !!r.querySelector('[data-new]')]);",
            json!([]),
        );
        if shown.as_array().is_some_and(|rows| rows.len() == 2) {
            let mut rows = shown.as_array().cloned().unwrap_or_default();
            rows.sort_by_key(|row| row.to_string());
            assert_eq!(
                rows,
                [json!(["127.0.0.1", true]), json!(["127.0.0.2", true])],
                "addresses of the key"
            );
            return true;
        }
        // Not flushed yet: open the detail again.
        browser.click("#key-detail-dialog button[type=submit]");
        browser.wait_gone("#key-detail-dialog");
        browser.click(&format!("{row} [data-action=activity]"));
        browser.wait_visible("#key-detail-dialog");
        false
    });
    browser.wait_text(
        "#key-detail-dialog tr[data-activity=user_agent]",
        "deploy-script/2",
    );
    assert_clean_page(&browser, "key detail");
    browser.screenshot(&shots.join("api-key-activity.png"));
    browser.click("#key-detail-dialog button[type=submit]");
    browser.wait_gone("#key-detail-dialog");

    // Deactivate it in the page: the next call with it fails.
    browser.click(&format!("{row} [data-action=deactivate]"));
    browser.wait_text(&format!("{row} [data-label=Status]"), "Inactive");
    server
        .get("/api/v1/me")
        .bearer(&key)
        .send()
        .expect_detail(401, json!("Invalid or expired API token."));

    // Usage: two accepted calls (one per address), one rejected, drawn as bars.
    browser.click(&format!("{row} [data-action=usage]"));
    let card = format!("section[data-key-id='{key_id}']");
    browser.wait_visible(&format!("{card} svg"));
    reload_until_text_is(&browser, &format!("{card} [data-stat=rejected]"), "1");
    browser.wait_text(&format!("{card} [data-stat=accepted]"), "2");
    browser.wait_text(&format!("{card} [data-stat=total]"), "3");
    let bars = browser.js(
        "const svg = document.querySelector(arguments[0] + ' svg');
         return [svg.querySelectorAll('rect.bar-accepted').length,
                 svg.querySelectorAll('rect.bar-rejected').length,
                 svg.querySelectorAll('g.day').length];",
        json!([card]),
    );
    assert_eq!(bars, json!([1, 1, 30]), "bars of the usage chart");
    assert_clean_page(&browser, "usage");
    browser.screenshot(&shots.join("usage-chart.png"));

    // A second key, reported as leaked by a scanner: switched off, and the list says why.
    let admin = server.login(EMAIL, PASSWORD);
    let project_id = server
        .get("/api/internal/projects")
        .bearer(&admin)
        .send()
        .json()[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let created = server
        .post(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(&admin)
        .json(&json!({"name": "Leaky"}))
        .send();
    created.expect_status(201);
    let leaky = created.json()["key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let leaky_id = created.json()["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let reported = server
        .post("/api/v1/keys/report-leak")
        .json(&json!([{"token": leaky, "type": "shipstar_api_key",
                       "url": "https://example.com/repo/.env", "source": "content"}]))
        .send();
    reported.expect_status(200);
    assert_eq!(reported.json()[0]["label"], json!("true_positive"));
    browser.goto(&format!("{base}/dashboard#/keys"));
    let leaky_row = format!("tr[data-key-id='{leaky_id}']");
    browser.wait_text(&format!("{leaky_row} [data-label=Status]"), "Inactive");
    browser.wait_text(
        &format!("{leaky_row} [data-reason=leak_reported]"),
        "Switched off: reported as leaked on ",
    );
    browser.wait_text(
        &format!("{leaky_row} [data-reason=leak_reported]"),
        "(https://example.com/repo/.env)",
    );
    browser.click(&format!("{leaky_row} [data-action=activity]"));
    browser.wait_text(
        "#key-detail-dialog [data-reason=leak_reported]",
        "reported as leaked",
    );
    browser.wait_text(
        "#key-detail-dialog [data-empty=ip]",
        "No use in the last 30 days.",
    );
    assert_clean_page(&browser, "reported key");
    browser.screenshot(&shots.join("api-key-reported.png"));
    browser.click("#key-detail-dialog button[type=submit]");
    browser.wait_gone("#key-detail-dialog");

    // Content: write a changelog with the structured form and publish it.
    browser.goto(&format!("{base}/dashboard#/content"));
    browser.wait_text("main", "No content yet");
    browser.click("#new-changelog");
    browser.wait_visible("#content-title");
    assert_clean_page(&browser, "changelog editor");
    browser.fill("#content-title", "March 2025");
    browser.set_value("#content-from", "2025-03-01");
    browser.set_value("#content-to", "2025-03-31");
    browser.fill(".entry input[data-key=category]", "Added");
    browser.fill(".entry input[data-key=title]", "A dashboard");
    browser.fill(
        ".entry textarea[data-key=description]",
        "Keys, usage and content in the browser.",
    );
    browser.screenshot(&shots.join("content-editor.png"));
    browser.click("#content-save");
    browser.wait_visible("#content-publish");
    assert_clean_page(&browser, "saved changelog");
    browser.click("#content-publish");
    browser.fill("#publish-slug", "march-2025");
    browser.click("#publish-dialog button[type=submit]");
    browser.wait_visible("#content-public-link");
    let public = server.get("/api/v1/changelog/march-2025").send();
    public.expect_status(200);
    let published = public.json();
    assert_eq!(published["title"], json!("March 2025"));
    assert_eq!(published["period_start"], json!("2025-03-01T00:00:00Z"));
    let body: Value =
        serde_json::from_str(published["content"].as_str().unwrap_or_default()).unwrap();
    assert_eq!(
        body,
        json!({"title": "March 2025", "entries": [{"category": "Added", "title": "A dashboard",
               "description": "Keys, usage and content in the browser."}]})
    );
    browser.goto(&format!("{base}/dashboard#/content"));
    browser.wait_text("tr[data-content-id] [data-label=Status]", "Published");
    assert_clean_page(&browser, "content list");
    browser.screenshot(&shots.join("content.png"));

    // Audit log: the changes above, one line each, with who, what, from where and when.
    // Another person of the team writes too, so the person filter has someone to tell apart.
    let admin_token = server.login(EMAIL, PASSWORD);
    let team_id = server
        .get("/api/internal/teams")
        .bearer(&admin_token)
        .send()
        .json()[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let project_id = server
        .get("/api/internal/projects")
        .bearer(&admin_token)
        .send()
        .json()[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (writer_id, writer) =
        server.create_user(&admin_token, "writer@example.com", "writer-password-1");
    server
        .post(&format!("/api/internal/teams/{team_id}/members"))
        .bearer(&admin_token)
        .json(&json!({"email": "writer@example.com", "role": "member"}))
        .send()
        .expect_status(201);
    server
        .post(&format!("/api/internal/projects/{project_id}/content"))
        .bearer(&writer)
        .json(&json!({"type": "blog", "title": "Notes from the writer", "content": "Hi"}))
        .send()
        .expect_status(201);
    browser.goto(&format!("{base}/dashboard#/audit"));
    browser.wait_text("#page-title", "Audit log");
    browser.wait_visible("[data-nav=audit]");
    let prefix = &key[..16];
    // Some line of `action` reads `needle` (several events may share an action).
    let wait_line = |action: &str, needle: &str| {
        browser.wait_until(&format!("a {action} line reading {needle:?}"), || {
            browser.js(
                "return [...document.querySelectorAll('li[data-action]')]
                   .some(li => li.getAttribute('data-action') === arguments[0]
                               && li.textContent.includes(arguments[1]));",
                json!([action, needle]),
            ) == json!(true)
        });
    };
    wait_line(
        "api_key.created",
        &format!("{EMAIL} created API key {prefix} (CI deploy) · 127.0.0.1 · "),
    );
    wait_line(
        "api_key.deactivated",
        &format!("{EMAIL} deactivated API key {prefix} · 127.0.0.1 · just now"),
    );
    wait_line(
        "api_key.first_use_from_new_ip",
        &format!("API key {prefix} was used from a new address · 127.0.0.2 · just now"),
    );
    wait_line(
        "content.published",
        &format!("{EMAIL} published “March 2025” as march-2025 · 127.0.0.1 · just now"),
    );
    assert_clean_page(&browser, "audit log");
    browser.screenshot(&shots.join("audit-log.png"));
    let actions_shown = |browser: &Browser| {
        browser.js(
            "return [...document.querySelectorAll('li[data-action]')]
               .map(li => li.getAttribute('data-action'));",
            json!([]),
        )
    };
    // By family: API keys only, applied with the button from the keyboard.
    browser.set_value("#audit-action-filter", "api_key.");
    browser.send_keys("#audit-apply", ENTER);
    browser.wait_until("the API key family alone", || {
        actions_shown(&browser)
            == json!([
                "api_key.reported_leaked",
                "api_key.created",
                "api_key.deactivated",
                "api_key.first_use_from_new_ip",
                "api_key.created"
            ])
    });
    // By person: the writer's one change, in every family.
    browser.set_value("#audit-action-filter", "");
    browser.wait_until("the person list", || {
        browser.js(
            "return !!document.querySelector('#audit-actor-filter option[value=\"' + arguments[0] + '\"]');",
            json!([writer_id]),
        ) == json!(true)
    });
    browser.set_value("#audit-actor-filter", &writer_id);
    browser.click("#audit-apply");
    browser.wait_until("the writer's events alone", || {
        actions_shown(&browser) == json!(["content.created"])
    });
    browser.wait_text(
        "li[data-action='content.created']",
        "writer@example.com created blog post “Notes from the writer” · 127.0.0.1 · just now",
    );
    assert_clean_page(&browser, "audit log filtered by person");

    // Team and account pages render with labelled controls; the account lists this session.
    browser.goto(&format!("{base}/dashboard#/team"));
    browser.wait_text("main", EMAIL);
    assert_clean_page(&browser, "team");
    browser.screenshot(&shots.join("team.png"));
    browser.goto(&format!("{base}/dashboard#/account"));
    browser.wait_text("main", "This session");
    assert_clean_page(&browser, "account");
    browser.screenshot(&shots.join("account.png"));

    // Phone width: the key list fits without sideways scrolling.
    browser.set_viewport(390, 844, true);
    browser.goto(&format!("{base}/dashboard#/keys"));
    browser.wait_visible(&row);
    let fits = browser.js(
        "return document.documentElement.scrollWidth <= window.innerWidth;",
        json!([]),
    );
    assert_eq!(fits, json!(true), "the phone layout scrolls sideways");
    assert_clean_page(&browser, "API keys on a phone");
    browser.screenshot(&shots.join("api-keys-phone.png"));
    browser.set_viewport(1280, 800, false);

    // Nothing was fetched from another origin, and nothing was refused by the CSP.
    let urls = browser.js(
        "return performance.getEntriesByType('resource').map(e => e.name)
           .concat(performance.getEntriesByType('navigation').map(e => e.name));",
        json!([]),
    );
    let urls = urls.as_array().cloned().unwrap_or_default();
    assert!(!urls.is_empty(), "no resource timing entries");
    for url in &urls {
        let url = url.as_str().unwrap_or_default();
        assert!(
            url.starts_with(&format!("{base}/")),
            "request to another origin: {url}"
        );
    }
    let refused: Vec<(String, String)> = browser
        .console()
        .into_iter()
        .filter(|(_, message)| {
            message.contains("Content Security Policy") || message.contains("Refused to")
        })
        .collect();
    assert!(refused.is_empty(), "CSP violations: {refused:?}");

    // Sign out: the session is revoked on the server and forgotten by the tab.
    let jwt = browser
        .js(
            "return sessionStorage.getItem('shipstar.token');",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(jwt.split('.').count(), 3, "session token: {jwt:?}");
    server
        .get("/api/internal/users/me")
        .bearer(&jwt)
        .send()
        .expect_status(200);
    browser.click("#sign-out");
    browser.wait_visible("#signin-email");
    browser.wait_text("main", "You are signed out.");
    assert_eq!(
        browser.js("return sessionStorage.length;", json!([])),
        json!(0)
    );
    server
        .get("/api/internal/users/me")
        .bearer(&jwt)
        .send()
        .expect_detail(401, json!("Unauthorized"));
}

/// The `exp` claim of the session token the page holds.
const TOKEN_EXP_JS: &str = "const t = sessionStorage.getItem('shipstar.token');
    const part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part + '='.repeat((4 - part.length % 4) % 4))).exp;";

fn sign_in(browser: &Browser, email: &str, password: &str) {
    browser.fill("#signin-email", email);
    browser.fill("#signin-password", password);
    browser.click("#signin-submit");
}

#[test]
#[ignore = "needs Chromium and chromedriver: run ./test"]
fn dashboard_refreshes_expired_sessions_hides_buttons_from_members_and_counts_down_after_429() {
    // Tokens live 2 s, so the page must refresh one; four sign-ins per minute, so the fifth
    // gets a 429.
    let server = TestServer::start_with(
        Options::default()
            .env("SHIPSTAR_JWT_LIFETIME_SECONDS", "2")
            .env("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "4"),
    );
    let base = format!("http://{}", server.addr);
    // Sign-in 1: a member of the default team, and a key they can see but not manage.
    let admin = server.admin_token();
    let (member_id, _) = {
        let resp = server
            .post("/api/internal/users")
            .bearer(&admin)
            .json(&json!({"email": "member@example.com", "password": "member-password"}))
            .send();
        resp.expect_status(201);
        (resp.json()["id"].as_str().unwrap().to_string(), ())
    };
    let teams = server.get("/api/internal/teams").bearer(&admin).send();
    let team_id = teams.json()[0]["id"].as_str().unwrap().to_string();
    server
        .post(&format!("/api/internal/teams/{team_id}/members"))
        .bearer(&admin)
        .json(&json!({"email": "member@example.com", "role": "member"}))
        .send()
        .expect_status(201);
    let projects = server.get("/api/internal/projects").bearer(&admin).send();
    let project_id = projects.json()[0]["id"].as_str().unwrap().to_string();
    server
        .post(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(&admin)
        .json(&json!({"name": "Billing worker"}))
        .send()
        .expect_status(201);

    let browser = Browser::launch(&server.dir);
    browser.goto(&format!("{base}/dashboard"));

    // Sign-in 2: the administrator; once the token has expired, the next view still loads
    // because the page refreshes the session first.
    sign_in(&browser, ADMIN_EMAIL, ADMIN_PASSWORD);
    browser.wait_text("#page-title", "API Keys");
    browser.wait_text("main", "Billing worker");
    let first = browser.js(
        "return sessionStorage.getItem('shipstar.token');",
        json!([]),
    );
    let exp = browser
        .js(TOKEN_EXP_JS, json!([]))
        .as_i64()
        .expect("exp claim");
    browser.wait_until("the first token to expire", || {
        browser
            .js("return Math.floor(Date.now() / 1000);", json!([]))
            .as_i64()
            .unwrap_or_default()
            > exp
    });
    browser.click("[data-nav=usage]");
    browser.wait_text("#page-title", "Usage");
    browser.wait_visible("[data-stat=total]");
    assert!(browser.try_find("#signin-email").is_none());
    let second = browser.js(
        "return sessionStorage.getItem('shipstar.token');",
        json!([]),
    );
    assert_ne!(first, second, "the token was not refreshed");
    browser.click("#sign-out");
    browser.wait_visible("#signin-email");

    // Sign-in 3: a member sees the keys without any button to change them.
    sign_in(&browser, "member@example.com", "member-password");
    browser.click("[data-nav=keys]");
    browser.wait_text("#page-title", "API Keys");
    browser.wait_text("main", "Billing worker");
    let buttons = browser.js(
        "return document.querySelectorAll('#create-key, [data-action=deactivate], \
         [data-action=reactivate], [data-action=roll], [data-action=delete]').length;",
        json!([]),
    );
    assert_eq!(buttons, json!(0), "a member sees key management buttons");
    browser.wait_text("main", "only owners and admins can change them");
    browser.click("[data-nav=team]");
    browser.wait_visible(&format!("tr[data-user-id='{member_id}']"));
    assert!(browser.try_find("#member-email").is_none());
    assert!(browser.try_find("[data-member-role]").is_none());
    browser.click("#sign-out");
    browser.wait_visible("#signin-email");

    // Wrong passwords until the server refuses (the fifth sign-in at the latest, more if the
    // bucket refilled meanwhile): the page counts down with the button disabled.
    let mut refused = false;
    for _ in 0..10 {
        sign_in(&browser, ADMIN_EMAIL, "wrong-password");
        browser.wait_until("an answer to the sign-in", || {
            let text = browser.js(
                "return document.getElementById('signin-error').textContent;",
                json!([]),
            );
            let text = text.as_str().unwrap_or_default();
            text.contains("Wrong email or password.") || text.contains("Too many")
        });
        let text = browser.js(
            "return document.getElementById('signin-error').textContent;",
            json!([]),
        );
        if text.as_str().unwrap_or_default().contains("Too many") {
            refused = true;
            break;
        }
        // Clear the message so the next answer is told apart from this one.
        browser.js(
            "document.getElementById('signin-error').textContent = '';",
            json!([]),
        );
    }
    assert!(refused, "sign-in was never rate limited");
    browser.wait_text("#signin-error", "Too many sign-in attempts. Try again in");
    assert_eq!(
        browser.js(
            "return document.getElementById('signin-submit').disabled;",
            json!([])
        ),
        json!(true)
    );
    // The alert announces the wait once; the seconds tick in a line that is not a live
    // region. Seconds shown there, or 0 once the countdown has ended.
    let alert_text = || {
        browser
            .js(
                "return document.getElementById('signin-error').textContent;",
                json!([]),
            )
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let announced = alert_text();
    let seconds_left = || {
        browser
            .js(
                "const el = document.getElementById('signin-countdown');
                 const m = el.hidden ? null : el.textContent.match(/in (\\d+) second/);
                 return m ? parseInt(m[1], 10) : 0;",
                json!([]),
            )
            .as_i64()
            .unwrap_or_default()
    };
    assert_eq!(
        browser.js(
            "const el = document.getElementById('signin-countdown');
             return [el.getAttribute('role'), el.getAttribute('aria-live'), el.closest('[aria-live]:not([aria-live=off]),[role=alert],[role=status]') === null];",
            json!([])
        ),
        json!([null, null, true]),
        "the ticking countdown must not be a live region"
    );
    let start = seconds_left();
    assert!(start >= 1, "countdown starts at {start}");
    browser.wait_until("the countdown to tick", || seconds_left() < start);
    if seconds_left() > 0 {
        assert_eq!(
            alert_text(),
            announced,
            "the alert was rewritten while counting down"
        );
    }
}

#[test]
#[ignore = "needs Chromium and chromedriver: run ./test"]
fn dashboard_keyboard_paths_confirm_choices_keep_toasts_and_preview_the_servers_slug() {
    let server = TestServer::start();
    let base = format!("http://{}", server.addr);
    let admin = server.admin_token();
    let team_id = server
        .get("/api/internal/teams")
        .bearer(&admin)
        .send()
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let member = server
        .post("/api/internal/users")
        .bearer(&admin)
        .json(&json!({"email": "member@example.com", "password": "member-password"}))
        .send();
    member.expect_status(201);
    let member_id = member.json()["id"].as_str().unwrap().to_string();
    server
        .post(&format!("/api/internal/teams/{team_id}/members"))
        .bearer(&admin)
        .json(&json!({"email": "member@example.com", "role": "member"}))
        .send()
        .expect_status(201);
    let second = server
        .post(&format!("/api/internal/teams/{team_id}/projects"))
        .bearer(&admin)
        .json(&json!({"name": "Second project"}))
        .send();
    second.expect_status(201);
    let second_id = second.json()["id"].as_str().unwrap().to_string();
    let default_id = server
        .get("/api/internal/projects")
        .bearer(&admin)
        .send()
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let role_of_member = || {
        server
            .get(&format!("/api/internal/teams/{team_id}/members"))
            .bearer(&admin)
            .send()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == json!(member_id))
            .map(|m| m["role"].clone())
            .unwrap()
    };

    let browser = Browser::launch(&server.dir);
    browser.goto(&format!("{base}/dashboard"));
    sign_in(&browser, ADMIN_EMAIL, ADMIN_PASSWORD);
    browser.wait_text("#page-title", "API Keys");

    // The project picker: an arrow key changes the choice but not the page; Show applies it.
    browser.goto(&format!("{base}/dashboard#/keys?project={default_id}"));
    browser.wait_text("#page-title", "API Keys");
    let before = browser.current_url();
    browser.send_keys("select[name=project]", ARROW_DOWN);
    browser.wait_until("the arrow key to change the project select", || {
        browser.js(
            "return document.querySelector('select[name=project]').value;",
            json!([]),
        ) != json!(default_id)
    });
    assert_eq!(browser.current_url(), before, "an arrow key navigated");
    browser.send_keys("[data-picker-apply=project]", ENTER);
    browser.wait_until("Show to open the chosen project", || {
        browser.current_url().contains(&second_id)
    });

    // A member's role: an arrow key changes nothing on the server; Save does.
    browser.goto(&format!("{base}/dashboard#/team"));
    let select = format!("select[data-member-role='{member_id}']");
    browser.wait_visible(&select);
    assert_clean_page(&browser, "team with role pickers");
    browser.send_keys(&select, ARROW_DOWN);
    browser.wait_until("the arrow key to change the role select", || {
        browser.js(
            "return document.querySelector(arguments[0]).value;",
            json!([select]),
        ) != json!("member")
    });
    let chosen = browser.js(
        "return document.querySelector(arguments[0]).value;",
        json!([select]),
    );
    assert_eq!(
        role_of_member(),
        json!("member"),
        "an arrow key changed the role"
    );
    browser.send_keys(&format!("[data-member-role-save='{member_id}']"), ENTER);
    browser.wait_until("Save to change the role", || role_of_member() == chosen);

    // The toast that says so stays until dismissed, and its Dismiss button takes the keyboard.
    browser.wait_text("#toasts", "member@example.com is now");
    browser.send_keys("#toasts .toast-dismiss", ENTER);
    browser.wait_gone("#toasts .toast");

    // The publish dialog's slug preview is what the server derives, for titles where a
    // naive rule would differ: accents, no ASCII at all, and more than 100 characters.
    let long_title = "Release notes ".repeat(9);
    for title in [
        "Ünïcode café — déjà vu!",
        "日本語のお知らせ",
        long_title.as_str(),
    ] {
        let item = server
            .post(&format!("/api/internal/projects/{default_id}/content"))
            .bearer(&admin)
            .json(&json!({"type": "blog", "title": title, "content": "Body."}))
            .send();
        item.expect_status(201);
        let id = item.json()["id"].as_str().unwrap().to_string();
        browser.goto(&format!("{base}/dashboard#/content/{id}"));
        browser.click("#content-publish");
        browser.wait_visible("#publish-slug");
        let preview = browser.js(
            "return document.getElementById('publish-slug').placeholder;",
            json!([]),
        );
        browser.click("#publish-dialog button[type=submit]");
        browser.wait_visible("#content-public-link");
        let published = server
            .get(&format!("/api/internal/sources/content/{id}"))
            .bearer(&admin)
            .send();
        assert_eq!(
            published.json()["public_slug"],
            preview,
            "slug preview for {title:?}"
        );
    }
}
