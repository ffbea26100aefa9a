//! A TCP proxy on loopback that injects faults between a client and a server: for
//! storage-outage tests (the object store keeps its data while the feed server cannot reach
//! it) and upstream-outage tests (an upstream feed that is slow, fails, resets or is down).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// How the proxy treats connections (a number each, which tests use to name what they
/// create per mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Forward to the upstream.
    Pass = 0,
    /// Close every connection at once (a store that is down).
    Refuse = 1,
    /// Accept connections and never answer (a store that hangs: timeouts).
    Blackhole = 2,
    /// Forward, but only after the delay given to [`FaultProxy::set_slow`] (a slow server, or
    /// one slower than a timeout).
    Slow = 3,
    /// Read the request and answer `500 Internal Server Error` (a failing HTTP server).
    ServerError = 4,
    /// Read the request and reset the connection (TCP RST, no answer).
    Reset = 5,
    /// Forward, but close the connection once the bytes given to [`FaultProxy::set_cut_after`]
    /// of the answer went through (a server that dies mid-body).
    Cut = 6,
}

/// The proxy's mode and the parameters of the modes that have one.
#[derive(Debug, Clone, Copy)]
struct Settings {
    mode: Mode,
    /// Of [`Mode::Slow`].
    delay: Duration,
    /// Of [`Mode::Cut`].
    cut_after: u64,
}

pub struct FaultProxy {
    pub port: u16,
    settings: Arc<Mutex<Settings>>,
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
        let settings = Arc::new(Mutex::new(Settings {
            mode: Mode::Pass,
            delay: Duration::ZERO,
            cut_after: 0,
        }));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let accept = {
            let (settings, connections) = (settings.clone(), connections.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    let now = *settings.lock().expect("the proxy's mode");
                    let task = tokio::spawn(serve(inbound, upstream.clone(), now));
                    connections
                        .lock()
                        .expect("the connection list")
                        .push(task.abort_handle());
                }
            })
        };
        FaultProxy {
            port,
            settings,
            connections,
            accept,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Switches mode for new connections; leaving `Pass` also cuts the connections already
    /// open (pooled ones), so the next request meets the fault.
    pub fn set(&self, mode: Mode) {
        self.settings.lock().expect("the proxy's mode").mode = mode;
        if mode != Mode::Pass {
            self.cut_connections();
        }
    }

    /// [`Mode::Slow`]: every new connection is forwarded after `delay`.
    pub fn set_slow(&self, delay: Duration) {
        self.settings.lock().expect("the proxy's mode").delay = delay;
        self.set(Mode::Slow);
    }

    /// [`Mode::Cut`]: every new connection is closed after `bytes` of the answer (head and
    /// body) went through.
    pub fn set_cut_after(&self, bytes: u64) {
        self.settings.lock().expect("the proxy's mode").cut_after = bytes;
        self.set(Mode::Cut);
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

/// One connection, treated as `settings` say.
async fn serve(mut inbound: TcpStream, upstream: String, settings: Settings) {
    match settings.mode {
        Mode::Refuse => return,
        Mode::Blackhole => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        Mode::ServerError => {
            read_request_head(&mut inbound).await;
            let body = "injected fault";
            let response = format!(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = inbound.write_all(response.as_bytes()).await;
            let _ = inbound.shutdown().await;
            return;
        }
        Mode::Reset => {
            read_request_head(&mut inbound).await;
            // A zero linger makes the close an RST instead of a FIN.
            let _ = inbound.set_zero_linger();
            return;
        }
        Mode::Slow => tokio::time::sleep(settings.delay).await,
        Mode::Cut => return cut(inbound, upstream, settings.cut_after).await,
        Mode::Pass => {}
    }
    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}

/// Forwards one connection until `limit` bytes of the answer went through, then closes it.
async fn cut(inbound: TcpStream, upstream: String, limit: u64) {
    let Ok(outbound) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut in_read, mut in_write) = inbound.into_split();
    let (mut out_read, mut out_write) = outbound.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut in_read, &mut out_write).await;
    });
    let _ = tokio::io::copy(&mut (&mut out_read).take(limit), &mut in_write).await;
    let _ = in_write.flush().await;
    // Both halves closed: the client sees the answer end before its length.
    requests.abort();
}

/// Reads until the end of an HTTP request head (or EOF, or 64 KiB).
async fn read_request_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 << 10 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_connections();
    }
}
