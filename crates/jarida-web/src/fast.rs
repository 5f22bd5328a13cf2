//! The hot path: a request for a page in the cache is answered straight from the connection, without
//! hyper, the router or a response object. Every other request (a miss, a form, the API, media, an
//! HTTP/1.0 client, anything unusual) hands the connection to hyper with the bytes already read, and
//! it stays there.
//!
//! Why by hand: a cache hit is a lookup and a write of bytes prepared when the page was cached
//! (status line and headers, security headers included, per encoding; see `Cached::wire`). Through
//! hyper and axum the same hit built a request, a header map, a response and its header map, and
//! wrote headers one by one; profiles put most of a hit's time there, and the site stayed below a
//! static file server on the same bytes. Here a hit costs one header parse (`httparse`, the parser
//! hyper itself uses), one hash lookup, and one vectored write of three slices (head, `Date`, body),
//! with pipelined requests answered in one write. No allocation per hit: the slices are reference
//! counted, the `Date` line is rebuilt once a second per thread.
//!
//! What the connection keeps from the hyper path: the header-read timeout (a request head must
//! arrive within it, idle keep-alive included), the stall timeout of the stream beneath, the
//! connection slot, and graceful stop (between requests the loop ends at the stop signal).

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::App;

/// A request head larger than this goes to hyper, which answers it (431) as it would any other.
const MAX_HEAD: usize = 16 * 1024;

/// How a connection left the fast path.
pub enum End<S> {
    /// Closed: by the client, after `Connection: close`, at the stop signal, or at the header
    /// timeout.
    Closed,
    /// A request the fast path does not answer: hyper serves the connection from here, starting
    /// with the bytes already read.
    Handoff(Rewind<S>),
}

/// Serves requests on `io` from the page cache until one is not a cache hit.
pub async fn serve<S>(
    mut io: S,
    app: &App,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> io::Result<End<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(4096);
    let mut out: Vec<Bytes> = Vec::with_capacity(6);
    // A request head must be whole by this time, however its bytes trickle in.
    let mut deadline = tokio::time::Instant::now() + header_timeout;
    loop {
        // Answer every complete request already read (a pipelining client sends several).
        let mut close = false;
        loop {
            match answer(app, &buf) {
                Parsed::Partial => break,
                Parsed::Hit {
                    len,
                    head,
                    body,
                    close: c,
                } => {
                    // Stopping: this answer is the connection's last, and says so (as hyper's
                    // graceful shutdown does), however many requests the client has queued.
                    let c = c || *stop.borrow();
                    out.push(head);
                    if c {
                        out.push(Bytes::from_static(b"connection: close\r\n"));
                    }
                    out.push(date_line());
                    if let Some(b) = body {
                        out.push(b);
                    }
                    buf.advance(len);
                    if c {
                        close = true;
                        break;
                    }
                }
                Parsed::Other => {
                    write_all(&mut io, &mut out).await?;
                    return Ok(End::Handoff(Rewind::new(io, buf.freeze())));
                }
            }
        }
        if !out.is_empty() {
            write_all(&mut io, &mut out).await?;
            // The next request's head has its whole time from here, after a slow client took
            // this answer (as hyper counts it).
            deadline = tokio::time::Instant::now() + header_timeout;
        }
        if close {
            let _ = io.shutdown().await;
            return Ok(End::Closed);
        }
        if buf.len() > MAX_HEAD {
            return Ok(End::Handoff(Rewind::new(io, buf.freeze())));
        }
        // Wait for more of a request: within the header timeout, and only while not stopping
        // (a stop ends an idle connection at once, and one mid-request at its next answer).
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, io.read_buf(&mut buf)) => r,
            _ = stop.wait_for(|s| *s), if buf.is_empty() => return Ok(End::Closed),
        };
        match read {
            Ok(Ok(0)) | Err(_) => return Ok(End::Closed),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
        if *stop.borrow() && buf.is_empty() {
            return Ok(End::Closed);
        }
    }
}

