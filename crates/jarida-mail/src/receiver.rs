//! A small SMTP server for the mail that comes back to us: the bounce domain's MX points at it.
//! It takes mail only for the addresses its [`Inbox`] accepts (our VERP and unsubscribe
//! addresses, whose signatures check) and refuses every other recipient at RCPT, so it can never
//! relay; it bounds the size of a message, the recipients per message, the connections at once
//! and the time a client may sit idle, and offers STARTTLS when given a certificate.
//!
//! The command and DATA parsing (dot-unstuffing, line limits) are smtp-proto's; the session
//! around them is ours: no crate offers an embeddable SMTP server small enough for this, and the
//! conversation here is a dozen states.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// Where accepted messages go.
pub trait Inbox: Send + Sync + 'static {
    /// Whether mail for `rcpt` is taken (a refusal is a 550 at RCPT).
    fn accepts(&self, rcpt: &str) -> bool;
    /// Takes one message for its recipients; an error is answered 451 (the sender tries again).
    fn deliver(
        &self,
        rcpts: Vec<String>,
        raw: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// How the receiver behaves.
#[derive(Clone)]
pub struct Limits {
    /// The name it greets with.
    pub hostname: String,
    /// A larger message is refused (552) after it has been read and thrown away.
    pub max_message_bytes: usize,
    /// Only this much of a message is kept (the rest is read and dropped): what the reader of
    /// returned mail looks at is at the start, so memory stays bounded per connection.
    pub keep_bytes: usize,
    /// Connections served at once; more are told to come back later (421).
    pub max_connections: usize,
    /// Connections one client (an address; an IPv6 client by its /64) holds at once, so that one
    /// host cannot take every slot.
    pub max_per_client: usize,
    /// A client silent this long is disconnected.
    pub idle: Duration,
    /// Recipients per message.
    pub max_recipients: usize,
    /// STARTTLS is offered with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Errors before serving starts.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("{0}: {1}")]
    Certificate(String, String),
}

/// A TLS configuration from PEM files: the certificate chain and its private key.
pub fn tls_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &str,
) -> Result<Arc<rustls::ServerConfig>, ReceiverError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: String| ReceiverError::Certificate(cert_name.to_string(), e);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("reading the certificate: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| bad(format!("reading the private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// Serves `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, limits: Limits, inbox: Arc<dyn Inbox>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(Clients::default());
    let limits = Arc::new(limits);
    loop {
        let (mut sock, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "receiver: accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let _ = sock
                    .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                    .await;
            });
            continue;
        };
        let Some(client) = clients.take(peer.ip(), limits.max_per_client.max(1)) else {
            drop(slot);
            tokio::spawn(async move {
                let _ = sock
                    .write_all(
                        b"421 4.7.0 Too many connections from your address, try again later\r\n",
                    )
                    .await;
            });
            continue;
        };
        let limits = limits.clone();
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let _client = client;
            let _ = sock.set_nodelay(true);
            // However busy the client keeps it, a connection ends after this long, so that a
            // few clients sending a NOOP a minute cannot hold every slot.
            let whole =
                tokio::time::timeout(SESSION_LIMIT, session(sock, &limits, inbox.as_ref(), false));
            let Ok(ended) = whole.await else {
                drop(slot);
                return;
            };
            match ended {
                Ok(Ending::StartTls(sock)) => {
                    if let Some(tls) = &limits.tls {
                        let handshake = TlsAcceptor::from(tls.clone()).accept(sock);
                        match tokio::time::timeout(limits.idle, handshake).await {
                            Ok(Ok(s)) => {
                                let _ = session(s, &limits, inbox.as_ref(), true).await;
                            }
                            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "receiver: TLS"),
                            Err(_) => tracing::debug!(%peer, "receiver: TLS handshake too slow"),
                        }
                    }
                }
                Ok(Ending::Closed) => {}
                Err(e) => tracing::debug!(%peer, error = %e, "receiver: session"),
            }
            drop(slot);
        });
    }
}

