//! A TCP proxy on loopback that can cut a server off and bring it back, for storage-outage
//! tests: the object store keeps its data while the feed server cannot reach it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// How the proxy treats connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forward to the upstream.
    Pass = 0,
    /// Close every connection at once (a store that is down).
    Refuse = 1,
    /// Accept connections and never answer (a store that hangs: timeouts).
    Blackhole = 2,
}

pub struct FaultProxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Proxies `127.0.0.1:{port}` (a fresh port) to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("the proxy's address").port();
        let mode = Arc::new(AtomicU8::new(Mode::Pass as u8));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = {
            let (mode, connections) = (mode.clone(), connections.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    let m = mode.load(Ordering::SeqCst);
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        if m == Mode::Refuse as u8 {
                            return;
                        }
                        if m == Mode::Blackhole as u8 {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    });
                    connections
                        .lock()
                        .expect("the connection list")
                        .push(task.abort_handle());
                }
            })
        };
        FaultProxy {
            port,
            mode,
            connections,
            accept,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switches mode; leaving `Pass` also cuts the connections already open (pooled ones).
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        if mode != Mode::Pass {
            self.cut_connections();
        }
    }

    fn cut_connections(&self) {
        for c in self
            .connections
            .lock()
            .expect("the connection list")
            .drain(..)
        {
            c.abort();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_connections();
    }
}
