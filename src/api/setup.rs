//! The first-start setup page: creates the first superuser (with team and project `default`)
//! through a one-time link printed at start-up. The link dies after use, and once any user
//! exists (created here, by the CLI next to a running server, or by any other means) every
//! request to `/setup` is 404, whatever its method and token.
//!
//! Several nodes may serve one database, each printing its own link: every node stores the
//! SHA-256 of its token (never the token) in the database and checks a presented token there,
//! so any node's link works on any node, once. Creating the first administrator spends the
//! presented link and deletes every other one in the same transaction; a node whose link was
//! spent elsewhere refuses it, as the database (not its memory) is asked.

use super::dashboard::{with_page_headers, ASSET_PREFIX, DASHBOARD_PATH};
use super::extract::Fields;
use super::{App, Ctx};
use crate::accounts::{self, FirstAdminVia, Password, PasswordProblem};
use crate::content::feed::html_text;
use crate::email::Email;
use crate::error::Error;
use crate::http::Response;
use sha2::{Digest, Sha256};

/// A server-rendered page in the dashboard's look (its stylesheet, no script), with the page
/// security headers. Never cached: the setup form carries the one-time token.
pub fn html_page(status: u16, title: &str, body_html: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · shipstar</title>\
         <link rel=\"icon\" href=\"{assets}icon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"{assets}app.css\"></head>\
         <body class=\"auth-body\"><main class=\"auth-page\"><div class=\"auth-card\">\
         <p class=\"brand\"><img src=\"{assets}icon.svg\" alt=\"\" width=\"28\" height=\"28\">\
         <span>shipstar</span></p><h1>{title}</h1>{body_html}</div></main></body></html>\n",
        title = html_text(title),
        assets = ASSET_PREFIX,
    );
    with_page_headers(Response::bytes(
        status,
        "text/html; charset=utf-8",
        page.into_bytes(),
    ))
    .with_header("Cache-Control", "no-store")
}

/// The SHA-256 (hex) of a setup token: what the database keeps of it.
pub fn token_hash(token: &str) -> String {
    crate::ids::to_hex(&Sha256::digest(token.as_bytes()))
}

/// Arms this node's one-time setup link: a new random token whose hash is stored in the
/// database (so every node of it accepts the link); returns the token, to print.
pub fn arm_link(app: &App) -> Result<String, Error> {
    let token = crate::ids::random_hex(24);
    app.store
        .add_setup_token(&token_hash(&token), app.clock.now_secs())?;
    *app.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
    Ok(token)
}

/// Forgets this node's link as it shuts down: a link lives no longer than the node that
/// printed it (a restart prints a new one), as when the token lived in memory only.
pub fn disarm_link(app: &App) -> Result<(), Error> {
    let token = app
        .setup_token
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match token {
        Some(token) => app.store.remove_setup_token(&token_hash(&token)),
        None => Ok(()),
    }
}

/// Whether `presented` is a live setup token of any node (see the module doc). The lookup
/// is by hash, so it compares nothing secret byte by byte.
fn token_is_valid(app: &App, presented: Option<&str>) -> Result<bool, Error> {
    match presented {
        Some(token) if !token.is_empty() => app.store.setup_token_is_live(&token_hash(token)),
        _ => Ok(false),
    }
}

/// The path of the setup page.
pub const SETUP_PATH: &str = "/setup";

/// Whether the setup page is gone for good: true once any user exists. The database is asked
/// (a user created by the CLI while the server runs counts) only while the token is armed;
/// the first answer of "yes" disarms it, so later requests cost one lock and no query.
pub fn is_closed(app: &App) -> Result<bool, Error> {
    let mut token = app.setup_token.lock().unwrap_or_else(|p| p.into_inner());
    if token.is_none() {
        return Ok(true);
    }
    if app.store.has_users()? {
        *token = None;
        return Ok(true);
    }
    Ok(false)
}

