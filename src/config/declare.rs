//! The machinery that turns the one declaration of every setting (`config::sections`) into
//! what the rest of `config` uses: the section structs, their `Default`s, the table the loader
//! and the documentation read, and a constant per environment name.
//!
//! It owns no setting itself and must not name one: adding a setting is an edit of
//! `sections.rs` only.

/// How a declared default reads in the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// A value in the setting's own syntax, parsed by its parser to give the default.
    Value(&'static str),
    /// No value: what happens instead (`unset`, `number of cores`…).
    Note(&'static str),
}

/// One declared setting.
#[derive(Debug)]
pub struct Setting {
    /// The environment name, e.g. `HUFU_ACCESS_TTL`.
    pub env: &'static str,
    /// The section of [`Settings`](super::Settings) its value goes to, e.g. `tokens`.
    pub section: &'static str,
    /// The documentation: one line per doc-comment line.
    pub doc: &'static [&'static str],
    /// Its default, as documented.
    pub default: DefaultValue,
    /// Parses a raw value into its place; the error is the problem without the setting's name.
    pub(super) apply: fn(&mut super::Settings, &str) -> Result<(), String>,
}

impl Setting {
    /// The TOML key: the environment name without `HUFU_`, in lower case (contract section 9).
    pub fn toml_key(&self) -> String {
        self.env.strip_prefix("HUFU_").unwrap_or(self.env).to_ascii_lowercase()
    }

    /// The documentation as one line.
    pub fn meaning(&self) -> String {
        self.doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ")
    }
}

/// A section's (or a nested part's) documentation.
#[derive(Debug)]
pub struct SectionDoc {
    /// The section's field in [`Settings`](super::Settings), e.g. `database` (also for a
    /// nested part such as `database.pool`, whose doc follows its section's).
    pub section: &'static str,
    /// One line per doc-comment line.
    pub doc: &'static [&'static str],
}

/// Where a block's struct sits in [`Settings`](super::Settings) (each struct sits in one place).
pub(crate) trait Place {
    /// The struct inside `settings`.
    fn place(settings: &mut super::Settings) -> &mut Self;
}

/// A declared default in the setting's own syntax, parsed. The declared defaults are constants
/// checked by the unit tests (every one is loaded by `Settings::default()`), not input, so a
/// default that does not parse is a bug in the declaration and stops at once.
pub(super) fn declared_default<T>(env: &str, parsed: Result<T, String>) -> T {
    match parsed {
        Ok(value) => value,
        Err(problem) => panic!("the declared default of {env} does not parse: {problem}"),
    }
}

/// The value a field starts with, from its declared default.
macro_rules! default_value {
    ($env:ident, $parse:expr, (unset $note:literal)) => {
        None
    };
    ($env:ident, $parse:expr, (computed $value:expr, $note:literal)) => {
        $value
    };
    ($env:ident, $parse:expr, $text:literal) => {
        $crate::config::declare::declared_default(stringify!($env), ($parse)($text))
    };
    ($env:ident, $parse:expr, (text $text:expr)) => {
        $crate::config::declare::declared_default(stringify!($env), ($parse)($text))
    };
}

/// How a declared default is documented.
macro_rules! default_doc {
    ((unset $note:literal)) => {
        $crate::config::declare::DefaultValue::Note($note)
    };
    ((computed $value:expr, $note:literal)) => {
        $crate::config::declare::DefaultValue::Note($note)
    };
    ($text:literal) => {
        $crate::config::declare::DefaultValue::Value($text)
    };
    ((text $text:expr)) => {
        $crate::config::declare::DefaultValue::Value($text)
    };
}

/// The parsed value of a raw setting: a setting that is unset by default holds `Some` once set.
macro_rules! parsed_value {
    ($parse:expr, $raw:expr, (unset $note:literal)) => {
        Some(($parse)($raw)?)
    };
    ($parse:expr, $raw:expr, $default:tt) => {
        ($parse)($raw)?
    };
}

/// The struct of a section that `config` owns (`struct`); nothing for a type that another
/// layer owns (`use`), which only gets its `Default` here.
macro_rules! section_struct {
    (struct $ty:ident [$(#[doc = $sdoc:literal])*] {
        $([$(#[doc = $doc:literal])*] $field:ident: $fty:ty),* $(,)?
    }) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone)]
        pub struct $ty {
            $($(#[doc = $doc])* pub $field: $fty,)*
        }
    };
    (use $ty:ident [$(#[doc = $sdoc:literal])*] { $($rest:tt)* }) => {};
}

/// Declares every setting once. A block is one struct of the settings:
///
/// ```text
/// /// Section doc.
/// section.nested.path: struct Name { … }   // a struct config owns, defined here
/// section: use Name { … }                  // a type of the domain or the store, in scope
/// ```
///
/// and each of its settings reads
///
/// ```text
/// /// One-line doc (the documentation's "meaning").
/// HUFU_NAME field: Type = DEFAULT, parser;
/// ```
///
/// where `parser` is a `fn(&str) -> Result<T, String>` (or a closure) and `DEFAULT` is one of
/// `"text"` (a value in the setting's syntax, parsed by `parser`), `(text CONST)` (the same
/// from a constant), `(unset "what happens")` (the field is an `Option`, `None` by default),
/// or `(computed expression, "how it is computed")`. A block may end with `+ { field: Type }`
/// for nested parts, which start from their own block's defaults.
macro_rules! settings {
    ($(
        $(#[doc = $sdoc:literal])*
        $section:ident $(. $nested:ident)*: $kind:ident $ty:ident {
            $(
                $(#[doc = $doc:literal])*
                $env:ident $field:ident: $fty:ty = $default:tt, $parse:expr;
            )*
        } $(+ {
            $($(#[doc = $pdoc:literal])* $part:ident: $pty:ty),* $(,)?
        })?
    )*) => {
        $(
            $crate::config::declare::section_struct!($kind $ty [$(#[doc = $sdoc])*] {
                $([$(#[doc = $doc])*] $field: $fty,)*
                $($([$(#[doc = $pdoc])*] $part: $pty,)*)?
            });

            impl $crate::config::declare::Place for $ty {
                fn place(settings: &mut $crate::config::Settings) -> &mut Self {
                    &mut settings.$section $(.$nested)*
                }
            }

            impl Default for $ty {
                fn default() -> Self {
                    Self {
                        $($field: $crate::config::declare::default_value!($env, $parse, $default),)*
                        $($($part: <$pty>::default(),)*)?
                    }
                }
            }
        )*

        /// Every setting's environment name, to name a setting in a message.
        pub mod names {
            $($(
                #[doc = concat!("`", stringify!($env), "`.")]
                pub const $env: &str = stringify!($env);
            )*)*
        }

        /// Every setting, in the order of the documentation.
        pub static SETTINGS: &[$crate::config::declare::Setting] = &[$($(
            $crate::config::declare::Setting {
                env: stringify!($env),
                section: stringify!($section),
                doc: &[$($doc),*],
                default: $crate::config::declare::default_doc!($default),
                apply: |settings, raw| {
                    let value: $fty = $crate::config::declare::parsed_value!($parse, raw, $default);
                    <$ty as $crate::config::declare::Place>::place(settings).$field = value;
                    Ok(())
                },
            },
        )*)*];

        /// Every block's documentation, in declaration order.
        pub static SECTIONS: &[$crate::config::declare::SectionDoc] = &[$(
            $crate::config::declare::SectionDoc {
                section: stringify!($section),
                doc: &[$($sdoc),*],
            },
        )*];
    };
}

pub(crate) use {default_doc, default_value, parsed_value, section_struct, settings};
