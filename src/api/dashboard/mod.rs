//! The embedded web dashboard: plain HTML, CSS and JavaScript files compiled into the binary
//! with `include_bytes!` and served from memory.
//!
//! There is no file-system access at all: a request names an asset, and the asset is looked
//! up by exact name in a fixed table. Anything not in the table (including every `..` or
//! percent-encoded variant of it) is 404, so no path can escape the embedded set.
//!
//! The app is one HTML shell, one stylesheet, one icon and one script; the script is put
//! together at compile time from the parts in `scripts/` (see `SCRIPT`).
//!
//! Every dashboard file carries the page security headers ([`with_page_headers`]): a
//! Content-Security-Policy that allows nothing but this origin (no inline script or style,
//! no framing), `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`.
//!
//! Caching: each file is sent with a strong `ETag` (a SHA-256 digest of its bytes) and
//! `Cache-Control: no-cache`, so a browser keeps its copy but asks every time and gets a
//! body-less 304 while the binary is unchanged. File names carry no version, so this is what
//! guarantees that an upgraded server never runs next to the previous release's scripts.
//!
//! May use `http` types only; knows nothing of the store or of authentication (the pages
//! call the internal API like any other client).

use super::conditional::{client_has, strong_etag};
use super::{App, Ctx};
use crate::error::Error;
use crate::http::{Request, Response};
use std::sync::OnceLock;

/// The policy of every dashboard page: this origin only, no inline code, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; frame-ancestors 'none'";
/// Where the single-page app lives.
pub const DASHBOARD_PATH: &str = "/dashboard";
/// The prefix of the embedded assets' URLs.
pub const ASSET_PREFIX: &str = "/dashboard/assets/";

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The name in the URL (and in `assets/`).
    pub name: &'static str,
    /// The `Content-Type` it is served with.
    pub content_type: &'static str,
    /// Its bytes, compiled in.
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("assets/", $name)),
        }
    };
}

/// The app shell served at `/dashboard`; the router inside it works on the URL fragment
/// (`/dashboard#/keys`), so the server needs no route per page.
static INDEX: Asset = asset!("index.html", HTML);

/// Builds the one script of the app from its parts in `scripts/`, in order, inside one
/// strict-mode function scope (nothing leaks to `window`). The parts are plain scripts that
/// share that scope: a part may use what an earlier part declares.
macro_rules! script_bundle {
    ($($part:literal),+ $(,)?) => {
        (
            concat!(
                "(() => {\n'use strict';\n",
                $("\n// ---- ", $part, "\n", include_str!(concat!("scripts/", $part)),)+
                "\n})();\n"
            ),
            &[$($part),+],
        )
    };
}

/// The app's script and the names of its parts. One file rather than one per module: a
/// browser fetching many files at once opens several connections in parallel, and every
/// request costs a round trip; one script keeps page loads to a handful of requests.
const SCRIPT: (&str, &[&str]) = script_bundle!(
    "api.js",
    "ui.js",
    "context.js",
    "chart.js",
    "page-signin.js",
    "page-keys.js",
    "page-usage.js",
    "content-editor.js",
    "page-content.js",
    "page-team.js",
    "page-audit.js",
    "page-account.js",
    "app.js",
);

/// Every file under `/dashboard/assets/`. A unit test checks that this table and the
/// `assets/` directory list the same files (plus the script built from `scripts/`).
static ASSETS: &[Asset] = &[
    asset!("app.css", CSS),
    asset!("icon.svg", SVG),
    Asset {
        name: "app.js",
        content_type: JS,
        body: SCRIPT.0.as_bytes(),
    },
];

/// Adds the security headers every HTML page and dashboard file carries.
pub fn with_page_headers(response: Response) -> Response {
    response
        .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .with_header("X-Frame-Options", "DENY")
        .with_header("Referrer-Policy", "no-referrer")
}

/// The embedded asset called `name`, if there is one. Exact match only.
pub fn find_asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

