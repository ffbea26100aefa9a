//! Loopback ports for the servers the tests start.

use std::net::TcpListener;

/// A loopback port that was free a moment ago (bind to port 0, read it back, release it).
/// Another process may take it in between; [`crate::process::Launch`] retries on another port
/// if so.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}
