//! The throwaway database of `shipstar serve --ephemeral`: a fresh private directory in the
//! system's temporary folder holding one new database file, removed when the server exits.
//!
//! The directory is created with mode 0700 under a random name (never reused: creation fails
//! rather than adopt an existing directory), and the database file inside it is created with
//! mode 0600 by the store from its first byte. Removal happens when the guard is dropped: on
//! a normal exit, after SIGINT/SIGTERM (the server returns from `serve`), on a startup error
//! and while unwinding from a panic. Only SIGKILL leaves it behind, in the temporary folder.

use crate::error::StartupError;
use std::path::{Path, PathBuf};

/// Name of the database file inside the private directory.
const DATABASE_FILE: &str = "shipstar.db";

/// A private temporary directory with a database path in it; removed on drop.
#[derive(Debug)]
pub struct EphemeralDatabase {
    dir: PathBuf,
    database: PathBuf,
}

impl EphemeralDatabase {
    /// Creates a new private (0700) directory under the system's temporary folder
    /// (`$TMPDIR`, else `/tmp`). The database file itself is created later by the store.
    pub fn create() -> Result<EphemeralDatabase, StartupError> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut last_error = None;
        // A collision of 128 random bits is not expected; the retries cover a stale
        // directory of the same name only in theory.
        for _ in 0..3 {
            let dir = base.join(format!("shipstar-ephemeral-{}", crate::ids::random_hex(16)));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    let database = dir.join(DATABASE_FILE);
                    return Ok(EphemeralDatabase { dir, database });
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(StartupError(format!(
            "cannot create a private temporary directory in {} for --ephemeral: {}",
            base.display(),
            last_error.map_or_else(|| "unknown error".to_owned(), |err| err.to_string())
        )))
    }

    /// The database file's path (inside the private directory).
    pub fn database(&self) -> &Path {
        &self.database
    }
}

impl Drop for EphemeralDatabase {
    fn drop(&mut self) {
        // The database, its -wal and -shm files, and nothing else live here.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_directory_is_private_and_removed_on_drop() {
        let ephemeral = EphemeralDatabase::create().unwrap();
        let dir = ephemeral.database().parent().unwrap().to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(ephemeral.database(), b"x").unwrap();
        let other = EphemeralDatabase::create().unwrap();
        assert_ne!(other.database(), ephemeral.database());
        drop(ephemeral);
        assert!(!dir.exists());
    }
}
