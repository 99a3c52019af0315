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
use crate::domain::password::HashLimits;
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

/// A refused field of a line. Missing or mistyped fields are listed before malformed ones, so
/// the reasons read in the order they always have.
enum Problem {
    /// Missing, or not a string.
    Presence(String),
    /// A string, but not a valid value.
    Form(String),
}

impl Problem {
    fn text(self) -> String {
        match self {
            Problem::Presence(text) | Problem::Form(text) => text,
        }
    }
}

/// Checks one line; `Err` is the reason to skip it.
fn check_line(text: &str, require_phone: bool, limits: &HashLimits) -> Result<Candidate, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let serde_json::Value::Object(object) = value else {
        return Err("not a JSON object".to_owned());
    };
    let text_field = |name: &'static str| -> Result<Option<&str>, Problem> {
        match object.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(Problem::Presence(format!("{name} is not a string"))),
        }
    };
    let missing = |field: &'static str| Problem::Presence(field_text(field, Reason::Required));
    let required = |field: &'static str| text_field(field).and_then(|v| v.ok_or_else(|| missing(field)));
    let formed = |field: &'static str, reason: Reason| Problem::Form(field_text(field, reason));
    let username = required("username").and_then(|u| validate::username(u).map_err(|r| formed("username", r)));
    let email = required("email").and_then(|e| validate::email(e).map_err(|r| formed("email", r)));
    let phone = match text_field("phone").map(|p| p.filter(|p| !p.is_empty())) {
        Ok(Some(p)) => validate::phone(p).map(Some).map_err(|r| formed("phone", r)),
        Ok(None) if require_phone => Err(missing("phone")),
        Ok(None) => Ok(None),
        Err(problem) => Err(problem),
    };
    // The same caps a login applies: a hash above them could never be verified.
    let hash = required("password_hash").and_then(|h| limits.check(h).map(|()| h.to_owned()).map_err(Problem::Form));
    match (username, email, phone, hash) {
        (Ok(username), Ok(email), Ok(phone), Ok(password_hash)) => Ok(Candidate {
            username,
            email,
            phone,
            password_hash,
        }),
        (username, email, phone, hash) => {
            let (presence, form): (Vec<Problem>, Vec<Problem>) = [username.err(), email.err(), phone.err(), hash.err()]
                .into_iter()
                .flatten()
                .partition(|p| matches!(p, Problem::Presence(_)));
            let reasons: Vec<String> = presence.into_iter().chain(form).map(Problem::text).collect();
            Err(reasons.join("; "))
        }
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
        let candidate = match check_line(text, core.policy.require_phone, &core.hasher.limits()) {
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
            // Imported identifiers were never proved to hufu.
            email_verified: false,
            phone_verified: false,
            roles: roles.clone(),
            now_ms: core.clock.unix_millis(),
        };
        let mut outcome = Ok(());
        for attempt in 1..=ID_ATTEMPTS {
            let record = audit::entry(core, Event::Register, Some(user.id), client)
                .with_detail(serde_json::json!({"method": "import"}));
            outcome = core.store.create_user(&user, Some(&record)).await.map(|_| ());
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
    use crate::domain::password::Argon2Params;

    fn check(text: &str, require_phone: bool) -> Result<Candidate, String> {
        check_line(text, require_phone, &HashLimits::for_params(Argon2Params::OWASP))
    }

    fn line_with(hash: &str) -> String {
        serde_json::json!({"username": "alice", "email": "a@example.com", "password_hash": hash}).to_string()
    }

    #[test]
    fn memory_exhaustion_argon2_hashes_above_the_caps_are_refused_with_the_cost_named() {
        let hash =
            |params: &str| format!("$argon2id$v=19${params}$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy");
        // OWASP, RFC 9106's second recommendation and libsodium MODERATE are accepted.
        for params in [
            "m=19456,t=2,p=1",
            "m=47104,t=1,p=1",
            "m=65536,t=3,p=4",
            "m=262144,t=3,p=1",
        ] {
            assert!(check(&line_with(&hash(params)), false).is_ok(), "{params}");
        }
        for (params, named) in [
            ("m=4194304,t=1,p=1", "memory (KiB) 4194304"),
            ("m=262145,t=1,p=1", "memory (KiB) 262145"),
            ("m=65536,t=17,p=1", "iterations 17"),
            ("m=65536,t=1,p=65", "parallelism 65"),
        ] {
            let reason = check(&line_with(&hash(params)), false).err().unwrap();
            assert!(
                reason.contains(named) && reason.contains("above the most hufu runs"),
                "{reason}"
            );
            assert!(!reason.contains("c29tZXNhbHRz"), "the hash is never printed: {reason}");
        }
        let slow = bcrypt::hash_with_result("x", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB)
            .replacen("$04$", "$17$", 1);
        let reason = check(&line_with(&slow), false).err().unwrap();
        assert!(reason.contains("bcrypt cost 17"), "{reason}");
        // A deployment configured above the caps accepts its own cost.
        let big = Argon2Params {
            memory_kib: 1_048_576,
            iterations: 20,
            parallelism: 1,
        };
        assert!(
            check_line(
                &line_with(&hash("m=1048576,t=20,p=1")),
                false,
                &HashLimits::for_params(big)
            )
            .is_ok()
        );
    }

    #[test]
    fn lines_are_checked_like_registrations() {
        let good = r#"{"username":"alice","email":"a@example.com","phone":"13800138000","password_hash":"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy"}"#;
        assert!(check(good, true).is_ok());
        assert_eq!(check("nope", true).err().unwrap().split(' ').next(), Some("not"));
        assert_eq!(check("[1]", true).err().unwrap(), "not a JSON object");
        let no_phone = r#"{"username":"alice","email":"a@example.com","phone":"","password_hash":"$2b$04$abcdefghijklmnopqrstuu5Ok2MxkgDhGdnOzFtDEBjuZYW5S5D/2"}"#;
        assert!(check(no_phone, false).is_ok());
        assert_eq!(check(no_phone, true).err().unwrap(), "phone is required");
        let md5 = r#"{"username":"alice","email":"a@example.com","password_hash":"md5$x$y"}"#;
        let reason = check(md5, false).err().unwrap();
        assert!(
            reason.contains("password_hash") && !reason.contains("md5$x$y"),
            "{reason}"
        );
        let typed = r#"{"username":5,"email":"a@example.com","password_hash":"md5"}"#;
        assert!(
            check(typed, false)
                .err()
                .unwrap()
                .starts_with("username is not a string")
        );
    }

    #[test]
    fn missing_fields_are_listed_before_malformed_ones() {
        let line = r#"{"username":"ab","email":5,"phone":"12345"}"#;
        let reasons = check(line, true).err().unwrap();
        let reasons: Vec<&str> = reasons.split("; ").collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert_eq!(reasons[..2], ["email is not a string", "password_hash is required"]);
        assert!(reasons[2].starts_with("username"), "{reasons:?}");
        assert!(reasons[3].starts_with("phone"), "{reasons:?}");
    }
}
