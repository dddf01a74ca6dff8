//! The first-start setup page: creates the first superuser (with team and project `default`)
//! through a one-time link printed at start-up. The link dies after use, and the page refuses
//! to do anything once any user exists.

use super::extract::{is_plausible_email, Fields};
use super::internal::auth::hash_password;
use super::{App, Ctx};
use crate::auth::password::{check_length, LengthProblem};
use crate::error::Error;
use crate::http::Response;
use subtle::ConstantTimeEq;

/// Security headers of every HTML page the server sends.
pub fn html_page(status: u16, title: &str, body_html: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · shipstar</title></head><body><main><h1>{title}</h1>{body_html}</main>\
         </body></html>\n",
        title = escape_html(title)
    );
    Response::bytes(status, "text/html; charset=utf-8", page.into_bytes())
        .with_header(
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'none'",
        )
        .with_header("X-Frame-Options", "DENY")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("Cache-Control", "no-store")
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn token_is_valid(app: &App, presented: Option<&str>) -> bool {
    let guard = app.setup_token.lock().unwrap_or_else(|p| p.into_inner());
    match (guard.as_deref(), presented) {
        (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
        _ => false,
    }
}

fn dead_link() -> Response {
    html_page(
        404,
        "Setup link not valid",
        "<p>This setup link is invalid or has already been used. \
         Sign in with an existing account, or create one with <code>shipstar user create</code>.</p>",
    )
}

fn form(token: &str, message: Option<&str>) -> String {
    let notice = message
        .map(|m| format!("<p role=\"alert\">{}</p>", escape_html(m)))
        .unwrap_or_default();
    format!(
        "<p>Create the first administrator of this server.</p>{notice}\
         <form method=\"post\" action=\"/setup\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <p><label for=\"email\">Email</label><br>\
         <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"username\"></p>\
         <p><label for=\"password\">Password (8 to 1024 characters)</label><br>\
         <input id=\"password\" name=\"password\" type=\"password\" required minlength=\"8\" \
         maxlength=\"1024\" autocomplete=\"new-password\"></p>\
         <p><button type=\"submit\">Create administrator</button></p></form>",
        token = escape_html(token)
    )
}

/// `GET /setup?token=`: the form, while the token is valid.
pub fn get_setup(app: &App, ctx: &Ctx<'_>) -> Result<Response, Error> {
    let query = Fields::from_query(ctx.req)?;
    let mut problems = Vec::new();
    let token = query.optional("token", &mut problems);
    if !token_is_valid(app, token) {
        return Ok(dead_link());
    }
    Ok(html_page(
        200,
        "Set up shipstar",
        &form(token.unwrap_or_default(), None),
    ))
}

/// `POST /setup` (form: token, email, password): creates the first superuser, team
/// `default` and project `default`, and retires the token.
pub fn post_setup(app: &App, ctx: &Ctx<'_>) -> Result<Response, Error> {
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
    if !problems.is_empty() || !is_plausible_email(email) {
        return Ok(html_page(
            422,
            "Set up shipstar",
            &form(token, Some("Enter a valid email address.")),
        ));
    }
    if let Err(problem) = check_length(password) {
        let why = match problem {
            LengthProblem::TooShort => "The password needs at least 8 characters.",
            LengthProblem::TooLong => "The password may have at most 1024 characters.",
        };
        return Ok(html_page(422, "Set up shipstar", &form(token, Some(why))));
    }
    if app.store.count_users()? > 0 {
        *app.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = None;
        return Ok(dead_link());
    }
    let new = crate::store::NewUser {
        email: email.trim().to_lowercase(),
        password_hash: hash_password(app, password)?,
        first_name: None,
        last_name: None,
        is_superuser: true,
        is_verified: true,
    };
    let user = app.store.create_first_admin(&new, app.clock.now_secs())?;
    *app.setup_token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    *ctx.principal.borrow_mut() = Some(format!("user:{}", user.id));
    Ok(html_page(
        201,
        "Administrator created",
        &format!(
            "<p>{} can now sign in. Team <code>default</code> and project <code>default</code> \
             were created.</p>",
            escape_html(&user.email)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn html_escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