fn redirect_to_dashboard() -> Response {
    with_page_headers(Response::empty(302).with_header("Location", DASHBOARD_PATH))
}

/// `GET /`: 302 to `/dashboard`.
pub fn get_root(_app: &App, _ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    Ok(redirect_to_dashboard())
}

/// `GET /dashboard/`: 302 to `/dashboard`, the one spelling the app's asset URLs assume.
pub fn get_dashboard_slash(_app: &App, _ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    Ok(redirect_to_dashboard())
}

/// `GET /dashboard`: the app shell.
pub fn get_index(_app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    Ok(serve(&INDEX, ctx.req))
}

/// `GET /dashboard/assets/{name}`: an embedded file, or 404 for any other name.
pub fn get_asset(_app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let asset =
        find_asset(ctx.params.get("name")?).ok_or_else(|| Error::NotFound("Not Found".into()))?;
    Ok(serve(asset, ctx.req))
}

/// The answer for `asset`: 304 when the browser's copy is current, else the file.
fn serve(asset: &'static Asset, req: &Request) -> Response {
    let etag = etag_of(asset);
    let response = if client_has(req, etag) {
        Response::empty(304)
    } else {
        Response::bytes(200, asset.content_type, asset.body.to_vec())
    };
    with_page_headers(
        response
            .with_header("ETag", etag)
            .with_header("Cache-Control", "no-cache"),
    )
}

