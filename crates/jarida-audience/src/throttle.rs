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
