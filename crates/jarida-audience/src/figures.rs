//! Readers over time, for the admin's dashboard: per day, how many signed up, confirmed and left,
//! and the net change; the readers there are now; the share of sign-ups confirmed. Counted from
//! the readers' own records (sign-up and confirmation times, unsubscription events): nothing
//! about their reading is kept or needed.

use jarida_store::{Db, q_all, q_one};
use serde::Serialize;

use crate::AudienceError;

/// One day's movement.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Day {
    /// Days since the Unix epoch, in the newsroom's time zone (see [`over_time`]).
    pub day: i64,
    pub new: i64,
    pub confirmed: i64,
    pub unsubscribed: i64,
    /// Confirmed minus unsubscribed: the change in readers who get the newsletter.
    pub net: i64,
}

/// The dashboard's reader figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReaderFigures {
    pub days: Vec<Day>,
    /// Readers who get the newsletter now.
    pub active: i64,
    /// Sign-ups through the site's forms in the period, and how many of them confirmed.
    pub form_signups: i64,
    pub form_confirmed: i64,
    pub new: i64,
    pub confirmed: i64,
    pub unsubscribed: i64,
}

impl ReaderFigures {
    /// Percent of the period's form sign-ups that confirmed, when there were any.
    pub fn confirmation_rate(&self) -> Option<i64> {
        (self.form_signups > 0).then(|| self.form_confirmed * 100 / self.form_signups)
    }
}

/// The last `days` days up to `now` (unix seconds), days cut at midnight `offset` seconds east of
/// UTC (the newsroom's offset now: a day that crossed a clock change is off by that hour, which a
/// chart of days does not show).
pub async fn over_time(
    db: &Db,
    now: i64,
    offset: i64,
    days: i64,
) -> Result<ReaderFigures, AudienceError> {
    let today = (now + offset).div_euclid(86_400);
    let first = today - days + 1;
    let since = first * 86_400 - offset;
    let mut pc = db.acquire().await?;
    let c = pc.conn();
    let by_day = |col: &str, table: &str, cond: &str| {
        format!(
            "SELECT ({col} + $1) / 86400 AS d, COUNT(*) FROM {table} WHERE {col} >= $2 {cond} GROUP BY ({col} + $1) / 86400"
        )
    };
    let new: Vec<(i64, i64)> = q_all!(
        c,
        (i64, i64),
        jarida_store::sqlx::AssertSqlSafe(by_day("created_at", "subscribers", "")),
        offset,
        since
    )?;
    let mut pc2 = db.acquire().await?;
    let confirmed: Vec<(i64, i64)> = q_all!(
        pc2.conn(),
        (i64, i64),
        jarida_store::sqlx::AssertSqlSafe(by_day(
            "confirmed_at",
            "subscribers",
            "AND confirmed_at IS NOT NULL"
        )),
        offset,
        since
    )?;
    let left: Vec<(i64, i64)> = q_all!(
        pc2.conn(),
        (i64, i64),
        jarida_store::sqlx::AssertSqlSafe(by_day(
            "at",
            "subscriber_events",
            "AND kind = 'unsubscribed'"
        )),
        offset,
        since
    )?;
    let mut out = ReaderFigures {
        days: (first..=today)
            .map(|day| Day {
                day,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut put = |rows: Vec<(i64, i64)>, f: fn(&mut Day) -> &mut i64| {
        for (d, n) in rows {
            if let Some(day) = out
                .days
                .get_mut((d - first) as usize)
                .filter(|_| d >= first)
            {
                *f(day) += n;
            }
        }
    };
    put(new, |d| &mut d.new);
    put(confirmed, |d| &mut d.confirmed);
    put(left, |d| &mut d.unsubscribed);
    for d in &mut out.days {
        d.net = d.confirmed - d.unsubscribed;
        out.new += d.new;
        out.confirmed += d.confirmed;
        out.unsubscribed += d.unsubscribed;
    }
    (out.active,) = q_one!(
        pc2.conn(),
        (i64,),
        "SELECT COUNT(*) FROM subscribers WHERE status = 'active'"
    )?;
    (out.form_signups, out.form_confirmed) = q_one!(
        pc2.conn(),
        (i64, i64),
        "SELECT COUNT(*), COUNT(confirmed_at) FROM subscribers WHERE created_at >= $1 AND source = 'form'",
        since
    )?;
    Ok(out)
}
