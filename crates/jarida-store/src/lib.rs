//! Storage plumbing shared by every domain crate: one [`Db`] handle that holds either a SQLite or a
//! PostgreSQL pool, the schema migrations of each, the handful of statements whose text differs
//! between the two dialects ([`Dialect`], [`List`]), and the one way of claiming work from a queue
//! table that several processes share ([`LeaseQueue`]).
//!
//! Domain crates write one SQL text per query (`$1`-style placeholders, which SQLite accepts too) and run
//! it through the `q_*!` macros below, which expand to one arm per database. Both databases run the whole
//! test suite, so a query either of them rejects fails CI.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use sqlx;

mod dialect;
pub mod dynamic;
mod lease;
pub mod settings;

pub use dialect::{Dialect, List};
pub use lease::{Due, LeaseQueue, Returned};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database_url {url:?} is not understood: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// A database handle: cheap to clone, shared by the whole process.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One connection, either checked out of the pool or inside a transaction.
pub enum Conn<'c> {
    Sqlite(&'c mut sqlx::SqliteConnection),
    Postgres(&'c mut sqlx::PgConnection),
}

/// A pooled connection held for several statements.
pub enum PoolConn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Conn<'_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Makes this SQLite connection zero what it deletes, even whole pages it frees (`ON`), or only
    /// what costs no extra I/O (`FAST`, the pool's default). Deleting a reader's data (an erasure,
    /// a sent email's row) switches it on around the delete: with it on for every write, imports
    /// and sends ran 10-15% slower. PostgreSQL: nothing to do.
    pub async fn secure_delete(&mut self, on: bool) -> Result<(), StoreError> {
        if let Conn::Sqlite(c) = self {
            let sql = if on {
                "PRAGMA secure_delete = ON"
            } else {
                "PRAGMA secure_delete = FAST"
            };
            sqlx::query(sql).execute(&mut **c).await?;
        }
        Ok(())
    }
}

impl PoolConn {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PoolConn::Sqlite(c) => Conn::Sqlite(c),
            PoolConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t) => Conn::Sqlite(t),
            Tx::Postgres(t) => Conn::Postgres(t),
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Opens (and for SQLite, creates) the database named by `url`: `sqlite://PATH` or
    /// `postgres://…`. SQLite runs in WAL mode with a busy timeout so readers never block the writer.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
                url: redact(url),
                reason: e.to_string(),
            })?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .map_err(StoreError::Connect)?;
            Ok(Db::Postgres(pool))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Self::open_sqlite(Path::new(path)).await
        } else {
            Err(StoreError::BadUrl {
                url: redact(url),
                reason: "expected sqlite://PATH or postgres://USER@HOST/DB".into(),
            })
        }
    }

    pub async fn open_sqlite(path: &Path) -> Result<Db, StoreError> {
        // The file holds every reader's address: created readable by the owner only (SQLite gives
        // its -wal and -shm files the same mode).
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| StoreError::Connect(sqlx::Error::Io(e)))?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Deleted content is overwritten with zeros where that costs no extra I/O; deletions
            // of readers' data switch to full zeroing (`Conn::secure_delete`), so an erased
            // reader's address does not linger in free pages of the file either.
            .pragma("secure_delete", "fast")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(opts)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Db::Sqlite(pool))
    }

    /// After an erasure: copies the write-ahead log into the database file and truncates it, so
    /// the log's older page images (which still hold what was deleted) are gone from disk too.
    /// Best effort: a reader holding an old snapshot can keep the log from being reset, and the
    /// next checkpoint does it. PostgreSQL has nothing to do here (its WAL is the server's).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let Db::Sqlite(p) = self else {
            return Ok(());
        };
        // A reader holding an old snapshot makes the checkpoint report "busy" in its result row
        // (not as an error): try again for a moment.
        for _ in 0..20 {
            let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(p)
                .await?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(StoreError::Sql(sqlx::Error::Protocol(
            "the write-ahead log stayed busy; it is truncated at the next checkpoint".into(),
        )))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Brings the schema up to date. Each dialect has its own migration folder because DDL differs
    /// (identity columns, types); the data model is the same.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Db::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub async fn acquire(&self) -> Result<PoolConn, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => PoolConn::Sqlite(p.acquire().await?),
            Db::Postgres(p) => PoolConn::Postgres(p.acquire().await?),
        })
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
            // writes can fail with SQLITE_BUSY when another writer got in between.
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// Hides the password of a URL before it goes into an error message or a log line.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Rows of `$ty` (which derives `sqlx::FromRow`) from one SQL text on either database.
#[macro_export]
macro_rules! q_all {
    ($conn:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $conn {
            $crate::Conn::Sqlite(c) => $crate::sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_all(&mut *c).await.map_err($crate::StoreError::from),
            $crate::Conn::Postgres(c) => $crate::sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_all(&mut *c).await.map_err($crate::StoreError::from),
        }
    };
}

/// At most one row of `$ty`.
#[macro_export]
macro_rules! q_opt {
    ($conn:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $conn {
            $crate::Conn::Sqlite(c) => $crate::sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_optional(&mut *c).await.map_err($crate::StoreError::from),
            $crate::Conn::Postgres(c) => $crate::sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_optional(&mut *c).await.map_err($crate::StoreError::from),
        }
    };
}

/// Exactly one row of `$ty` (use a tuple such as `(i64,)` for a single scalar).
#[macro_export]
macro_rules! q_one {
    ($conn:expr, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $conn {
            $crate::Conn::Sqlite(c) => $crate::sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_one(&mut *c).await.map_err($crate::StoreError::from),
            $crate::Conn::Postgres(c) => $crate::sqlx::query_as::<_, $ty>($sql)$(.bind($arg))*.fetch_one(&mut *c).await.map_err($crate::StoreError::from),
        }
    };
}

/// A statement without result rows; evaluates to the number of rows affected.
///
/// Every `q_*!` macro evaluates to a `Result<_, StoreError>`: domain crates convert one store
/// error, not sqlx's as well.
#[macro_export]
macro_rules! q_exec {
    ($conn:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $conn {
            $crate::Conn::Sqlite(c) => $crate::sqlx::query($sql)$(.bind($arg))*.execute(&mut *c).await.map(|r| r.rows_affected()).map_err($crate::StoreError::from),
            $crate::Conn::Postgres(c) => $crate::sqlx::query($sql)$(.bind($arg))*.execute(&mut *c).await.map(|r| r.rows_affected()).map_err($crate::StoreError::from),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_password_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }

    #[tokio::test]
    async fn sqlite_accepts_dollar_placeholders() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("t.db")).await.unwrap();
        db.migrate().await.unwrap();
        let mut c = db.acquire().await.unwrap();
        let (n,): (i64,) = q_one!(c.conn(), (i64,), "SELECT $1 + $2", 2_i64, 3_i64).unwrap();
        assert_eq!(n, 5);
    }
}
