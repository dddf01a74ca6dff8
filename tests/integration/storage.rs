//! Integration tests: the database stops taking writes while the server runs (the disk fills
//! up, or the files become read-only). Writes answer 503 with the contract's body, reads go
//! on, nothing answers 500, and writes work again once the cause is gone.
//!
//! Both faults need root: a small tmpfs is mounted for the full disk, and the files are made
//! immutable (`chattr +i`, which binds root too, unlike file modes) for the read-only case.
//! Without root the tests say so on stderr and return.

use crate::fixture::*;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const UNAVAILABLE: &str = "The database is unavailable.";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a command; false when it cannot run or fails (e.g. a container without the right to
/// mount, or a file system without immutable files).
fn try_run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|status| status.success())
}

/// A tmpfs of `size` mounted on a fresh directory; unmounted and removed on drop (declare it
/// before the server, so the server is gone first).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` when this machine does not allow the mount.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = temp_dir();
        let mounted = try_run(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]
                .into_iter()
                .chain([dir.to_str().unwrap()])
                .collect::<Vec<_>>(),
        );
        let tmpfs = Tmpfs(dir);
        mounted.then_some(tmpfs)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Files made immutable; the flag is lifted on drop (declare it after the server, so the
/// server's drop can remove them).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// `None` (with every flag lifted again) when the file system does not allow it.
    fn set(paths: Vec<PathBuf>) -> Option<Immutable> {
        let frozen = Immutable(paths);
        let all = frozen
            .0
            .iter()
            .all(|path| try_run("chattr", &["+i", path.to_str().unwrap()]));
        all.then_some(frozen)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

fn create_user(server: &TestServer, token: &str, email: &str) -> Resp {
    server
        .post("/api/internal/users")
        .bearer(token)
        .json(&json!({"email": email, "password": "a-long-enough-password"}))
        .send()
}

/// Reads that must keep working while writes fail.
fn assert_reads_work(server: &TestServer, token: &str) {
    let resp = server.get("/api/internal/users/me").bearer(token).send();
    resp.expect_status(200);
    assert_eq!(resp.json()["email"], json!(ADMIN_EMAIL));
    let resp = server.get("/api/v1/health").send();
    resp.expect_status(200);
    assert_eq!(resp.json()["database"], json!("ok"));
}

/// Writes a file until the file system is full; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0x5a_u8; 16 * 1024];
    while file.write_all(&block).and_then(|()| file.flush()).is_ok() {}
    // Single bytes too, so not even a partial page is left.
    while file.write_all(&[0]).is_ok() {}
    path
}

#[test]
fn a_full_disk_gives_503_on_writes_while_reads_go_on() {
    if skipped_on_postgres("the disk under the file") {
        return;
    }
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let Some(disk) = Tmpfs::mount("8m") else {
        eprintln!("skipped: this machine does not allow mounting a tmpfs");
        return;
    };
    let server = TestServer::start_in(disk.0.clone(), Options::default());
    let token = server.admin_token();
    create_user(&server, &token, "before@example.com").expect_status(201);

    let filler = fill(&disk.0);
    for attempt in 0..3 {
        create_user(&server, &token, &format!("full{attempt}@example.com"))
            .expect_detail(503, json!(UNAVAILABLE));
        assert_reads_work(&server, &token);
    }

    std::fs::remove_file(filler).unwrap();
    create_user(&server, &token, "after@example.com").expect_status(201);
    assert!(!server.log().contains("status=500"), "{}", server.log());
}

#[test]
fn a_read_only_database_gives_503_on_writes_while_reads_go_on() {
    if skipped_on_postgres("an immutable file") {
        return;
    }
    if !is_root() {
        eprintln!("skipped: making the database immutable needs root");
        return;
    }
    let server = TestServer::start();
    let token = server.admin_token();
    create_user(&server, &token, "before@example.com").expect_status(201);
    let db = server.db_path();
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    // Not the -shm file: SQLite maps it into memory, and a write to a mapping of an
    // immutable file is a SIGBUS rather than an error.
    let Some(frozen) = Immutable::set(vec![db, wal]) else {
        eprintln!("skipped: this file system has no immutable files");
        return;
    };
    for attempt in 0..3 {
        create_user(&server, &token, &format!("ro{attempt}@example.com"))
            .expect_detail(503, json!(UNAVAILABLE));
        assert_reads_work(&server, &token);
    }

    drop(frozen);
    create_user(&server, &token, "after@example.com").expect_status(201);
    assert!(!server.log().contains("status=500"), "{}", server.log());
}