enum Parsed {
    /// No complete request head yet.
    Partial,
    /// A cache hit: the request took `len` bytes; the answer is `head`, the `Date` line, `body`.
    Hit {
        len: usize,
        head: Bytes,
        body: Option<Bytes>,
        close: bool,
    },
    /// Anything else: hyper's.
    Other,
}

/// What to do with the request at the start of `buf`.
fn answer(app: &App, buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        // Malformed, or too many headers: hyper answers those (400, 431) as it always has.
        Err(_) => return Parsed::Other,
    };
    let head_only = match req.method {
        Some("GET") => false,
        Some("HEAD") => true,
        _ => return Parsed::Other,
    };
    // HTTP/1.0 has other keep-alive rules: hyper's.
    if req.version != Some(1) {
        return Parsed::Other;
    }
    let Some(target) = req.path.filter(|p| p.starts_with('/')) else {
        return Parsed::Other;
    };
    let (path, query) = target
        .split_once('?')
        .map_or((target, None), |(p, q)| (p, Some(q)));
    let (mut accept, mut inm, mut close) = (None, None, false);
    let (mut user_agent, mut referer) = (None, None);
    // As hyper's `HeaderMap::get` and `to_str` read them: the first of a repeated header, ASCII only.
    fn text(v: &[u8]) -> Option<&str> {
        v.is_ascii().then(|| std::str::from_utf8(v).ok()).flatten()
    }
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("accept-encoding") {
            accept = accept.or_else(|| text(h.value));
        } else if name.eq_ignore_ascii_case("if-none-match") {
            inm = inm.or_else(|| text(h.value));
        } else if name.eq_ignore_ascii_case("user-agent") {
            user_agent = user_agent.or(Some(h.value));
        } else if name.eq_ignore_ascii_case("referer") {
            referer = referer.or(Some(h.value));
        } else if name.eq_ignore_ascii_case("connection") {
            let v = std::str::from_utf8(h.value).unwrap_or("");
            if v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")) {
                close = true;
            } else if v
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            {
                return Parsed::Other;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // A GET with a body is legal but odd, and an empty length is malformed: hyper's.
            if h.value.is_empty() || h.value.iter().any(|b| *b != b'0') {
                return Parsed::Other;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("expect")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return Parsed::Other;
        }
    }
    let Some(page) = app.cache.get(path) else {
        return Parsed::Other;
    };
    if page.page_view && !head_only {
        app.views.hit(path, query, user_agent, referer);
    }
    let (head, body) = page.wire(accept, inm);
    Parsed::Hit {
        len,
        head: head.clone(),
        body: if head_only { None } else { body.cloned() },
        close,
    }
}

/// Writes every slice, with as few system calls as the socket allows, and empties `out`.
async fn write_all<S: AsyncWrite + Unpin>(io: &mut S, out: &mut Vec<Bytes>) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let mut slices: Vec<IoSlice<'_>> = out.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let n = io.write_vectored(rest).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, n);
    }
    drop(slices);
    out.clear();
    Ok(())
}

thread_local! {
    /// `date: <IMF-fixdate>\r\n\r\n` and the second it was made for.
    static DATE: RefCell<(u64, Bytes)> = const { RefCell::new((0, Bytes::new())) };
}

/// The `Date` header line and the blank line that ends the head, rebuilt once a second per thread.
fn date_line() -> Bytes {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != secs || d.1.is_empty() {
            *d = (
                secs,
                Bytes::from(format!("date: {}\r\n\r\n", httpdate::fmt_http_date(now))),
            );
        }
        d.1.clone()
    })
}

/// A stream that first yields bytes already read from it: how a connection moves to hyper
/// mid-stream.
pub struct Rewind<S> {
    pre: Bytes,
    inner: S,
}

impl<S> Rewind<S> {
    fn new(inner: S, pre: Bytes) -> Rewind<S> {
        Rewind { pre, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.pre.is_empty() {
            let n = self.pre.len().min(buf.remaining());
            buf.put_slice(&self.pre[..n]);
            self.pre.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
