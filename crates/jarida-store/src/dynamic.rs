//! Statements whose conditions are chosen at run time (the admin's reader filters, a segment's
//! readers inside an edition's enrolment), so their values are a list rather than the fixed
//! arguments of the `q_*!` macros.

use crate::{Conn, StoreError};

/// A value bound into such a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Int(i64),
    Text(String),
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(t) => q.bind(t.clone()),
            };
        }
        q
    }};
}

/// The rows of `sql` with `args` bound to `$1`, `$2`, … in order.
pub async fn fetch_all<T>(c: Conn<'_>, sql: &str, args: &[Arg]) -> Result<Vec<T>, StoreError>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    Ok(match c {
        Conn::Sqlite(c) => {
            bind_all!(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)), args)
                .fetch_all(&mut *c)
                .await?
        }
        Conn::Postgres(c) => {
            bind_all!(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)), args)
                .fetch_all(&mut *c)
                .await?
        }
    })
}

/// Runs `sql` with `args` bound in order; the number of rows it changed.
pub async fn execute(c: Conn<'_>, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
    Ok(match c {
        Conn::Sqlite(c) => bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        Conn::Postgres(c) => bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    })
}
