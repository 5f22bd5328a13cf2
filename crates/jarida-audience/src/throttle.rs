//! Fixed-window rate limits kept in the database, so they hold across several jarida processes.

use jarida_store::{Db, q_one};

use crate::AudienceError;

/// Counts one event for `key` in the current window of `window` seconds; returns the count so far,
/// this one included.
pub async fn hit(db: &Db, key: &str, window: i64, now: i64) -> Result<i64, AudienceError> {
    let start = now - now.rem_euclid(window);
    let mut c = db.acquire().await?;
    let (n,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, \
           window_start = excluded.window_start \
         RETURNING count",
        key,
        start
    )?;
    Ok(n)
}

/// Forgets `key`'s count (an event counted that did not happen after all).
pub async fn forget(db: &Db, key: &str) -> Result<(), AudienceError> {
    let mut c = db.acquire().await?;
    jarida_store::q_exec!(c.conn(), "DELETE FROM rate_limits WHERE key = $1", key)?;
    Ok(())
}

/// Buckets this process has seen go over their limit, and the window in which they did: further
/// requests from them in that window are refused without a database write. The database counter
/// stays the one that holds across processes; this only spares it a flood's writes (a flood from
/// one address would otherwise take SQLite's write lock once per request). Bounded: when full it
/// starts over, which costs at most one more write per bucket.
#[derive(Default)]
pub struct Blocked {
    buckets: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

const BLOCKED_MAX: usize = 10_000;

impl Blocked {
    /// Whether `key` went over its limit in the window that contains `now`.
    pub fn contains(&self, key: &str, window: i64, now: i64) -> bool {
        let start = now - now.rem_euclid(window);
        let b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        b.get(key) == Some(&start)
    }

    pub fn insert(&self, key: &str, window: i64, now: i64) {
        let start = now - now.rem_euclid(window);
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() >= BLOCKED_MAX {
            b.clear();
        }
        b.insert(key.to_string(), start);
    }
}

/// The bucket an address is limited in: an IPv4 address on its own, an IPv6 address by its /64, which
/// is what one subscriber line usually gets (limiting single IPv6 addresses would limit nothing).
pub fn ip_bucket(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        _ => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv6_is_limited_by_its_64() {
        assert_eq!(
            super::ip_bucket("2001:db8:1:2:aaaa::1"),
            super::ip_bucket("2001:db8:1:2:bbbb::9")
        );
        assert_ne!(
            super::ip_bucket("2001:db8:1:2::1"),
            super::ip_bucket("2001:db8:1:3::1")
        );
        assert_eq!(super::ip_bucket("203.0.113.5"), "203.0.113.5");
        assert_eq!(super::ip_bucket("::ffff:203.0.113.5"), "203.0.113.5");
    }
}
