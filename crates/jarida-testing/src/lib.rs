//! Test support shared by the crates' tests: a database of one's own for each test, SQLite in a
//! temporary folder by default, or a fresh PostgreSQL database when `JARIDA_TEST_DATABASE_URL` names
//! a server (`scripts/test` runs the whole suite both ways). A URL that is set but unreachable fails
//! the test loudly: a test that needs a missing tool fails, it never skips.
//!
//! Only ever a dev-dependency (`publish = false`).

// Test support: a failed set-up step panics with its cause, which is what a test wants.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use jarida_store::Db;

/// The variable naming the PostgreSQL server (and a database on it to connect to) for tests.
pub const DATABASE_URL_VAR: &str = "JARIDA_TEST_DATABASE_URL";

/// A database for one test: its URL, and on PostgreSQL the database created for it, dropped when
/// this goes.
pub struct TestDb {
    pub url: String,
    admin: Option<(String, String)>,
}

fn unique(prefix: &str) -> String {
    use rand::RngCore;
    format!("{prefix}{:016x}", rand::rng().next_u64())
}

impl TestDb {
    /// Creates the database: on PostgreSQL when [`DATABASE_URL_VAR`] is set (panicking if the
    /// server cannot be reached), else a SQLite file `jarida.db` in `dir`, which the caller keeps.
    pub async fn create(dir: &Path) -> TestDb {
        match std::env::var(DATABASE_URL_VAR) {
            Ok(admin) if !admin.is_empty() => {
                let name = unique("jarida_test_");
                {
                    use jarida_store::sqlx::{Connection, Executor};
                    let mut c = jarida_store::sqlx::PgConnection::connect(&admin)
                        .await
                        .unwrap_or_else(|e| {
                            panic!("{DATABASE_URL_VAR} is set but unreachable: {e}")
                        });
                    c.execute(jarida_store::sqlx::AssertSqlSafe(format!(
                        "CREATE DATABASE {name}"
                    )))
                    .await
                    .expect("create test database");
                }
                let url = match admin.rfind('/') {
                    Some(i) if admin[..i].contains("://") && i > admin.find("://").unwrap() + 2 => {
                        let rest = &admin[i + 1..];
                        let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
                        format!("{}/{name}{query}", &admin[..i])
                    }
                    _ => panic!("{DATABASE_URL_VAR} must name a database: {admin}"),
                };
                TestDb {
                    url,
                    admin: Some((admin, name)),
                }
            }
            _ => TestDb {
                url: format!("sqlite://{}", dir.join("jarida.db").display()),
                admin: None,
            },
        }
    }

    /// [`TestDb::create`] for a test that drives its own runtime.
    pub fn new(rt: &tokio::runtime::Runtime, dir: &Path) -> TestDb {
        rt.block_on(TestDb::create(dir))
    }

    pub fn is_postgres(&self) -> bool {
        self.admin.is_some()
    }

    /// Connects to the database and brings its schema up to date.
    pub async fn open(&self) -> Db {
        let db = Db::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot open the test database: {e}"));
        db.migrate().await.expect("migrate the test database");
        db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.admin.take() {
            // Best effort, on a thread of its own so that it works inside and outside a runtime:
            // `scripts/test` also sweeps leftovers before each run.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    use jarida_store::sqlx::{Connection, Executor};
                    let mut c = jarida_store::sqlx::PgConnection::connect(&admin)
                        .await
                        .ok()?;
                    c.execute(jarida_store::sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

/// A fresh, migrated database for one test, with the folder it lives in. Keep it alive for the
/// whole test: dropping it closes the pool, then drops the database (PostgreSQL) or the folder.
pub struct Fresh {
    pub db: Db,
    // Dropped in this order: the pool before its database, the database before its folder.
    test_db: TestDb,
    dir: tempfile::TempDir,
}

impl Fresh {
    pub fn is_postgres(&self) -> bool {
        self.test_db.is_postgres()
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// A database of the test's own, migrated: see the crate's documentation for which one.
pub async fn fresh_db() -> Fresh {
    let dir = tempfile::tempdir().expect("temporary folder");
    let test_db = TestDb::create(dir.path()).await;
    let db = test_db.open().await;
    Fresh { db, test_db, dir }
}