/// The 404 page of a setup link that is unknown, used, or no longer needed.
pub fn dead_link() -> Response {
    html_page(
        404,
        "Setup link not valid",
        &format!(
            "<p>This setup link is invalid or has already been used. Sign in with an existing \
             account, or create one with <code>shipstar user create</code>.</p>\
             <p><a class=\"btn btn-primary btn-block\" href=\"{DASHBOARD_PATH}\">Go to sign in</a></p>"
        ),
    )
}

/// The form, with the email typed so far and an inline error, if any.
fn form(token: &str, email: &str, message: Option<&str>) -> String {
    let notice = message
        .map(|m| {
            format!(
                "<div class=\"alert alert-error\" role=\"alert\">{}</div>",
                html_text(m)
            )
        })
        .unwrap_or_default();
    format!(
        "<p class=\"muted\">Create the first administrator of this server. \
         This link works once.</p>{notice}\
         <form method=\"post\" action=\"/setup\" class=\"stack\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <div class=\"field\"><label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"username\" \
         value=\"{email}\"></div>\
         <div class=\"field\"><label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" required minlength=\"8\" \
         maxlength=\"1024\" autocomplete=\"new-password\" aria-describedby=\"password-hint\">\
         <p class=\"hint\" id=\"password-hint\">8 to 1024 characters.</p></div>\
         <button type=\"submit\" class=\"btn btn-primary btn-block\">Create administrator</button>\
         </form>",
        token = html_text(token),
        email = html_text(email),
    )
}

/// `GET /setup?token=`: the form, while the token is valid.
pub fn get_setup(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    if is_closed(app)? {
        return Ok(dead_link());
    }
    let query = Fields::from_query(ctx.req)?;
    let mut problems = Vec::new();
    let token = query.optional("token", &mut problems);
    if !token_is_valid(app, token)? {
        return Ok(dead_link());
    }
    Ok(html_page(
        200,
        "Set up shipstar",
        &form(token.unwrap_or_default(), "", None),
    ))
}

/// `POST /setup` (form: token, email, password): creates the first superuser, team
/// `default` and project `default`, and retires the token.
pub fn post_setup(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    if is_closed(app)? {
        return Ok(dead_link());
    }
    let fields = Fields::from_form(ctx.req)?;
    let mut problems = Vec::new();
    let token = fields.optional("token", &mut problems);
    if !token_is_valid(app, token)? {
        return Ok(dead_link());
    }
    let token = token.unwrap_or_default();
    let email = fields.required("email", &mut problems).unwrap_or_default();
    let password = fields
        .required("password", &mut problems)
        .unwrap_or_default();
    let valid_email = Email::parse(email).ok().filter(|_| problems.is_empty());
    let Some(valid_email) = valid_email else {
        return Ok(html_page(
            422,
            "Set up shipstar",
            &form(token, email, Some("Enter a valid email address.")),
        ));
    };
    let password = match Password::parse(password) {
        Ok(password) => password,
        Err(problem) => {
            let why = match problem {
                PasswordProblem::TooShort => "The password needs at least 8 characters.",
                PasswordProblem::TooLong => "The password may have at most 1024 characters.",
            };
            return Ok(html_page(
                422,
                "Set up shipstar",
                &form(token, email, Some(why)),
            ));
        }
    };
    // The holder of the one-time link is nobody known yet.
    let audit = ctx.audit(app, crate::store::Audit::anonymous());
    let created = accounts::create_first_admin(
        &app.store,
        &app.hasher,
        valid_email,
        password,
        FirstAdminVia::Setup {
            token_hash: &token_hash(token),
        },
        &audit,
        app.clock.now_secs(),
    )?;
    let Some(user) = created else {
        // Another request, node or command created a user first, or spent this link.
        return Ok(dead_link());
    };
    *app.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    ctx.used.principal = Some(format!("user:{}", user.id));
    Ok(html_page(
        201,
        "Administrator created",
        &format!(
            "<div class=\"alert alert-success\" role=\"status\"><strong>{}</strong> can now \
             sign in.</div><p>Team <code>default</code> and project <code>default</code> were \
             created. This setup link no longer works.</p>\
             <p><a class=\"btn btn-primary btn-block\" href=\"{DASHBOARD_PATH}\">Sign in</a></p>",
            html_text(&user.email)
        ),
    ))
}
