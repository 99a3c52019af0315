//! The layering rule of docs/architecture.md, kept by a test: it reads every file of `src/` and
//! fails when a module names a layer it must not depend on (`crate::http` from `domain`, say),
//! in a `use` line or in a path written out in the code.
//!
//! Dependencies point one way: `app`/`cli` assemble everything; `http` translates for the
//! `domain`; the domain decides and reaches the database through `store`, shared fast state
//! through `cache` and the other nodes through `sync`; `catalog` (texts and error codes) and
//! `config` (settings) sit to the side. Nothing below names what is above it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// For each top-level module of `src/`, the other top-level modules it must not name.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "catalog",
        &[
            "app", "cli", "import", "http", "domain", "store", "cache", "sync", "config", "wechat",
        ],
    ),
    (
        "cache",
        &["app", "cli", "import", "http", "domain", "store", "sync", "config"],
    ),
    ("store", &["app", "cli", "import", "http", "cache", "sync", "config"]),
    ("sync", &["app", "cli", "import", "http", "domain", "config"]),
    ("domain", &["app", "cli", "import", "http", "config"]),
    ("wechat", &["app", "cli", "import", "http", "domain", "store", "config"]),
    (
        "delivery",
        &[
            "app", "cli", "import", "http", "domain", "store", "cache", "sync", "config",
        ],
    ),
    ("http", &["app", "cli", "import"]),
    ("config", &["app", "cli", "import", "http", "sync"]),
    ("metrics", &["app", "cli", "import", "http"]),
    ("import", &["app", "cli", "http"]),
    ("cli", &["http"]),
];

/// The top-level module a file of `src/` belongs to (`src/domain/mfa.rs` → `domain`).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// Removes comments and the contents of string literals, so a doc line saying "`http` does
/// this" or a message naming a module is not taken for a dependency.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                out.push('"');
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push('"');
                i += 1;
            }
            // A char literal such as '"' would otherwise open a string.
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => {
                i += 3;
            }
            b'\'' if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') => {
                i += 4;
            }
            _ => {
                // Copy one whole UTF-8 character.
                let width = text[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&text[i..i + width]);
                i += width;
            }
        }
    }
    out
}

/// The top-level modules a piece of code names through `crate::…` (single paths and
/// `crate::{a::…, b}` groups alike).
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `hufu_crate::` or `$crate::` are not this crate's root.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.insert(first_segment(&item));
        } else {
            found.insert(first_segment(rest));
        }
    }
    found.remove("");
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// `super::` chains that climb out of the file's top-level module and name another one (from
/// `src/domain/mfa.rs`, `super::super::http`).
fn climbing_modules(src: &Path, file: &Path, code: &str) -> BTreeSet<String> {
    let depth = file.strip_prefix(src).map_or(0, |p| p.components().count());
    // `src/domain/mfa.rs` sits at depth 2: `super` is `domain`, `super::super` the crate root.
    // A `mod.rs` is its directory's module, one level higher.
    let own_level = if file.file_name().is_some_and(|n| n == "mod.rs") {
        depth - 1
    } else {
        depth
    };
    let mut found = BTreeSet::new();
    let needed = "super::".repeat(own_level);
    if own_level == 0 {
        return found;
    }
    let mut rest = code;
    while let Some(at) = rest.find(&needed) {
        rest = &rest[at + needed.len()..];
        if !rest.starts_with("super::") {
            found.insert(first_segment(rest));
        }
    }
    found.remove("");
    found
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Every place in `files` (path and text) that breaks [`FORBIDDEN`], as `file: names …`.
fn violations(src: &Path, files: &[(PathBuf, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (file, text) in files {
        let Some(top) = top_module(src, file) else { continue };
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(module, _)| *module == top) else {
            continue;
        };
        let code = code_only(text);
        let named: BTreeSet<String> = named_modules(&code)
            .into_iter()
            .chain(climbing_modules(src, file, &code))
            .collect();
        for module in named.iter().filter(|m| forbidden.contains(&m.as_str())) {
            found.push(format!(
                "{}: `{top}` names `crate::{module}`",
                file.strip_prefix(src).unwrap_or(file).display()
            ));
        }
    }
    found
}

#[test]
fn no_layer_names_a_layer_it_must_not_depend_on() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    assert!(paths.len() > 20, "read {} files from {}", paths.len(), src.display());
    let files: Vec<(PathBuf, String)> = paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            (path, text)
        })
        .collect();
    let found = violations(&src, &files);
    assert!(
        found.is_empty(),
        "dependencies must point one way (docs/architecture.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn a_planted_import_is_found_in_every_form_it_can_take() {
    let src = Path::new("/x/src");
    let planted = [
        ("domain/accounts.rs", "use crate::http::error::ApiError;\n"),
        ("domain/accounts.rs", "use crate::{clock::Clock, http::AppState};\n"),
        ("store/sql/mod.rs", "fn f() { let _ = crate::app::open_store; }\n"),
        ("cache/mod.rs", "use crate::app;\n"),
        ("domain/mfa.rs", "use super::super::http::AppState;\n"),
        ("store/sql/admin.rs", "use super::super::super::config::Settings;\n"),
    ];
    for (file, text) in planted {
        let found = violations(src, &[(src.join(file), text.to_owned())]);
        assert_eq!(found.len(), 1, "{file}: {text:?} → {found:?}");
    }
    let allowed = [
        (
            "domain/accounts.rs",
            "use crate::store::NewUser;\n// crate::http is above us\n",
        ),
        ("domain/accounts.rs", "let s = \"crate::http\"; use super::sessions;\n"),
        (
            "store/sql/mod.rs",
            "macro_rules! m { () => { $crate::store::sql::Db::Sqlite } }\n",
        ),
        ("http/mod.rs", "use crate::domain::Core; use super::routes;\n"),
        ("app.rs", "use crate::http::AppState;\n"),
    ];
    for (file, text) in allowed {
        let found = violations(src, &[(src.join(file), text.to_owned())]);
        assert!(found.is_empty(), "{file}: {text:?} → {found:?}");
    }
}
