//! hufu: user accounts and sign-in as one service.
//!
//! Layers point one way (docs/architecture.md draws them; `tests/layering.rs` keeps them):
//! `cli`/`app` assemble a node from `config`; `http` translates for the `domain`, which decides
//! and reaches the database through `store`, shared fast state through `cache`, the other nodes
//! through `sync`, email and SMS through `delivery` and WeChat through `wechat`. `catalog` (the
//! texts and error codes) and the small leaf modules may be used by any of them.

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