/// How many connections each client holds.
#[derive(Default)]
struct Clients(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One of a client's connections; counted down when dropped.
struct ClientSlot(Arc<Clients>, std::net::IpAddr);

impl Clients {
    /// A slot for a connection from `ip`, unless it holds `max` already.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr, max: usize) -> Option<ClientSlot> {
        let key = client_of(ip);
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot(self.clone(), key))
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.0.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.1);
            }
        }
    }
}

/// The client an address stands for: itself, an IPv4-mapped IPv6 address as IPv4, an IPv6 address
/// by its /64 (one host usually holds a whole /64).
fn client_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(_) => ip,
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.into(),
            None => {
                let s = v6.segments();
                std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0).into()
            }
        },
    }
}

enum Ending<S> {
    Closed,
    /// The client asked for TLS: the same connection, to be wrapped.
    StartTls(S),
}

/// One message being put together.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    rcpts: Vec<String>,
}

/// Errors before the connection is dropped (a client speaking something else).
const MAX_ERRORS: usize = 10;

/// The longest a connection may last, STARTTLS and every message included.
const SESSION_LIMIT: Duration = Duration::from_secs(600);

/// Writes `bytes`, giving up when the client stops reading for `limit`.
async fn send<S: AsyncWrite + Unpin>(
    io: &mut S,
    bytes: &[u8],
    limit: Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(limit, io.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    limits: &Limits,
    inbox: &dyn Inbox,
    after_tls: bool,
) -> std::io::Result<Ending<S>> {
    let offer_tls = limits.tls.is_some() && !after_tls;
    let host = &limits.hostname;
    // After STARTTLS the client speaks first (RFC 3207): no second greeting.
    if !after_tls {
        send(
            &mut io,
            format!("220 {host} ESMTP jarida\r\n").as_bytes(),
            limits.idle,
        )
        .await?;
    }
    let mut parser = RequestReceiver::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut greeted = false;
    let mut env = Envelope::default();
    let mut errors = 0;
    loop {
        // Answer every command already received (pipelining) before reading more.
        let mut out = String::new();
        let mut iter = pending.iter();
        let mut data_now = false;
        let mut quit = false;
        let mut starttls = false;
        loop {
            let req = match parser.ingest(&mut iter) {
                Ok(r) => r,
                Err(ProtoError::NeedsMoreData { .. }) => break,
                Err(ProtoError::ResponseTooLong) => {
                    errors += 1;
                    out.push_str("500 5.5.2 Line too long\r\n");
                    if errors >= MAX_ERRORS {
                        quit = true;
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    errors += 1;
                    out.push_str(&format!("500 5.5.2 {}\r\n", syntax(&e)));
                    if errors >= MAX_ERRORS {
                        quit = true;
                        break;
                    }
                    continue;
                }
            };
            match req {
                Request::Ehlo { .. } => {
                    greeted = true;
                    env = Envelope::default();
                    out.push_str(&format!(
                        "250-{host}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-8BITMIME\r\n{}250 ENHANCEDSTATUSCODES\r\n",
                        limits.max_message_bytes,
                        if offer_tls { "250-STARTTLS\r\n" } else { "" }
                    ));
                }
                Request::Helo { .. } => {
                    greeted = true;
                    env = Envelope::default();
                    out.push_str(&format!("250 {host}\r\n"));
                }
                Request::Mail { from } => {
                    if !greeted {
                        out.push_str("503 5.5.1 Say hello first\r\n");
                    } else if env.from.is_some() {
                        out.push_str("503 5.5.1 Sender already given\r\n");
                    } else if from.size > limits.max_message_bytes {
                        out.push_str("552 5.3.4 Message too big\r\n");
                    } else {
                        env.from = Some(from.address.to_string());
                        out.push_str("250 2.1.0 OK\r\n");
                    }
                }
                Request::Rcpt { to } => {
                    let addr = to.address.to_ascii_lowercase();
                    if env.from.is_none() {
                        out.push_str("503 5.5.1 Sender first\r\n");
                    } else if env.rcpts.len() >= limits.max_recipients {
                        out.push_str("452 4.5.3 Too many recipients\r\n");
                    } else if inbox.accepts(&addr) {
                        if !env.rcpts.contains(&addr) {
                            env.rcpts.push(addr);
                        }
                        out.push_str("250 2.1.5 OK\r\n");
                    } else {
                        errors += 1;
                        out.push_str("550 5.1.1 No such recipient here\r\n");
                    }
                }
                Request::Data => {
                    if env.rcpts.is_empty() {
                        out.push_str("554 5.5.1 No valid recipients\r\n");
                    } else {
                        out.push_str("354 End data with <CR><LF>.<CR><LF>\r\n");
                        data_now = true;
                        break;
                    }
                }
                Request::Rset => {
                    env = Envelope::default();
                    out.push_str("250 2.0.0 OK\r\n");
                }
                Request::Noop { .. } => out.push_str("250 2.0.0 OK\r\n"),
                Request::Vrfy { .. } => out.push_str("252 2.5.0 Not verified\r\n"),
                Request::StartTls if offer_tls => {
                    out.push_str("220 2.0.0 Ready to start TLS\r\n");
                    starttls = true;
                    break;
                }
                Request::Quit => {
                    out.push_str("221 2.0.0 Bye\r\n");
                    quit = true;
                    break;
                }
                _ => {
                    errors += 1;
                    out.push_str("502 5.5.1 Not implemented\r\n");
                }
            }
            if errors >= MAX_ERRORS {
                quit = true;
                break;
            }
        }
        let rest = iter.as_slice().to_vec();
        pending = rest;
        if !out.is_empty() {
            send(&mut io, out.as_bytes(), limits.idle).await?;
        }
        if quit {
            if errors >= MAX_ERRORS {
                send(&mut io, b"421 4.7.0 Too many errors\r\n", limits.idle).await?;
            }
            return Ok(Ending::Closed);
        }
        if starttls {
            // Anything pipelined after STARTTLS is discarded (RFC 3207: a command injection).
            return Ok(Ending::StartTls(io));
        }
        if data_now {
            let (body, leftover) =
                read_data(&mut io, std::mem::take(&mut pending), limits, &mut buf).await?;
            pending = leftover;
            let reply = match body {
                None => "552 5.3.4 Message too big\r\n".to_string(),
                Some(raw) => {
                    let rcpts = std::mem::take(&mut env.rcpts);
                    match inbox.deliver(rcpts, raw).await {
                        Ok(()) => "250 2.0.0 Taken\r\n".to_string(),
                        Err(e) => {
                            tracing::warn!(error = %e, "receiver: a message could not be taken");
                            "451 4.3.0 Try again later\r\n".to_string()
                        }
                    }
                }
            };
            env = Envelope::default();
            send(&mut io, reply.as_bytes(), limits.idle).await?;
            continue;
        }
        let n = match tokio::time::timeout(limits.idle, io.read(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => {
                let _ = send(&mut io, b"421 4.4.2 Idle too long\r\n", limits.idle).await;
                return Ok(Ending::Closed);
            }
        };
        if n == 0 {
            return Ok(Ending::Closed);
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

/// Reads a DATA body, starting with what was already received. `None` when it outgrew the
/// limit (read to its end and thrown away); also returns what followed the body.
async fn read_data<S: AsyncRead + Unpin>(
    io: &mut S,
    first: Vec<u8>,
    limits: &Limits,
    buf: &mut [u8],
) -> std::io::Result<(Option<Vec<u8>>, Vec<u8>)> {
    let mut data = DataReceiver::new();
    let mut chunk: Vec<u8> = Vec::new();
    // The 354 ended a line: the receiver must know, or a message that is empty (".") or whose
    // first line starts with a dot would not be read right.
    data.ingest(&mut b"\r\n".iter(), &mut chunk);
    chunk.clear();
    let mut body: Vec<u8> = Vec::new();
    let mut too_big = false;
    let mut total = 0usize;
    let mut input = first;
    loop {
        let mut iter = input.iter();
        let done = data.ingest(&mut iter, &mut chunk);
        // The receiver takes back the CR of the final CRLF.CRLF once it sees the LF, which may
        // come in the next read: the last byte waits in `chunk` until then.
        let keep = if done { 0 } else { chunk.len().min(1) };
        let ready = chunk.len() - keep;
        total += ready;
        if !too_big {
            if total > limits.max_message_bytes {
                too_big = true;
                body = Vec::new();
            } else {
                let room = limits.keep_bytes.saturating_sub(body.len()).min(ready);
                body.extend_from_slice(&chunk[..room]);
            }
        }
        chunk.drain(..ready);
        if done {
            let rest = iter.as_slice().to_vec();
            return Ok(((!too_big).then_some(body), rest));
        }
        let n = match tokio::time::timeout(limits.idle, io.read(buf)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "idle during DATA",
                ));
            }
        };
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        input = buf[..n].to_vec();
    }
}

fn syntax(e: &ProtoError) -> &'static str {
    match e {
        ProtoError::UnknownCommand => "Unknown command",
        ProtoError::InvalidSenderAddress => "Bad sender address",
        ProtoError::InvalidRecipientAddress => "Bad recipient address",
        ProtoError::SyntaxError { syntax } => syntax,
        _ => "Syntax error",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Mutex;
    use tokio::io::AsyncBufReadExt;

    #[derive(Default)]
    struct Kept(Mutex<Vec<(Vec<String>, Vec<u8>)>>);

    impl Inbox for Kept {
        fn accepts(&self, rcpt: &str) -> bool {
            rcpt.starts_with("b+")
        }
        fn deliver(
            &self,
            rcpts: Vec<String>,
            raw: Vec<u8>,
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
            self.0.lock().unwrap().push((rcpts, raw));
            Box::pin(async { Ok(()) })
        }
    }

    async fn start(max_connections: usize) -> (u16, Arc<Kept>) {
        start_with(max_connections, max_connections).await
    }

    async fn start_with(max_connections: usize, max_per_client: usize) -> (u16, Arc<Kept>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let kept = Arc::new(Kept::default());
        let limits = Limits {
            hostname: "bounces.example.org".into(),
            max_message_bytes: 1024,
            keep_bytes: 512,
            max_connections,
            max_per_client,
            idle: Duration::from_secs(5),
            max_recipients: 2,
            tls: None,
        };
        tokio::spawn(serve(l, limits, kept.clone()));
        (port, kept)
    }

    /// Sends `parts` one write at a time (a pause between them), then reads replies until QUIT's.
    async fn talk(port: u16, parts: &[&[u8]]) -> Vec<String> {
        let s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (r, mut w) = s.into_split();
        let mut lines = tokio::io::BufReader::new(r).lines();
        for p in parts {
            w.write_all(p).await.unwrap();
            w.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut got = Vec::new();
        while let Ok(Ok(Some(l))) =
            tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await
        {
            let end = l.starts_with("221") || l.starts_with("421");
            got.push(l);
            if end {
                break;
            }
        }
        got
    }

    fn codes(lines: &[String]) -> Vec<&str> {
        lines
            .iter()
            .filter(|l| l.as_bytes().get(3) == Some(&b' '))
            .map(|l| &l[..3])
            .collect()
    }

    #[tokio::test]
    async fn a_pipelined_message_is_taken_byte_for_byte() {
        let (port, kept) = start(4).await;
        let got = talk(
            port,
            &[
                b"EHLO mx.example.net\r\nMAIL FROM:<>\r\nRCPT TO:<someone@example.com>\r\n\
                  RCPT TO:<b+1-2-0123456789abcdef@bounces.example.org>\r\nDATA\r\n",
                b"Subject: x\r\n\r\n..a line that started with a dot\r\nlast line\r",
                b"\n.\r",
                b"\nQUIT\r\n",
            ],
        )
        .await;
        assert_eq!(
            codes(&got),
            ["220", "250", "250", "550", "250", "354", "250", "221"],
            "{got:?}"
        );
        let kept = kept.0.lock().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0, ["b+1-2-0123456789abcdef@bounces.example.org"]);
        assert_eq!(
            String::from_utf8_lossy(&kept[0].1),
            "Subject: x\r\n\r\n.a line that started with a dot\r\nlast line\r\n"
        );
    }

    #[tokio::test]
    async fn an_empty_message_and_a_leading_dot_are_read_right() {
        let (port, kept) = start(4).await;
        let got = talk(
            port,
            &[
                b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<b+1@x>\r\nRCPT TO:<b+1@x>\r\nDATA\r\n.\r\n\
               MAIL FROM:<>\r\nRCPT TO:<b+2@x>\r\nDATA\r\n..dot first\r\n.\r\nQUIT\r\n",
            ],
        )
        .await;
        assert_eq!(
            codes(&got),
            [
                "220", "250", "250", "250", "250", "354", "250", "250", "250", "354", "250", "221"
            ],
            "{got:?}"
        );
        let kept = kept.0.lock().unwrap();
        assert_eq!(
            kept[0],
            (vec!["b+1@x".to_string()], Vec::new()),
            "once, and empty"
        );
        assert_eq!(kept[1].1, b".dot first\r\n");
    }

    #[tokio::test]
    async fn only_the_start_of_a_long_message_is_kept() {
        let (port, kept) = start(4).await;
        let msg = format!(
            "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<b+1-2-a@b>\r\nDATA\r\nSubject: long\r\n\r\n{}\r\n.\r\nQUIT\r\n",
            "z".repeat(800)
        );
        let got = talk(port, &[msg.as_bytes()]).await;
        assert_eq!(
            codes(&got),
            ["220", "250", "250", "250", "354", "250", "221"],
            "{got:?}"
        );
        let kept = kept.0.lock().unwrap();
        assert_eq!(kept[0].1.len(), 512, "taken, its first 512 bytes kept");
        assert!(kept[0].1.starts_with(b"Subject: long\r\n\r\nzzz"));
    }

    #[tokio::test]
    async fn too_big_too_many_and_out_of_order_are_refused() {
        let (port, kept) = start(4).await;
        let big = format!(
            "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<b+1-2-a@b>\r\nDATA\r\n{}\r\n.\r\n",
            "y".repeat(4000)
        );
        let got = talk(
            port,
            &[
                b"MAIL FROM:<>\r\n",
                big.as_bytes(),
                b"MAIL FROM:<>\r\nRCPT TO:<b+1@x>\r\nRCPT TO:<b+2@x>\r\nRCPT TO:<b+3@x>\r\nRSET\r\nQUIT\r\n",
            ],
        )
        .await;
        assert_eq!(
            codes(&got),
            [
                "220", "503", "250", "250", "250", "354", "552", "250", "250", "250", "452", "250",
                "221"
            ],
            "{got:?}"
        );
        assert!(kept.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn connections_past_the_limit_are_told_to_come_back() {
        let (port, _) = start(1).await;
        let first = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let got = talk(port, &[]).await;
        assert_eq!(codes(&got), ["421"], "{got:?}");
        drop(first);
    }

    #[tokio::test]
    async fn one_client_cannot_take_every_connection() {
        let (port, _) = start_with(10, 2).await;
        let held: Vec<_> = connected(port, 2).await;
        let got = talk(port, &[]).await;
        assert_eq!(
            codes(&got),
            ["421"],
            "a third from the same address: {got:?}"
        );
        assert!(got[0].contains("4.7.0"), "{got:?}");
        drop(held);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let got = talk(port, &[b"QUIT\r\n"]).await;
        assert_eq!(codes(&got), ["220", "221"], "its slots come back: {got:?}");
    }

    /// `n` connections to `port`, each past the greeting.
    async fn connected(port: u16, n: usize) -> Vec<tokio::net::TcpStream> {
        let mut held = Vec::new();
        for _ in 0..n {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let mut greeting = [0u8; 5];
            tokio::io::AsyncReadExt::read_exact(&mut s, &mut greeting)
                .await
                .unwrap();
            assert_eq!(&greeting[..3], b"220");
            held.push(s);
        }
        held
    }

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_its_64() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_of(a), client_of(b));
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            client_of(mapped),
            "192.0.2.7".parse::<std::net::IpAddr>().unwrap()
        );
    }
}
