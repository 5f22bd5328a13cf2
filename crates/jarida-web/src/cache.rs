//! Rendered pages kept in memory with their gzip and brotli bodies and an ETag, so a page is built
//! once per content version and every later request is answered without touching the database.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

/// A finished response body in every encoding we serve.
#[derive(Clone)]
pub struct Cached {
    pub status: StatusCode,
    pub cache_control: HeaderValue,
    etag: String,
    etag_h: HeaderValue,
    etag_br: HeaderValue,
    etag_gz: HeaderValue,
    /// The whole header set of a 200 in each encoding, security headers included: the hot path
    /// clones one map (two allocations) instead of growing an empty one a header at a time.
    headers_h: HeaderMap,
    headers_br: HeaderMap,
    headers_gz: HeaderMap,
    compressible: bool,
    /// A page a reader reads (a 200 in HTML): its GETs count as page views.
    pub(crate) page_view: bool,
    identity: Bytes,
    gzip: Option<Bytes>,
    br: Option<Bytes>,
    /// The same answers as bytes on the wire for the fast path (`crate::fast`): status line and
    /// headers up to, not including, the `Date` line, per encoding, and the 304s.
    wire_h: Bytes,
    wire_gz: Option<Bytes>,
    wire_br: Option<Bytes>,
    wire_304: [Bytes; 3],
}

