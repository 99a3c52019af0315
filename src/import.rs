//! `hufu import FILE`: users from another system, one JSON object per line
//! (`{"username", "email", "phone", "password_hash"}`), with their existing bcrypt or argon2
//! hashes (upgraded to argon2id at each user's next successful login).
//!
//! The file is read line by line, never whole. Each line is checked like a registration
//! (username, email, and the phone, required when `HUFU_REQUIRE_PHONE` is on; `""` or null
//! counts as no phone) and its hash must be one hufu can verify. A bad line is skipped with a
//! reason (never showing the hash); the others are inserted with a `register` audit entry
//! whose detail is `{"method": "import"}`.

use crate::domain::audit::{self, Event};
use crate::domain::error::{FieldError, Reason, UniqueField};
use crate::domain::password::PasswordHasher;
use crate::domain::user::join_roles;
use crate::domain::{ClientContext, Core, validate};
use crate::store::{Duplicate, NewUser, StoreError};
use std::collections::HashMap;
use std::io::BufRead;

/// Longest line looked at; a longer one is skipped (no real record comes near it).
const MAX_LINE_BYTES: usize = 64 * 1024;
/// How many times an insert is retried when a generated id collides.
const ID_ATTEMPTS: usize = 3;

/// One skipped line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number in the file.
    pub line: u64,
    /// Why, in one line of English.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Users created.
    pub imported: u64,
    /// Lines skipped, with their reasons.
    pub skipped: Vec<Skipped>,
}

/// Progress callbacks, so the command line can draw a bar and print reasons as they come.
pub trait Progress {
    /// `bytes` of the file have been read so far.
    fn advanced(&self, bytes: u64);
    /// A line was skipped.
    fn skipped(&self, skipped: &Skipped);
}

/// A checked line, ready to insert.
struct Candidate {
    username: validate::Username,
    email: validate::Email,
    phone: Option<String>,
    password_hash: String,
}

fn field_text(field: &'static str, reason: Reason) -> String {
    FieldError { field, reason }.detail().text.en().to_owned()
}

/// Checks one line; `Err` is the reason to skip it.
fn check_line(text: &str, require_phone: bool) -> Result<Candidate, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let serde_json::Value::Object(object) = value else {
        return Err("not a JSON object".to_owned());
    };
    let text_field = |name: &'static str| -> Result<Option<&str>, String> {
        match object.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{name} is not a string")),
        }
    };
    fn check<'a>(
        problems: &mut Vec<String>,
        field: &'static str,
        outcome: Result<Option<&'a str>, String>,
        required: bool,
    ) -> Option<&'a str> {
        match outcome {
            Err(why) => {
                problems.push(why);
                None
            }
            Ok(None) if required => {
                problems.push(field_text(field, Reason::Required));
                None
            }
            Ok(value) => value,
        }
    }
    let mut problems = Vec::new();
    let username = check(&mut problems, "username", text_field("username"), true);
    let email = check(&mut problems, "email", text_field("email"), true);
    let phone = text_field("phone").map(|p| p.filter(|p| !p.is_empty()));
    let phone = check(&mut problems, "phone", phone, require_phone);
    let hash = check(&mut problems, "password_hash", text_field("password_hash"), true);
    let username = username.and_then(|u| {
        validate::username(u)
            .map_err(|r| problems.push(field_text("username", r)))
            .ok()
    });
    let email = email.and_then(|e| {
        validate::email(e)
            .map_err(|r| problems.push(field_text("email", r)))
            .ok()
    });
    let phone = match phone {
        Some(p) => validate::phone(p)
            .map_err(|r| problems.push(field_text("phone", r)))
            .ok(),
        None => None,
    };
    let hash = hash.and_then(|h| {
        if PasswordHasher::is_supported(h) {
            Some(h.to_owned())
        } else {
            problems.push("password_hash is not a bcrypt ($2a$/$2b$/$2y$) or argon2 PHC hash".to_owned());
            None
        }
    });
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    match (username, email, hash) {
        (Some(username), Some(email), Some(password_hash)) => Ok(Candidate {
            username,
            email,
            phone,
            password_hash,
        }),
        _ => Err("incomplete record".to_owned()),
    }
}

/// Which account holds `field` of `candidate`, and whether it came from this file.
async fn taken_reason(
    core: &Core,
    candidate: &Candidate,
    field: UniqueField,
    lines: &HashMap<i64, u64>,
) -> Result<String, StoreError> {
    let (name, holder) = match field {
        UniqueField::Username => (
            "username",
            core.store.user_by_username_key(&candidate.username.key).await?,
        ),
        UniqueField::Email => ("email", core.store.user_by_email_key(&candidate.email.key).await?),
        UniqueField::Phone => match &candidate.phone {
            Some(phone) => ("phone", core.store.user_by_phone(phone).await?),
            None => ("phone", None),
        },
    };
    Ok(match holder.and_then(|a| lines.get(&a.user.id).copied()) {
        Some(line) => format!("{name} duplicates line {line} of this file"),
        None => format!("{name} is already taken in the database"),
    })
}

