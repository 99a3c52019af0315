//! Secrets that hufu makes for itself when none is configured: the HS256 signing secret and
//! the encryption key for secrets at rest. Each is created once under the data directory and
//! read back on every later start, so tokens survive restarts and several processes sharing
//! the directory agree on one value.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::fs;
use std::io::Write;
use std::path::Path;

/// Decodes a 32-byte key given in standard or URL-safe base64.
pub fn decode_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .ok()
        .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())?;
    bytes.try_into().ok()
}

/// Reads `dir/name`, or creates it with 32 fresh random bytes (base64url) when it is missing.
///
/// Creation writes a private temporary file and hard-links it into place, which fails if
/// another process won the race; the loser then reads the winner's value, so every process
/// ends up with the same secret and nobody ever reads a half-written file.
///
/// A kept value shorter than 32 bytes (an empty placeholder file, a truncated copy) is refused
/// rather than used: an empty HMAC key would let anyone forge tokens.
pub fn load_or_create(dir: &Path, name: &str) -> std::io::Result<String> {
    let path = dir.join(name);
    if let Ok(existing) = fs::read_to_string(&path) {
        return checked(&path, existing);
    }
    crate::files::create_private_dir(dir)?;
    let value = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(value.as_bytes())?;
        file.sync_all()?;
    }
    let linked = fs::hard_link(&temporary, &path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(value),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(fs::read_to_string(&path)?.trim().to_owned()),
        Err(e) => Err(e),
    }
}

fn checked(path: &Path, text: String) -> std::io::Result<String> {
    let value = text.trim();
    if value.len() < 32 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} holds {} bytes; a kept secret needs at least 32 (delete it to generate a new one)",
                path.display(),
                value.len()
            ),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), "jwt_secret").unwrap();
        let second = load_or_create(dir.path(), "jwt_secret").unwrap();
        assert_eq!(first, second);
        assert_eq!(decode_key(&first).map(|k| k.len()), Some(32));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("jwt_secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "secret file must not be readable by others");
        }
    }

    #[test]
    fn an_empty_or_short_kept_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("jwt_secret"), "  \n").unwrap();
        let error = load_or_create(dir.path(), "jwt_secret").unwrap_err().to_string();
        assert!(error.contains("at least 32"), "{error}");
        fs::write(dir.path().join("jwt_secret"), "short").unwrap();
        assert!(load_or_create(dir.path(), "jwt_secret").is_err());
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(decode_key(&STANDARD.encode([7u8; 32])).is_some());
        assert!(decode_key(&STANDARD.encode([7u8; 16])).is_none());
        assert!(decode_key("not base64!").is_none());
    }
}