/// `headers` as HTTP/1.1 header lines after `status_line`.
fn head_bytes(status_line: &str, headers: &HeaderMap, content_length: Option<usize>) -> Bytes {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(status_line.as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = content_length {
        out.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
    }
    Bytes::from(out)
}

fn status_line(status: StatusCode) -> String {
    format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

const MIN_COMPRESS: usize = 512;

impl Cached {
    /// A page with its identity body only; [`Cached::compressed`] adds the other encodings.
    pub fn new(
        status: StatusCode,
        content_type: &'static str,
        cache_control: &'static str,
        body: Vec<u8>,
    ) -> Cached {
        let hash = hex::encode(&Sha256::digest(&body)[..12]);
        let etag = format!("\"{hash}\"");
        let compressible = body.len() >= MIN_COMPRESS
            && (content_type.starts_with("text/")
                || content_type.contains("xml")
                || content_type.contains("json"));
        let hv = |s: String| HeaderValue::from_str(&s).expect("hex etag is a valid header");
        let (etag_h, etag_br, etag_gz) = (
            hv(etag.clone()),
            hv(format!("\"{hash}-br\"")),
            hv(format!("\"{hash}-gz\"")),
        );
        // What a 304 carries (validators, caching, security); a 200 adds its type and encoding.
        let revalidation = |etag: &HeaderValue| {
            let mut h = HeaderMap::with_capacity(12);
            h.insert(header::ETAG, etag.clone());
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            );
            if compressible {
                h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            for (name, value) in crate::SECURITY_HEADERS {
                h.insert(
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            h
        };
        let set = |etag: &HeaderValue, enc: Option<&'static str>| {
            let mut h = revalidation(etag);
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Some(e) = enc {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
            }
            h
        };
        let headers_h = set(&etag_h, None);
        let not_modified = |etag: &HeaderValue| {
            let h = revalidation(etag);
            head_bytes(&status_line(StatusCode::NOT_MODIFIED), &h, None)
        };
        let wire_304 = [
            not_modified(&etag_h),
            not_modified(&etag_gz),
            not_modified(&etag_br),
        ];
        let wire_h = head_bytes(&status_line(status), &headers_h, Some(body.len()));
        Cached {
            status,
            cache_control: HeaderValue::from_static(cache_control),
            headers_h,
            headers_br: set(&etag_br, Some("br")),
            headers_gz: set(&etag_gz, Some("gzip")),
            wire_h,
            wire_gz: None,
            wire_br: None,
            wire_304,
            etag_h,
            etag_br,
            etag_gz,
            etag,
            compressible,
            page_view: status == StatusCode::OK && content_type.starts_with("text/html"),
            identity: Bytes::from(body),
            gzip: None,
            br: None,
        }
    }

    /// Whether gzip and brotli bodies are worth making and not made yet.
    pub fn needs_compression(&self) -> bool {
        self.compressible && self.br.is_none()
    }

    /// The same page with gzip (best) and brotli (quality 9) bodies. Takes milliseconds for a long
    /// article, so the server answers the first request uncompressed and does this off the request path.
    pub fn compressed(&self) -> Cached {
        let body = &self.identity[..];
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 3),
            flate2::Compression::best(),
        );
        gz.write_all(body).expect("writing to memory");
        let gz = gz.finish().expect("writing to memory");
        let mut br = Vec::with_capacity(body.len() / 4);
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 9, 22);
            w.write_all(body).expect("writing to memory");
        }
        let line = status_line(self.status);
        Cached {
            wire_gz: Some(head_bytes(&line, &self.headers_gz, Some(gz.len()))),
            wire_br: Some(head_bytes(&line, &self.headers_br, Some(br.len()))),
            gzip: Some(Bytes::from(gz)),
            br: Some(Bytes::from(br)),
            ..self.clone()
        }
    }

    /// The fast path's answer: the head (up to the `Date` line) and the body, or a 304's head and
    /// no body, chosen as [`Cached::respond`] chooses.
    pub(crate) fn wire(
        &self,
        accept_encoding: Option<&str>,
        if_none_match: Option<&str>,
    ) -> (&Bytes, Option<&Bytes>) {
        let br = self.wire_br.as_ref().zip(self.br.as_ref());
        let gz = self.wire_gz.as_ref().zip(self.gzip.as_ref());
        let (i, head, body) = match (accepted_str(accept_encoding), br, gz) {
            (Enc::Br, Some((h, b)), _) => (2, h, b),
            (Enc::Br | Enc::Gzip, _, Some((h, b))) => (1, h, b),
            _ => (0, &self.wire_h, &self.identity),
        };
        if self.status == StatusCode::OK && if_none_match.is_some_and(|v| self.matches(v)) {
            return (&self.wire_304[i], None);
        }
        (head, Some(body))
    }

    /// Whether `If-None-Match` names this page in any of its encodings.
    fn matches(&self, inm: &str) -> bool {
        let base = &self.etag[1..self.etag.len() - 1];
        inm.split(',').map(str::trim).any(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
            t == "*"
                || t == base
                || t.strip_suffix("-br").or_else(|| t.strip_suffix("-gz")) == Some(base)
        })
    }

    /// The response for a request with these headers: 304, or the body in the best encoding the client
    /// accepts.
    pub fn respond(&self, req: &HeaderMap) -> Response {
        let (body, etag, headers) = match accepted(req) {
            Enc::Br if self.br.is_some() => (
                self.br.clone().unwrap_or_default(),
                &self.etag_br,
                &self.headers_br,
            ),
            Enc::Br | Enc::Gzip if self.gzip.is_some() => (
                self.gzip.clone().unwrap_or_default(),
                &self.etag_gz,
                &self.headers_gz,
            ),
            _ => (self.identity.clone(), &self.etag_h, &self.headers_h),
        };
        let not_modified = self.status == StatusCode::OK
            && req
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| self.matches(v));
        if !not_modified {
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = self.status;
            *r.headers_mut() = headers.clone();
            return r;
        }
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        let h = r.headers_mut();
        h.insert(header::ETAG, etag.clone());
        h.insert(header::CACHE_CONTROL, self.cache_control.clone());
        if self.compressible {
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        r
    }
}

enum Enc {
    Br,
    Gzip,
    Identity,
}

/// The best of brotli and gzip that `Accept-Encoding` allows (a coding with `q=0` is refused).
fn accepted(req: &HeaderMap) -> Enc {
    accepted_str(
        req.get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    )
}

fn accepted_str(accept_encoding: Option<&str>) -> Enc {
    let Some(ae) = accept_encoding else {
        return Enc::Identity;
    };
    let (mut br, mut gz) = (false, false);
    for part in ae.split(',') {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        if q_zero {
            continue;
        }
        match name {
            "br" => br = true,
            "gzip" | "x-gzip" => gz = true,
            "*" => {
                br = true;
                gz = true;
            }
            _ => {}
        }
    }
    if br {
        Enc::Br
    } else if gz {
        Enc::Gzip
    } else {
        Enc::Identity
    }
}

