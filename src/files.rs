//! Files hufu writes itself: the data directory that holds generated secrets and, by default,
//! the SQLite database, and the database file itself. Shared by `config` (generated secrets)
//! and `store` (the SQLite file and its directory), so neither reaches into the other.

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

/// Creates `path` empty and readable only by the owner when it does not exist yet; an existing
/// file is left as it is (several nodes may race to create it: the loser finds it there).
///
/// For the SQLite database: SQLite would create it itself with 0644 (less the umask), and it
/// gives the `-wal` and `-shm` files the mode of the database file, so a database that starts
/// out 0600 keeps all three private. SQLite takes an empty file as a new database.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether group or others may read or write `path` (false when it cannot be read, or off
/// Unix).
pub fn is_shared(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o066 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_file_is_made_once_for_the_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hufu.db");
        create_private_file(&path).unwrap();
        assert!(!is_shared(&path));
        fs::write(&path, b"kept").unwrap();
        create_private_file(&path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"kept", "an existing file is left alone");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(is_shared(&path));
        }
    }
}
