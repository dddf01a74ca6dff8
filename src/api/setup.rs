//! The first-start setup page: creates the first superuser (with team and project `default`)
//! through a one-time link printed at start-up. The link dies after use, and once any user
//! exists (created here, by the CLI next to a running server, or by any other means) every
//! request to `/setup` is 404, whatever its method and token.

use super::dashboard::{with_page_headers, ASSET_PREFIX, DASHBOARD_PATH};
use super::extract::Fields;
use super::{App, Ctx};
use crate::accounts::{self, Password, PasswordProblem};
use crate::content::feed::html_text;
use crate::email::Email;
use crate::error::Error;
use crate::http::Response;
use subtle::ConstantTimeEq;

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

fn token_is_valid(app: &App, presented: Option<&str>) -> bool {
    let guard = app.setup_token.lock().unwrap_or_else(|p| p.into_inner());
    match (guard.as_deref(), presented) {
        (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
        _ => false,
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
    if !token_is_valid(app, token) {
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
    if !token_is_valid(app, token) {
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
    if app.store.has_users()? {
        *app.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = None;
        return Ok(dead_link());
    }
    // The holder of the one-time link is nobody known yet.
    let audit = ctx.audit(app, crate::store::Audit::anonymous());
    let user = accounts::create_first_admin(
        &app.store,
        &app.hasher,
        valid_email,
        password,
        &audit,
        "setup",
        app.clock.now_secs(),
    )?;
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
