//! Page views, counted on the server without tracking anyone: per day, how many times each page
//! was read, which other sites sent readers, and how many visits came from each edition (its links
//! carry `?ref=e<id>`, the same for every reader). No cookie, no script, no address and no
//! per-visitor hash is involved: the web layer adds up requests in memory and writes the sums here
//! about once a minute. Days are the newsroom's (see `day_of`). Sums are cast to BIGINT: PostgreSQL
//! sums BIGINTs as NUMERIC.

use jarida_store::{Db, q_all, q_exec};

use crate::ContentError;

/// The sums of one flush.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub paths: Vec<(String, i64)>,
    pub referrers: Vec<(String, i64)>,
    pub editions: Vec<(i64, i64)>,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.referrers.is_empty() && self.editions.is_empty()
    }
}

/// The day (days since the epoch) of unix time `t` in a zone `offset` seconds east of UTC.
pub fn day_of(t: i64, offset: i64) -> i64 {
    (t + offset).div_euclid(86_400)
}

/// Adds `counts` to day `day`, in one transaction.
pub async fn add(db: &Db, day: i64, counts: &Counts) -> Result<(), ContentError> {
    if counts.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (path, n) in &counts.paths {
        q_exec!(
            tx.conn(),
            "INSERT INTO page_views (day, path, views) VALUES ($1, $2, $3) \
             ON CONFLICT (day, path) DO UPDATE SET views = page_views.views + excluded.views",
            day,
            path,
            *n
        )?;
    }
    for (host, n) in &counts.referrers {
        q_exec!(
            tx.conn(),
            "INSERT INTO referrer_views (day, host, views) VALUES ($1, $2, $3) \
             ON CONFLICT (day, host) DO UPDATE SET views = referrer_views.views + excluded.views",
            day,
            host,
            *n
        )?;
    }
    for (edition, n) in &counts.editions {
        q_exec!(
            tx.conn(),
            "INSERT INTO edition_visits (day, edition_id, views) VALUES ($1, $2, $3) \
             ON CONFLICT (day, edition_id) DO UPDATE SET views = edition_visits.views + excluded.views",
            day,
            *edition,
            *n
        )?;
    }
    tx.commit().await?;
    Ok(())
}

/// Views per day from day `from` on (days without views are left out).
pub async fn per_day(db: &Db, from: i64) -> Result<Vec<(i64, i64)>, ContentError> {
    let mut c = db.acquire().await?;
    Ok(q_all!(
        c.conn(),
        (i64, i64),
        "SELECT day, CAST(SUM(views) AS BIGINT) FROM page_views WHERE day >= $1 GROUP BY day ORDER BY day",
        from
    )?)
}

/// The most read pages from day `from` on.
pub async fn top_pages(db: &Db, from: i64, limit: i64) -> Result<Vec<(String, i64)>, ContentError> {
    let mut c = db.acquire().await?;
    Ok(q_all!(
        c.conn(),
        (String, i64),
        "SELECT path, CAST(SUM(views) AS BIGINT) AS n FROM page_views WHERE day >= $1 GROUP BY path ORDER BY n DESC, path LIMIT $2",
        from,
        limit
    )?)
}

/// The sites that sent the most readers from day `from` on.
pub async fn top_referrers(
    db: &Db,
    from: i64,
    limit: i64,
) -> Result<Vec<(String, i64)>, ContentError> {
    let mut c = db.acquire().await?;
    Ok(q_all!(
        c.conn(),
        (String, i64),
        "SELECT host, CAST(SUM(views) AS BIGINT) AS n FROM referrer_views WHERE day >= $1 GROUP BY host ORDER BY n DESC, host LIMIT $2",
        from,
        limit
    )?)
}

/// Visits that came from edition `id`'s links, all days.
pub async fn from_edition(db: &Db, id: i64) -> Result<i64, ContentError> {
    let mut c = db.acquire().await?;
    let rows: Vec<(i64,)> = q_all!(
        c.conn(),
        (i64,),
        "SELECT CAST(COALESCE(SUM(views), 0) AS BIGINT) FROM edition_visits WHERE edition_id = $1",
        id
    )?;
    Ok(rows.first().map_or(0, |r| r.0))
}
