//! HTTP tests against a real hufu on a random port, on every store (see `harness`).

mod harness;
mod process;

mod accounts;
mod admin;
mod audit;
mod cache;
mod cli;
mod eddsa;
mod envelope;
mod failures;
mod fake_wechat;
mod import;
mod metrics;
mod mfa;
mod nodes;
mod openapi;
mod page;
mod protection;
mod redis_cluster;
mod redis_outage;
mod sessions;
mod shutdown;
mod tokens;
mod verify_library;
mod wechat;
