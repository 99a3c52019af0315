//! hufu: user accounts and sign-in as one service.
//!
//! Layers point inward: `http` (routes, extractors, the envelope) calls `domain` (accounts,
//! passwords, tokens), which reaches the database through `store`. `app` assembles them from
//! `config`; `main.rs` only parses the command line.

pub mod app;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod domain;
pub mod files;
pub mod http;
pub mod id;
pub mod import;
pub mod metrics;
pub mod secret;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod timefmt;
pub mod wechat;