/// Pages by request path, valid for one content version, bounded by count and by bytes.
///
/// When a bound is reached the least recently used pages go (down to 90% of the bound, so eviction
/// runs once per many insertions), never the whole cache: a crawler of made-up URLs cannot evict
/// the pages readers actually ask for. Recency is a tick stamped on an entry under the read lock, so
/// a hit stays a shared lock and two relaxed atomics (an LRU list would need the write lock on every
/// hit; the crates that offer byte-weighted caches either do that or evict by frequency, and this is
/// the forty lines we need).
pub struct PageCache {
    inner: RwLock<Inner>,
    /// The content version the pages were built from.
    content: AtomicI64,
    /// Moves whenever the pages are dropped (new content, or new settings): a page rendered before
    /// a drop is not kept after it.
    version: AtomicI64,
    /// Advances on every insertion; a hit stamps its entry with the current value.
    tick: AtomicU64,
    max_entries: usize,
    max_bytes: usize,
}

struct Inner {
    pages: HashMap<String, Entry>,
    bytes: usize,
}

struct Entry {
    page: Arc<Cached>,
    used: AtomicU64,
    size: usize,
}

impl Cached {
    /// Memory this page holds, roughly: its bodies and headers.
    pub fn size(&self) -> usize {
        self.identity.len()
            + self.gzip.as_ref().map_or(0, |b| b.len())
            + self.br.as_ref().map_or(0, |b| b.len())
            + self.wire_h.len()
            + self.wire_gz.as_ref().map_or(0, |b| b.len())
            + self.wire_br.as_ref().map_or(0, |b| b.len())
            + self.wire_304.iter().map(|b| b.len()).sum::<usize>()
            + 3 * 1024
    }
}

impl PageCache {
    pub fn new(version: i64, max_entries: usize, max_bytes: usize) -> PageCache {
        PageCache {
            inner: RwLock::new(Inner {
                pages: HashMap::new(),
                bytes: 0,
            }),
            content: AtomicI64::new(version),
            version: AtomicI64::new(version),
            tick: AtomicU64::new(0),
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    pub fn get(&self, path: &str) -> Option<Arc<Cached>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let e = inner.pages.get(path)?;
        e.used
            .store(self.tick.load(Ordering::Relaxed), Ordering::Relaxed);
        Some(e.page.clone())
    }

    /// Stores a page rendered while the content was at `version`; a page rendered from content that
    /// has since changed is not kept, nor one larger than a quarter of the byte bound.
    pub fn put(&self, path: String, version: i64, page: Arc<Cached>) {
        let size = page.size() + path.len();
        if size > self.max_bytes / 4 {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if version != self.version.load(Ordering::Acquire) {
            return;
        }
        let tick = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Entry {
            page,
            used: AtomicU64::new(tick),
            size,
        };
        if let Some(old) = inner.pages.insert(path, entry) {
            inner.bytes -= old.size;
        }
        inner.bytes += size;
        if inner.pages.len() > self.max_entries || inner.bytes > self.max_bytes {
            let (entries, bytes) = ((self.max_entries * 9 / 10).max(1), self.max_bytes / 10 * 9);
            evict(&mut inner, entries, bytes);
        }
    }

    /// Pages held and the bytes they take.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (inner.pages.len(), inner.bytes)
    }

    /// What a page rendered now is stored under ([`PageCache::put`]).
    pub fn version(&self) -> i64 {
        self.version.load(Ordering::Acquire)
    }

    /// Moves to a new content version, dropping every page built from the old one.
    pub fn set_version(&self, version: i64) -> bool {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if self.content.swap(version, Ordering::AcqRel) == version {
            return false;
        }
        Self::drop_all(&mut inner, &self.version);
        true
    }

    /// Drops every page (the settings they show changed); pages being rendered meanwhile are not kept.
    pub fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        Self::drop_all(&mut inner, &self.version);
    }

    fn drop_all(inner: &mut Inner, version: &AtomicI64) {
        version.fetch_add(1, Ordering::AcqRel);
        inner.pages.clear();
        inner.bytes = 0;
    }
}

