//! Every text hufu shows a person, in English and Chinese, and the stable error codes.
//!
//! This module depends on nothing else in the crate: the domain says which failure happened
//! and takes its words from here (`domain::error`), the HTTP layer adds statuses and headers
//! (`http::error`) and picks the language, and the command line prints the English. What lives
//! here is tables — `match` arms that only return `(en, zh)` pairs, or one value formatted
//! into a sentence — never decisions. Clients and tests rely on these texts byte for byte.

mod code;
pub mod fields;
mod lang;
pub mod mail;
mod problem;
pub mod reasons;
mod status;

pub use code::ErrorCode;
pub use lang::Lang;
pub use problem::{Detail, Problem, Text};
pub use status::{Success, status_text};
