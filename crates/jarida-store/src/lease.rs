//! A table worked as a queue of leased rows, the one way of claiming work that several processes
//! share: the transactional mail queue (`mail_queue`) and the delivery ledger (`deliveries`) both
//! claim through it.
//!
//! A claim selects due rows with [`Dialect::skip_locked`] and, in the same transaction, stamps them
//! with a lease end and the claim's name (the holder). Work is recorded by its owner only while the
//! holder still matches, so a worker whose lease ran out cannot overwrite the outcome of the one that
//! took the row after it. A worker that dies leaves rows whose lease simply runs out: either the lease
//! end is the row's due time and the row falls due again by itself ([`Returned::DueAgain`]), or the
//! row carries a state and [`LeaseQueue::reclaim`] puts it back.

use crate::{Conn, Db, Dialect, List, StoreError};

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// How a leased row goes back to the queue (given back unattempted, or its lease ran out).
#[derive(Debug, Clone, Copy)]
pub enum Returned {
    /// The lease end is the row's due time: an expired lease makes the row due again by itself, and
    /// a row given back is due at once.
    DueAgain,
    /// The row carries a state: these assignments put it back (they may read the row's columns).
    Set(&'static str),
}

/// The shape of one queue table. Every piece is a `&'static str` written in our code: the SQL built
/// from them never contains a value.
#[derive(Debug, Clone, Copy)]
pub struct LeaseQueue {
    pub table: &'static str,
    /// The alias claims select the table under (and lock, when the claim joins other tables).
    pub alias: &'static str,
    /// The integer column that names a row within its partition.
    pub key: &'static str,
    /// The column that splits the queue into independent parts (`edition_id`), if any: each
    /// statement then works on one part.
    pub partition: Option<&'static str>,
    /// The column holding the lease's end (Unix seconds).
    pub lease_end: &'static str,
    /// The column naming the claim that holds the row.
    pub holder: &'static str,
    /// The condition a row under lease meets (besides its holder).
    pub leased: &'static str,
    /// Further assignments made when a row is claimed (`, state = 'sending'`), starting with a
    /// comma; `$3` is the time of the claim. `attempts` is always counted up.
    pub on_claim: &'static str,
    pub returned: Returned,
}

/// What a claim selects: the columns, any joins, the condition that makes a row due and an order.
/// Placeholders: `$1` is now, `$2` the limit, `$3` the partition; `$4` onwards are the claim's own.
#[derive(Debug, Clone, Copy)]
pub struct Due<'a> {
    pub columns: &'a str,
    pub joins: &'a str,
    pub condition: &'a str,
    /// `ORDER BY …`, or empty: an order sorts every due row of the queue on each claim.
    pub order: &'a str,
}

impl LeaseQueue {
    fn part(&self, qualified: bool, n: usize) -> String {
        match (self.partition, qualified) {
            (Some(p), true) => format!("{}.{p} = ${n} AND ", self.alias),
            (Some(p), false) => format!("{p} = ${n} AND "),
            (None, _) => String::new(),
        }
    }

    /// The text of a claim's `SELECT`: due rows, locked against other claimers.
    pub fn due_sql(&self, dialect: Dialect, due: &Due<'_>) -> String {
        format!(
            "SELECT {} FROM {} {} {} WHERE {}({}) {} LIMIT $2{}",
            due.columns,
            self.table,
            self.alias,
            due.joins,
            self.part(true, 3),
            due.condition,
            due.order,
            dialect.skip_locked(Some(self.alias))
        )
    }

    /// Selects up to `limit` due rows of `partition`, locked against other claimers until the
    /// transaction `c` belongs to ends. `extra` fills the placeholders from `$4` on. Call it inside a
    /// transaction from [`Db::begin`], then [`LeaseQueue::lease`] the rows taken.
    pub async fn select_due<R>(
        &self,
        c: Conn<'_>,
        due: &Due<'_>,
        now: i64,
        limit: i64,
        partition: Option<i64>,
        extra: &[i64],
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = self.due_sql(c.dialect(), due);
        // The same code for each database: the `q_*!` macros cannot bind a list of values.
        macro_rules! fetch {
            ($c:expr) => {{
                let mut q = sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(limit)
                    .bind(partition);
                for x in extra {
                    q = q.bind(*x);
                }
                q.fetch_all(&mut *$c).await?
            }};
        }
        Ok(match c {
            Conn::Sqlite(c) => fetch!(c),
            Conn::Postgres(c) => fetch!(c),
        })
    }

