//! Shared test support: a real server on loopback, and real external tools.
// Each test crate uses part of it.
#![allow(dead_code, clippy::unwrap_used)]

pub mod external;
pub mod process;
pub mod proxy;
pub mod server;
