//! A failure as a person reads it: its code, its text in both languages, and what was wrong
//! with each field. The domain builds one (`Error::problem`); the HTTP envelope and the
//! command line show it.

use super::{ErrorCode, Lang};
use std::borrow::Cow;

/// A text in both languages: a fixed one from a table, or one formatted with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    en: Cow<'static, str>,
    zh: Cow<'static, str>,
}

impl Text {
    /// The English text.
    pub fn en(&self) -> &str {
        &self.en
    }

    /// The Chinese text.
    pub fn zh(&self) -> &str {
        &self.zh
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.en, &self.zh)
    }
}

impl From<(&'static str, &'static str)> for Text {
    fn from((en, zh): (&'static str, &'static str)) -> Self {
        Self {
            en: Cow::Borrowed(en),
            zh: Cow::Borrowed(zh),
        }
    }
}

impl From<(String, String)> for Text {
    fn from((en, zh): (String, String)) -> Self {
        Self {
            en: Cow::Owned(en),
            zh: Cow::Owned(zh),
        }
    }
}

/// One `details` entry: what was wrong with one field (or query parameter, or dependency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The field's name as the request spells it.
    pub field: Cow<'static, str>,
    /// Machine-readable reason, e.g. `required`, `too_short`, `taken`.
    pub reason: &'static str,
    /// What a person is told about it.
    pub text: Text,
}

/// A failure as a person reads it. It never carries the cause of an internal error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The stable `error_code`.
    pub code: ErrorCode,
    /// The specific reason.
    pub text: Text,
    /// Per-field problems (empty for most failures).
    pub details: Vec<Detail>,
}

impl Problem {
    /// `code` with its generic text and no details.
    pub fn of(code: ErrorCode) -> Self {
        Self::new(code, code.text())
    }

    /// `code` with a more specific text and no details.
    pub fn new(code: ErrorCode, text: impl Into<Text>) -> Self {
        Self {
            code,
            text: text.into(),
            details: Vec::new(),
        }
    }
}
