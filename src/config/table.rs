//! The settings' documentation, generated from their declaration: one Markdown table per
//! section.

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
