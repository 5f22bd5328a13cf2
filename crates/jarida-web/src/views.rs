//! Counting page views on the server, without tracking anyone: a GET of a cached HTML page by
//! something that is not a bot adds one to its path, to the other site it came from (the
//! `Referer`'s host, never the full address) and to the edition whose link it followed (`?ref=e12`,
//! the same for every reader). Nothing is set on the reader, nothing is read from them but those
//! two headers, and nothing of them is kept: the sums stay in memory and [`flusher`] writes them
//! to the database about once a minute (`jarida_content::views`). A process stopped between two
//! flushes loses the last minute's counts, never more.
//!
//! The hot path pays a bot check (one pass over the User-Agent) and a short lock on one of
//! several shards; a path is allocated only the first time it is seen between two flushes.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use aho_corasick::AhoCorasick;

use crate::AppRef;

/// Marks in a User-Agent of what is not a person reading: crawlers, link previews, monitors,
/// command-line clients and automated browsers. A request without a browser's User-Agent is not
/// counted either.
const BOT_MARKS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "fetch",
    "monitor",
    "scan",
    "curl",
    "wget",
    "python",
    "go-http",
    "java/",
    "okhttp",
    "headless",
    "lighthouse",
    "facebookexternalhit",
    "embedly",
    "feed",
    "rss",
    "http-client",
    "libwww",
    "ruby",
    "node-fetch",
    "axios",
];

static BOTS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(BOT_MARKS)
        .expect("fixed patterns build")
});

/// Whether a User-Agent is a person's browser, as far as one can tell: every browser's starts
/// with `Mozilla/` (or old Opera's `Opera/`), and a crawler that borrows it names itself.
pub fn is_reader(user_agent: Option<&[u8]>) -> bool {
    match user_agent {
        Some(ua) if ua.starts_with(b"Mozilla/") || ua.starts_with(b"Opera/") => !BOTS.is_match(ua),
        _ => false,
    }
}

/// The host of a `Referer`, lower case without `www.`, when it is another site's.
fn referrer_host<'a>(referer: &'a [u8], own_host: &str) -> Option<&'a str> {
    let s = std::str::from_utf8(referer).ok()?;
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?;
    let host = match host.get(..4) {
        Some(w) if w.eq_ignore_ascii_case("www.") => &host[4..],
        _ => host,
    };
    if host.is_empty()
        || host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        || host.eq_ignore_ascii_case(own_host)
    {
        return None;
    }
    Some(host)
}

/// The edition a `?ref=e<id>` query names.
fn edition_ref(query: &str) -> Option<i64> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("ref=e"))
        .and_then(|id| id.parse().ok())
        .filter(|id| *id > 0)
}

const SHARDS: usize = 8;
/// Distinct referring hosts kept between two flushes; past it, new hosts are not counted (a
/// client sending made-up referrers must not grow memory).
const MAX_REFERRERS: usize = 10_000;

/// The counts since the last flush.
pub struct Views {
    paths: [Mutex<HashMap<Box<str>, i64>>; SHARDS],
    referrers: Mutex<HashMap<Box<str>, i64>>,
    editions: Mutex<HashMap<i64, i64>>,
    /// This site's host, whose referrers are internal navigation.
    own_host: String,
}

