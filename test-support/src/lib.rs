//! One harness for every crate's tests and for the bench: child processes killed on drop
//! ([`process`]), loopback ports ([`ports`]), HTTP polls and listings ([`http`]), waiting for a
//! condition ([`wait`]), where the external tools are ([`tools`]), and the real programs the tests
//! drive: a Kubernetes API server ([`envtest`], feature `envtest`), moto ([`moto`]), Azurite
//! ([`azurite`]), NuGet.exe ([`nuget_exe`]), nginx ([`nginx`]), the Helm chart tools ([`chart`]),
//! a fault-injecting TCP proxy ([`proxy`]), an OIDC issuer minting GitHub- and GitLab-shaped
//! tokens ([`oidc`]), a static NuGet feed in nuget.org's shapes served by nginx
//! ([`static_feed`]), a feed-server "pod" started from rendered manifests ([`feed_pod`]) and
//! headless Chromium with playwright-core and axe-core ([`browser`]).
//!
//! It depends on neither the feed server nor the operator: what needs their library or
//! binary (`env!("CARGO_BIN_EXE_...")`) stays in their own tests and passes paths in.
//!
//! A missing tool fails the test with the command that installs it, unless
//! `NUGET_SKIP_EXTERNAL=1` asks to skip (then the `*_or_skip` constructors return `None`).

pub mod azurite;
pub mod browser;
pub mod chart;
#[cfg(feature = "envtest")]
pub mod envtest;
pub mod feed_pod;
pub mod http;
mod listing;
pub mod moto;
pub mod nginx;
pub mod nuget_exe;
pub mod nuget_v2;
pub mod oidc;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod static_feed;
pub mod tools;
pub mod wait;