/// The strong entity tag of `asset`, computed once per process.
fn etag_of(asset: &'static Asset) -> &'static str {
    static TAGS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        std::iter::once(&INDEX)
            .chain(ASSETS)
            .map(|a| (a.name, strong_etag(a.body)))
            .collect()
    });
    tags.iter()
        .find(|(name, _)| *name == asset.name)
        .map(|(_, tag)| tag.as_str())
        // Every asset is in the table the tags were built from.
        .unwrap_or("\"\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn dashboard_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api/dashboard")
    }

    fn all_assets() -> impl Iterator<Item = &'static Asset> {
        std::iter::once(&INDEX).chain(ASSETS)
    }

    fn text_of(asset: &Asset) -> &'static str {
        std::str::from_utf8(asset.body).expect("assets are UTF-8")
    }

    fn file_names(dir: &str) -> BTreeSet<String> {
        std::fs::read_dir(dashboard_dir().join(dir))
            .expect("directory")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .into_string()
                    .expect("name")
            })
            .collect()
    }

    #[test]
    fn the_asset_table_lists_exactly_the_files_in_the_assets_directory() {
        let mut on_disk = file_names("assets");
        on_disk.insert("app.js".into());
        let embedded: BTreeSet<String> = all_assets().map(|a| a.name.to_string()).collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn the_script_holds_every_part_once_in_order() {
        let parts: BTreeSet<String> = SCRIPT.1.iter().map(|p| p.to_string()).collect();
        assert_eq!(parts, file_names("scripts"), "parts of the bundle");
        assert_eq!(parts.len(), SCRIPT.1.len(), "a part is listed twice");
        let mut from = 0;
        for part in SCRIPT.1 {
            let text =
                std::fs::read_to_string(dashboard_dir().join("scripts").join(part)).expect("part");
            let at = SCRIPT.0[from..]
                .find(&text)
                .unwrap_or_else(|| panic!("{part} missing or out of order"));
            from += at + text.len();
        }
        assert!(SCRIPT.0.ends_with("})();\n"));
    }

    /// Parts share one scope, so two top-level declarations of one name would clash (or, for
    /// functions, silently replace each other).
    #[test]
    fn script_parts_declare_distinct_top_level_names() {
        let mut seen = std::collections::BTreeMap::new();
        for part in SCRIPT.1 {
            let text =
                std::fs::read_to_string(dashboard_dir().join("scripts").join(part)).expect("part");
            for line in text.lines() {
                let rest = line.strip_prefix("async ").unwrap_or(line);
                let Some(rest) = ["function ", "const ", "let ", "class "]
                    .iter()
                    .find_map(|kw| rest.strip_prefix(kw))
                else {
                    continue;
                };
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                    .collect();
                if let Some(first) = seen.insert(name.clone(), *part) {
                    panic!("{name} is declared in {first} and in {part}");
                }
            }
        }
        assert!(seen.contains_key("renderKeys") && seen.contains_key("api"));
    }

    #[test]
    fn script_parts_are_plain_scripts() {
        for part in SCRIPT.1 {
            let text =
                std::fs::read_to_string(dashboard_dir().join("scripts").join(part)).expect("part");
            for line in text.lines() {
                assert!(
                    !line.starts_with("import ") && !line.starts_with("export "),
                    "{part}: {line}"
                );
            }
        }
    }

    #[test]
    fn content_types_follow_the_file_extension() {
        for asset in all_assets() {
            let expected = match asset.name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("html") => HTML,
                Some("css") => CSS,
                Some("js") => JS,
                Some("svg") => SVG,
                other => panic!("no content type for extension {other:?}"),
            };
            assert_eq!(asset.content_type, expected, "{}", asset.name);
        }
    }

    #[test]
    fn pages_have_no_inline_script_or_style_and_no_other_origin() {
        for asset in all_assets() {
            // The SVG namespace is an identifier, never fetched.
            let text = text_of(asset).replace("http://www.w3.org/2000/svg", "");
            for forbidden in [
                " style=",
                "<style",
                "javascript:",
                "http://",
                "https://",
                "//cdn",
            ] {
                assert!(
                    !text.contains(forbidden),
                    "{} contains {forbidden:?}",
                    asset.name
                );
            }
        }
        let index = text_of(&INDEX);
        for script in index.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap_or_default();
            assert!(tag.contains("src="), "inline script in index.html: {tag}");
        }
    }

    #[test]
    fn scripts_never_insert_markup() {
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = text_of(asset);
            assert!(
                text.contains("function renderKeys"),
                "{} is not the app",
                asset.name
            );
            for forbidden in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                ".style.",
                "setAttribute('style'",
            ] {
                assert!(!text.contains(forbidden), "{} uses {forbidden}", asset.name);
            }
        }
    }

    #[test]
    fn unknown_and_traversing_names_find_nothing() {
        assert!(find_asset("app.css").is_some());
        for name in [
            "",
            "../Cargo.toml",
            "..",
            "app.css/",
            "APP.CSS",
            "index.html",
            "/app.css",
            "api.js",
        ] {
            assert!(find_asset(name).is_none(), "{name}");
        }
    }

    #[test]
    fn etags_are_strong_and_distinct() {
        let css = etag_of(find_asset("app.css").expect("css"));
        let js = etag_of(find_asset("app.js").expect("js"));
        let svg = etag_of(find_asset("icon.svg").expect("svg"));
        assert_ne!(js, svg);
        assert!(css.starts_with('"') && css.ends_with('"') && css.len() == 34);
        assert_ne!(css, js);
    }

    #[test]
    fn a_current_copy_gets_304_without_a_body() {
        let asset = find_asset("app.js").expect("js");
        let etag = etag_of(asset);
        let req =
            Request::new("GET", "/dashboard/assets/app.js").with_header("If-None-Match", etag);
        let response = serve(asset, &req);
        assert_eq!(response.status, 304);
        assert!(response.body.is_empty());
        assert_eq!(response.header("ETag"), Some(etag));
        let fresh = serve(asset, &Request::new("GET", "/dashboard/assets/app.js"));
        assert_eq!(fresh.status, 200);
        assert_eq!(fresh.body, asset.body);
        assert_eq!(fresh.header("Content-Type"), Some(JS));
        assert_eq!(
            fresh.header("Content-Security-Policy"),
            Some(CONTENT_SECURITY_POLICY)
        );
    }
}
