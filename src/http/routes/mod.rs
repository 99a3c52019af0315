//! Route handlers, one file per area. Each handler parses, calls one domain function, and
//! wraps the result; permission checks are extractors in the signature.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod codes;
pub mod mfa;
pub mod ops;
pub mod users;
pub mod web;
pub mod wechat;