/// Imports every good line of `reader`. Store failures other than duplicates stop the import
/// (what was imported so far stays).
pub async fn import(
    core: &Core,
    reader: impl BufRead,
    client: &ClientContext,
    progress: &dyn Progress,
) -> anyhow::Result<Summary> {
    let mut reader = reader;
    let mut summary = Summary::default();
    // Ids created by this import and their lines, to tell "earlier in the file" from
    // "already there" (16 bytes per user, not the records).
    let mut created: HashMap<i64, u64> = HashMap::new();
    let mut buffer = Vec::new();
    let mut bytes = 0u64;
    let mut number = 0u64;
    let roles = join_roles(&core.policy.default_roles);
    loop {
        buffer.clear();
        let read = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buffer)?;
        if read == 0 {
            break;
        }
        number += 1;
        bytes += read as u64;
        let mut too_long = false;
        if buffer.len() > MAX_LINE_BYTES && buffer.last() != Some(&b'\n') {
            // Skip the rest of this line without keeping it.
            too_long = true;
            loop {
                let available = reader.fill_buf()?;
                if available.is_empty() {
                    break;
                }
                let (used, done) = match available.iter().position(|b| *b == b'\n') {
                    Some(at) => (at + 1, true),
                    None => (available.len(), false),
                };
                reader.consume(used);
                bytes += used as u64;
                if done {
                    break;
                }
            }
        }
        progress.advanced(bytes);
        let mut skip = |reason: String| {
            let skipped = Skipped { line: number, reason };
            progress.skipped(&skipped);
            summary.skipped.push(skipped);
        };
        if too_long {
            skip(format!("longer than {MAX_LINE_BYTES} bytes"));
            continue;
        }
        let Ok(text) = std::str::from_utf8(&buffer) else {
            skip("not UTF-8".to_owned());
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue; // blank lines are neither imported nor skipped
        }
        let candidate = match check_line(text, core.policy.require_phone) {
            Ok(candidate) => candidate,
            Err(reason) => {
                skip(reason);
                continue;
            }
        };
        if let Some(field) = core
            .store
            .taken(
                Some(&candidate.username.key),
                Some(&candidate.email.key),
                candidate.phone.as_deref(),
            )
            .await?
        {
            skip(taken_reason(core, &candidate, field, &created).await?);
            continue;
        }
        let mut user = NewUser {
            id: core.ids.next_id(),
            username: candidate.username.display.clone(),
            username_key: candidate.username.key.clone(),
            email: Some(candidate.email.display.clone()),
            email_key: Some(candidate.email.key.clone()),
            phone: candidate.phone.clone(),
            password_hash: Some(candidate.password_hash.clone()),
            roles: roles.clone(),
            now_ms: core.clock.unix_millis(),
        };
        let mut outcome = Ok(());
        for attempt in 1..=ID_ATTEMPTS {
            let record = audit::entry(core, Event::Register, Some(user.id), client)
                .with_detail(serde_json::json!({"method": "import"}));
            outcome = core.store.create_user(&user, Some(&record)).await;
            match &outcome {
                Err(StoreError::Duplicate(Duplicate::Id)) if attempt < ID_ATTEMPTS => user.id = core.ids.next_id(),
                _ => break,
            }
        }
        match outcome {
            Ok(()) => {
                created.insert(user.id, number);
                summary.imported += 1;
            }
            // Taken between the check and the insert (another writer).
            Err(StoreError::Duplicate(Duplicate::Field(field))) => {
                skip(taken_reason(core, &candidate, field, &created).await?);
            }
            Err(error) => {
                return Err(anyhow::Error::new(error).context(format!("line {number}: cannot store the user")));
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_checked_like_registrations() {
        let good = r#"{"username":"alice","email":"a@example.com","phone":"13800138000","password_hash":"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy"}"#;
        assert!(check_line(good, true).is_ok());
        assert_eq!(check_line("nope", true).err().unwrap().split(' ').next(), Some("not"));
        assert_eq!(check_line("[1]", true).err().unwrap(), "not a JSON object");
        let no_phone = r#"{"username":"alice","email":"a@example.com","phone":"","password_hash":"$2b$04$abcdefghijklmnopqrstuu5Ok2MxkgDhGdnOzFtDEBjuZYW5S5D/2"}"#;
        assert!(check_line(no_phone, false).is_ok());
        assert_eq!(check_line(no_phone, true).err().unwrap(), "phone is required");
        let md5 = r#"{"username":"alice","email":"a@example.com","password_hash":"md5$x$y"}"#;
        let reason = check_line(md5, false).err().unwrap();
        assert!(
            reason.contains("password_hash") && !reason.contains("md5$x$y"),
            "{reason}"
        );
        let typed = r#"{"username":5,"email":"a@example.com","password_hash":"md5"}"#;
        assert!(
            check_line(typed, false)
                .err()
                .unwrap()
                .starts_with("username is not a string")
        );
    }
}
