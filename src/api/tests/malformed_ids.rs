//! A path id that is not a canonical lowercase UUID names nothing: each route answers the same
//! 404 as for an unknown id, with the detail of its kind, and changes nothing. The typed ids
//! parse it once ([`PathParams::id`](crate::api::router::PathParams::id)); this pins the
//! answers the handlers gave when each checked the shape by hand.

use super::{expect, id_of, TestApp};
use serde_json::json;

/// Ids that are not accepted: another shape, and a UUID in upper case.
const MALFORMED: [&str; 2] = ["not-a-uuid", "3F2504E0-4F89-41D3-9A0C-0305E82C3301"];

#[test]
fn a_malformed_path_id_is_the_404_of_its_kind() {
    let test = TestApp::new(&[]);
    let admin = test.admin_token();
    let team = test.post_ok(&admin, "/api/internal/teams", &json!({"name": "Acme"}), 201);
    let team_id = id_of(&team);
    let routes = [
        (
            "DELETE",
            "/api/internal/auth/sessions/{}",
            "Session not found",
        ),
        ("PATCH", "/api/internal/users/{}", "User not found"),
        ("GET", "/api/internal/teams/{}/members", "Team not found"),
        ("GET", "/api/internal/teams/{}/audit-log", "Team not found"),
        ("GET", "/api/internal/projects/{}", "Project not found"),
        (
            "GET",
            "/api/internal/projects/{}/content",
            "Project not found",
        ),
        ("GET", "/api/internal/api-keys/{}", "API key not found"),
        (
            "GET",
            "/api/internal/sources/content/{}",
            "Content not found",
        ),
        ("DELETE", "/api/internal/content/{}", "Content not found"),
    ];
    let member = format!("/api/internal/teams/{team_id}/members/{{}}");
    let routes = routes
        .into_iter()
        .chain([("DELETE", member.as_str(), "Member not found")]);
    for (method, pattern, detail) in routes {
        for id in MALFORMED {
            let path = pattern.replace("{}", id);
            let body = (method == "PATCH").then(|| json!({}));
            let resp = test.call(method, &path, Some(&admin), body.as_ref());
            let answer = expect(&resp, 404, &format!("{method} {path}"));
            assert_eq!(answer, json!({"detail": detail}), "{method} {path}");
        }
    }
}
