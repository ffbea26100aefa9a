//! This crate's own test support: what needs the feed server's library (a server in the test's
//! runtime) or binary (server processes). Everything else is in `nuget_test_support`.
#![allow(clippy::unwrap_used)]

pub mod process;
pub mod server;
