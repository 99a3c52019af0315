//! The settings' documentation, generated from their declaration: the tables of
//! `docs/configuration.md`, and the tests that keep that file and the README's table true.

use super::{DefaultValue, SECTIONS, Setting, Settings};

impl Settings {
    /// The Markdown tables of every setting, one per section: what `docs/configuration.md`
    /// holds between its markers.
    pub fn doc_table() -> String {
        let mut out = String::new();
        let mut seen: Vec<&str> = Vec::new();
        for block in SECTIONS {
            if seen.contains(&block.section) {
                continue;
            }
            seen.push(block.section);
            let doc = SECTIONS
                .iter()
                .filter(|b| b.section == block.section)
                .flat_map(|b| b.doc.iter().map(|line| line.trim()))
                .collect::<Vec<_>>()
                .join(" ");
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("## `{}`\n\n{doc}\n\n", block.section));
            out.push_str("| environment | meaning | default |\n|---|---|---|\n");
            for setting in Settings::declared().iter().filter(|s| s.section == block.section) {
                out.push_str(&doc_row(setting));
                out.push('\n');
            }
        }
        out
    }
}

/// One setting's row of the documentation table.
fn doc_row(setting: &Setting) -> String {
    let default = match setting.default {
        DefaultValue::Value("") => "empty".to_owned(),
        DefaultValue::Value(value) => format!("`{value}`"),
        DefaultValue::Note(note) => note.to_owned(),
    };
    format!("| `{}` | {} | {default} |", setting.env, setting.meaning())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the generated tables start and end in `docs/configuration.md`.
    const BEGIN: &str = "<!-- generated from src/config/sections.rs: do not edit below -->\n";
    const END: &str = "<!-- generated from src/config/sections.rs: do not edit above -->\n";

    fn read(file: &str) -> String {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    #[test]
    fn docs_configuration_md_holds_the_declared_settings() {
        let text = read("docs/configuration.md");
        let fresh = Settings::doc_table();
        let committed = text
            .split_once(BEGIN)
            .and_then(|(_, rest)| rest.split_once(END))
            .map(|(tables, _)| tables.trim());
        assert!(
            committed == Some(fresh.trim()),
            "docs/configuration.md does not match the declaration in src/config/sections.rs; \
             put this between its two `generated` markers:\n\n{fresh}"
        );
    }

    #[test]
    fn every_readme_row_is_the_declared_one_and_the_readme_points_to_the_rest() {
        let readme = read("README.md");
        let section = readme
            .split_once("\n## Configuration\n")
            .map(|(_, rest)| rest.split_once("\n## ").map_or(rest, |(section, _)| section))
            .expect("README.md has a Configuration section");
        let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `HUFU_")).collect();
        assert!(!rows.is_empty(), "the README's configuration table is gone");
        for row in rows {
            let env = row.trim_start_matches("| `").split('`').next().unwrap_or_default();
            let Some(setting) = Settings::declared().iter().find(|s| s.env == env) else {
                panic!("README.md names {env}, which is not a setting (src/config/sections.rs)");
            };
            let declared = doc_row(setting);
            assert_eq!(row, declared, "README.md's row of {env} differs from the declaration");
        }
        assert!(
            section.contains("(docs/configuration.md)"),
            "the README's configuration section must point to docs/configuration.md for the other settings"
        );
    }

    /// Names that look like settings but are not: the settings file's own variable, and the
    /// test suite's.
    fn not_a_setting_but_known(name: &str) -> bool {
        name == "HUFU_CONFIG" || name.starts_with("HUFU_TEST_") || name.starts_with("HUFU_E2E_")
    }

    #[test]
    fn the_documentation_names_only_declared_settings() {
        let mut files = vec!["README.md".to_owned()];
        let docs = format!("{}/docs", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&docs).unwrap_or_else(|e| panic!("cannot list {docs}: {e}")) {
            let name = entry
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".md") {
                files.push(format!("docs/{name}"));
            }
        }
        for file in files {
            let text = read(&file);
            let mut rest = text.as_str();
            while let Some(at) = rest.find("HUFU_") {
                let before = rest[..at].chars().next_back();
                let tail = &rest[at..];
                let len = tail
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(tail.len());
                let name = &tail[..len];
                rest = &tail[len..];
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') || not_a_setting_but_known(name) {
                    continue;
                }
                // `HUFU_RATE_LIMIT_*` and the like name a family of settings.
                let known = if name.ends_with('_') {
                    Settings::declared().iter().any(|s| s.env.starts_with(name))
                } else {
                    Settings::declared().iter().any(|s| s.env == name)
                };
                assert!(
                    known,
                    "{file} names {name}, which is not a setting (src/config/sections.rs)"
                );
            }
        }
    }

    #[test]
    fn every_declared_name_is_a_hufu_name_and_every_key_is_unique() {
        let mut keys: Vec<String> = Settings::declared().iter().map(Setting::toml_key).collect();
        assert!(Settings::declared().iter().all(|s| s.env.starts_with("HUFU_")));
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), Settings::declared().len(), "two settings share a name");
    }

    #[test]
    fn every_declared_default_is_what_settings_default_holds() {
        // Applying a setting's documented default to the defaults changes nothing: the table
        // tells the truth about the values a node starts with.
        let defaults = format!("{:?}", Settings::default());
        for setting in Settings::declared() {
            if let DefaultValue::Value(text) = setting.default {
                let mut settings = Settings::default();
                (setting.apply)(&mut settings, text).unwrap_or_else(|p| panic!("{}: {p}", setting.env));
                assert_eq!(format!("{settings:?}"), defaults, "{}", setting.env);
            }
        }
    }
}