fn shard_of(path: &str) -> usize {
    // FNV-1a over a few bytes: cheap, and spreads paths well enough over eight locks.
    let mut h: u32 = 0x811c_9dc5;
    for b in path.bytes().rev().take(16) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

impl Views {
    pub fn new(base_url: &str) -> Views {
        let own_host = base_url
            .split_once("://")
            .map_or(base_url, |(_, r)| r)
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .trim_start_matches("www.")
            .to_ascii_lowercase();
        Views {
            paths: Default::default(),
            referrers: Default::default(),
            editions: Default::default(),
            own_host,
        }
    }

    /// One GET of the page at `path`.
    pub fn hit(
        &self,
        path: &str,
        query: Option<&str>,
        user_agent: Option<&[u8]>,
        referer: Option<&[u8]>,
    ) {
        if !is_reader(user_agent) {
            return;
        }
        {
            let mut m = self.paths[shard_of(path)]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match m.get_mut(path) {
                Some(n) => *n += 1,
                None => {
                    m.insert(path.into(), 1);
                }
            }
        }
        if let Some(host) = referer.and_then(|r| referrer_host(r, &self.own_host)) {
            let host = host.to_ascii_lowercase();
            let mut m = self.referrers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = m.get_mut(host.as_str()) {
                *n += 1;
            } else if m.len() < MAX_REFERRERS {
                m.insert(host.into(), 1);
            }
        }
        if let Some(e) = query.and_then(edition_ref) {
            let mut m = self.editions.lock().unwrap_or_else(|e| e.into_inner());
            if m.len() < MAX_REFERRERS || m.contains_key(&e) {
                *m.entry(e).or_default() += 1;
            }
        }
    }

    /// Takes the counts so far, leaving zero.
    pub fn drain(&self) -> jarida_content::views::Counts {
        let mut out = jarida_content::views::Counts::default();
        for shard in &self.paths {
            let m = std::mem::take(&mut *shard.lock().unwrap_or_else(|e| e.into_inner()));
            out.paths
                .extend(m.into_iter().map(|(k, v)| (k.into_string(), v)));
        }
        let m = std::mem::take(&mut *self.referrers.lock().unwrap_or_else(|e| e.into_inner()));
        out.referrers = m.into_iter().map(|(k, v)| (k.into_string(), v)).collect();
        let m = std::mem::take(&mut *self.editions.lock().unwrap_or_else(|e| e.into_inner()));
        out.editions = m.into_iter().collect();
        out
    }

    /// Puts counts back (a flush that failed), to go with the next one.
    fn restore(&self, c: jarida_content::views::Counts) {
        for (p, n) in c.paths {
            *self.paths[shard_of(&p)]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(p.into())
                .or_default() += n;
        }
        let mut m = self.referrers.lock().unwrap_or_else(|e| e.into_inner());
        for (h, n) in c.referrers {
            *m.entry(h.into()).or_default() += n;
        }
        drop(m);
        let mut m = self.editions.lock().unwrap_or_else(|e| e.into_inner());
        for (e, n) in c.editions {
            *m.entry(e).or_default() += n;
        }
    }
}

/// Writes the counts to the database.
pub async fn flush(app: &crate::App) {
    let counts = app.views.drain();
    if counts.is_empty() {
        return;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let offset = jiff::Timestamp::from_second(now)
        .map(|t| i64::from(app.cfg.timezone.to_offset(t).seconds()))
        .unwrap_or(0);
    let day = jarida_content::views::day_of(now, offset);
    if let Err(e) = jarida_content::views::add(&app.db, day, &counts).await {
        tracing::warn!(error = %e, "writing page views; kept for the next flush");
        app.views.restore(counts);
    }
}

/// Flushes the counts every `every`, until dropped.
pub async fn flusher(app: AppRef, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        flush(&app).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &[u8] =
        b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

    #[test]
    fn bots_and_clients_without_a_user_agent_are_left_out() {
        assert!(is_reader(Some(FIREFOX)));
        assert!(is_reader(Some(
            b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Version/18.1 Mobile/15E148 Safari/604.1"
        )));
        for ua in [
            &b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"[..],
            b"curl/8.5.0",
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36",
            b"facebookexternalhit/1.1",
            b"python-requests/2.32",
            b"ureq/3.0",
            b"Mozilla/5.0 (compatible; bingbot/2.0)",
            b"",
        ] {
            assert!(!is_reader(Some(ua)), "{}", String::from_utf8_lossy(ua));
        }
        assert!(!is_reader(None));
    }

    #[test]
    fn counts_pages_other_sites_and_editions_then_drains() {
        let v = Views::new("https://www.jarida.example");
        v.hit(
            "/en/water",
            None,
            Some(FIREFOX),
            Some(b"https://news.other.example/story?id=1"),
        );
        v.hit(
            "/en/water",
            Some("ref=e12"),
            Some(FIREFOX),
            Some(b"https://jarida.example/en/"),
        );
        v.hit("/en/water", Some("x=1&ref=e12"), Some(FIREFOX), None);
        v.hit(
            "/ar/",
            None,
            Some(FIREFOX),
            Some(b"https://WWW.Search.Example:443/"),
        );
        v.hit(
            "/ar/",
            None,
            Some(b"Googlebot/2.1 (+http://www.google.com/bot.html)"),
            None,
        );
        v.hit(
            "/ar/",
            Some("ref=evil"),
            Some(FIREFOX),
            Some(b"javascript:alert(1)"),
        );
        let mut c = v.drain();
        c.paths.sort();
        c.referrers.sort();
        assert_eq!(c.paths, vec![("/ar/".into(), 2), ("/en/water".into(), 3)]);
        assert_eq!(
            c.referrers,
            vec![
                ("news.other.example".into(), 1),
                ("search.example".into(), 1)
            ],
            "our own site is not a referrer; hosts only"
        );
        assert_eq!(c.editions, vec![(12, 2)]);
        assert!(v.drain().is_empty(), "drained");
        v.restore(c.clone());
        let mut again = v.drain();
        again.paths.sort();
        again.referrers.sort();
        assert_eq!(again, c, "a failed flush's counts come back");
    }
}
