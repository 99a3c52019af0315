//! HTTP tests against a real hufu on a random port, on every store (see `harness`).

// A test (or benchmark) that cannot set itself up should stop loudly: unwrapping is its way
// of failing. The workspace denies these lints outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod process;

mod accounts;
mod admin;
mod audit;
mod cache;
mod cli;
mod codes;
mod codes_nodes;
mod eddsa;
mod envelope;
mod failures;
mod fake_sms;
mod fake_smtp;
mod fake_wechat;
mod import;
mod inbox;
mod lockout;
mod mail;
mod metrics;
mod mfa;
mod nodes;
mod openapi;
mod page;
mod protection;
mod reauth;
mod redis_cluster;
mod redis_outage;
mod server_log;
mod sessions;
mod shutdown;
mod sms;
mod tokens;
mod verify_library;
mod wechat;