    /// Stamps the rows `keys` of `partition` as held by `holder` until `until`, counting an attempt.
    pub async fn lease(
        &self,
        c: Conn<'_>,
        partition: Option<i64>,
        keys: &[i64],
        holder: &str,
        until: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let list = List::ints(keys);
        let sql = format!(
            "UPDATE {} SET {} = $1, {} = $2, attempts = attempts + 1{} WHERE {}{} IN ({})",
            self.table,
            self.lease_end,
            self.holder,
            self.on_claim,
            self.part(false, 5),
            self.key,
            list.select(c.dialect(), 4)
        );
        crate::q_exec!(
            c,
            sqlx::AssertSqlSafe(sql),
            until,
            holder,
            now,
            list.param(),
            partition
        )
    }

    /// Claims up to `limit` due rows in one transaction: selects them and leases every one to
    /// `holder` until `until`. For a queue that takes every due row it selects; one that first
    /// sorts some out (the delivery ledger) calls [`LeaseQueue::select_due`] and
    /// [`LeaseQueue::lease`] in its own transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim<R>(
        &self,
        db: &Db,
        due: &Due<'_>,
        now: i64,
        limit: i64,
        partition: Option<i64>,
        holder: &str,
        until: i64,
        key: impl Fn(&R) -> i64,
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let mut tx = db.begin().await?;
        let rows: Vec<R> = self
            .select_due(tx.conn(), due, now, limit, partition, &[])
            .await?;
        let keys: Vec<i64> = rows.iter().map(key).collect();
        self.lease(tx.conn(), partition, &keys, holder, until, now)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Moves the lease end of every row `holder` still holds in `partition` to `until`, so that a
    /// slow worker's rows do not look abandoned to the others.
    pub async fn extend(
        &self,
        c: Conn<'_>,
        partition: Option<i64>,
        holder: &str,
        until: i64,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "UPDATE {} SET {} = $1 WHERE {}{} = $2 AND ({})",
            self.table,
            self.lease_end,
            self.part(false, 3),
            self.holder,
            self.leased
        );
        crate::q_exec!(c, sqlx::AssertSqlSafe(sql), until, holder, partition)
    }

    fn returned(&self, now_param: usize) -> String {
        match self.returned {
            Returned::DueAgain => {
                format!("{} = ${now_param}, {} = NULL", self.lease_end, self.holder)
            }
            Returned::Set(s) => s.to_string(),
        }
    }

    /// Gives back rows claimed but not attempted: they return to the queue at once and their
    /// attempt is not counted. Only rows `holder` still holds move.
    pub async fn release(
        &self,
        c: Conn<'_>,
        partition: Option<i64>,
        holder: &str,
        keys: &[i64],
        now: i64,
    ) -> Result<u64, StoreError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let list = List::ints(keys);
        let sql = format!(
            "UPDATE {} SET {}, attempts = attempts - 1 WHERE {}({}) AND {} = $2 AND {} IN ({})",
            self.table,
            self.returned(4),
            self.part(false, 1),
            self.leased,
            self.holder,
            self.key,
            list.select(c.dialect(), 3)
        );
        crate::q_exec!(
            c,
            sqlx::AssertSqlSafe(sql),
            partition,
            holder,
            list.param(),
            now
        )
    }

    /// Puts back the rows whose lease ran out before `now` (their worker died), in the partitions
    /// that `within` (a subquery) lists. With [`Returned::DueAgain`] there is nothing to do: such
    /// rows are due again by themselves.
    pub async fn reclaim(
        &self,
        c: Conn<'_>,
        now: i64,
        within: &'static str,
    ) -> Result<u64, StoreError> {
        let Returned::Set(set) = self.returned else {
            return Ok(0);
        };
        let scope = match self.partition {
            Some(p) => format!("{p} IN ({within}) AND "),
            None => String::new(),
        };
        let sql = format!(
            "UPDATE {} SET {set}, {} = NULL WHERE {scope}({}) AND {} < $1",
            self.table, self.holder, self.leased, self.lease_end
        );
        crate::q_exec!(c, sqlx::AssertSqlSafe(sql), now)
    }
}
