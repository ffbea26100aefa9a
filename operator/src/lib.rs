//! The NuGetFeed operator as a library: the CRD types ([`crd`]), the reconcile pipeline and its
//! driver ([`reconcile`]), and the `run` and `render` commands that `main.rs` dispatches to.

pub mod consts;
pub mod crd;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod purge;
pub mod quantity;
pub mod reconcile;
pub mod render;
pub mod run;
pub mod settings;
