//! Files hufu writes itself: the data directory that holds generated secrets and, by default,
//! the SQLite database. Shared by `config` (generated secrets) and `store` (the SQLite file's
//! directory), so neither reaches into the other.

use std::fs;
use std::path::Path;

/// Creates `dir` (and its parents) readable only by the owner when it does not exist yet: it
/// holds the generated secrets and, by default, the SQLite file with the password hashes.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
