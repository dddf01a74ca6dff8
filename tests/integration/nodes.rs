//! Several nodes on one PostgreSQL database (`scale-out.md`, "Nodes are interchangeable"):
//! what one node issues or changes holds on every other, on the very next request. Each test
//! skips on SQLite, where one file has one server.

use crate::fixture::*;

/// A token issued by one node works on every node, and a logout on one ends it on all.
#[test]
fn a_session_from_one_node_works_on_every_node_until_a_logout_on_another() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let token = nodes[0].login(ADMIN_EMAIL, ADMIN_PASSWORD);
    for node in &nodes {
        node.get("/api/internal/users/me")
            .bearer(&token)
            .send()
            .expect_status(200);
    }
    nodes[1]
        .post("/api/internal/auth/jwt/logout")
        .bearer(&token)
        .send()
        .expect_status(204);
    for node in &nodes {
        node.get("/api/internal/users/me")
            .bearer(&token)
            .send()
            .expect_status(401);
    }
}