/// Drops the least recently used pages until at most `entries` pages of at most `bytes` remain.
fn evict(inner: &mut Inner, entries: usize, bytes: usize) {
    let mut by_age: Vec<(u64, usize, String)> = inner
        .pages
        .iter()
        .map(|(k, e)| (e.used.load(Ordering::Relaxed), e.size, k.clone()))
        .collect();
    by_age.sort_unstable_by_key(|(used, _, _)| *used);
    let (mut n, mut b) = (inner.pages.len(), inner.bytes);
    for (_, size, key) in by_age {
        if n <= entries && b <= bytes {
            break;
        }
        inner.pages.remove(&key);
        n -= 1;
        b -= size;
    }
    inner.bytes = b;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn encodings_and_etags() {
        let c = Cached::new(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-cache",
            "<p>hello</p>".repeat(100).into_bytes(),
        );
        assert!(c.needs_compression());
        let r = c.respond(&req(&[("accept-encoding", "br")]));
        assert!(
            r.headers().get("content-encoding").is_none(),
            "identity until compressed"
        );
        assert_eq!(r.headers()["vary"], "accept-encoding");
        let c = c.compressed();
        assert!(!c.needs_compression());
        let r = c.respond(&req(&[("accept-encoding", "gzip, deflate, br")]));
        assert_eq!(r.headers()["content-encoding"], "br");
        let r = c.respond(&req(&[("accept-encoding", "gzip, br;q=0")]));
        assert_eq!(r.headers()["content-encoding"], "gzip");
        let r = c.respond(&req(&[]));
        assert!(r.headers().get("content-encoding").is_none());
        let tag = r.headers()["etag"].to_str().unwrap().to_string();
        let r = c.respond(&req(&[("if-none-match", &tag)]));
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let br_tag = c.respond(&req(&[("accept-encoding", "br")])).headers()["etag"]
            .to_str()
            .unwrap()
            .to_string();
        assert_ne!(br_tag, tag);
        let r = c.respond(&req(&[
            ("if-none-match", &br_tag),
            ("accept-encoding", "br"),
        ]));
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = c.respond(&req(&[("if-none-match", "\"other\"")]));
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn stale_pages_are_not_kept() {
        let cache = PageCache::new(1, 10, 1 << 20);
        let page = Arc::new(Cached::new(
            StatusCode::OK,
            "text/plain",
            "no-cache",
            b"x".to_vec(),
        ));
        cache.put("/a".into(), 1, page.clone());
        assert!(cache.get("/a").is_some());
        assert!(cache.set_version(2));
        assert!(cache.get("/a").is_none());
        cache.put("/a".into(), 1, page.clone());
        assert!(cache.get("/a").is_none());
        assert!(
            !cache.set_version(2),
            "the same content version keeps the pages"
        );
        let v = cache.version();
        cache.put("/a".into(), v, page.clone());
        cache.clear();
        assert!(cache.get("/a").is_none());
        cache.put("/a".into(), v, page);
        assert!(cache.get("/a").is_none(), "rendered before the clear");
    }

    fn page(n: usize) -> Arc<Cached> {
        Arc::new(Cached::new(
            StatusCode::OK,
            "text/plain",
            "no-cache",
            vec![b'x'; n],
        ))
    }

    #[test]
    fn a_flood_evicts_the_least_recently_used_not_everything() {
        let cache = PageCache::new(1, 100, 1 << 30);
        cache.put("/en/".into(), 1, page(100));
        cache.put("/en/story".into(), 1, page(100));
        for i in 0..1_000 {
            // Readers keep reading the real pages while a crawler invents URLs.
            assert!(cache.get("/en/").is_some(), "evicted at {i}");
            assert!(cache.get("/en/story").is_some(), "evicted at {i}");
            cache.put(format!("/en/archive/{i}/01/"), 1, page(100));
        }
        let (n, _) = cache.usage();
        assert!(n <= 100, "{n} pages held");
        assert!(
            cache.get("/en/archive/999/01/").is_some(),
            "the newest stays"
        );
        assert!(cache.get("/en/archive/0/01/").is_none(), "the oldest went");
    }

    #[test]
    fn bounded_by_bytes() {
        let cache = PageCache::new(1, 1_000_000, 1_000_000);
        for i in 0..1_000 {
            cache.put(format!("/p/{i}"), 1, page(10_000));
        }
        let (n, bytes) = cache.usage();
        assert!(bytes <= 1_000_000, "{bytes} bytes held");
        assert!(n > 10 && n < 100, "{n} pages held");
        cache.put("/huge".into(), 1, page(600_000));
        assert!(
            cache.get("/huge").is_none(),
            "one page may not take the cache"
        );
        // Replacing a page (its compressed twin) accounts for the old size.
        let before = cache.usage().1;
        cache.put("/p/999".into(), 1, page(10_000));
        assert_eq!(cache.usage().1, before);
    }
}
