//! The benchmark harness of `nuget-feed-server` (see the README's performance section).
//!
//! [`generate`] writes feeds of a given size straight to storage, [`server`] runs the real
//! server binary on one and reads its start-up time and memory, [`wrk`] drives it with `wrk` at
//! fixed concurrency, [`nginx`] serves the same response bytes from nginx as the baseline,
//! [`upstream`] restores packages through the server from a static upstream, [`single`] measures
//! single-URL reads against nginx (CPU per request too), and [`run`] puts it together into the
//! tables the README shows. Everything listens on 127.0.0.1
//! and every step has a time limit.

pub mod generate;
pub mod nginx;
pub mod run;
pub mod server;
pub mod single;
pub mod upstream;
pub mod wrk;
