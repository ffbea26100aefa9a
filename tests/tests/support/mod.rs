//! Shared harness of the cross-crate tests (each test file includes it with `mod support;`):
//! where the external tools and the workspace's own binaries are, child processes and ports,
//! the Helm renderers, an envtest API server, and the servers of the end-to-end test.
//!
//! A missing tool fails the test with the command that installs it, unless
//! `NUGET_SKIP_EXTERNAL=1` asks to skip (then the `*_or_skip` constructors return `None`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod chart;
pub mod cluster;
pub mod process;
pub mod servers;
pub mod tools;
