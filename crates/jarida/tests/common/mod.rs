//! Test harness: each test gets the real server on a random port, a temporary data folder and a
//! database of its own — SQLite by default, a fresh PostgreSQL database when
//! `JARIDA_TEST_DATABASE_URL` is set.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jarida::config::Config;
use jarida_store::Db;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/site")
}

/// A database for one test; a PostgreSQL one is dropped when the test ends.
pub struct TestDb {
    pub url: String,
    admin: Option<(String, String)>,
}

fn unique(prefix: &str) -> String {
    use rand::RngCore;
    format!("{prefix}{:016x}", rand::rng().next_u64())
}

impl TestDb {
    pub fn new(rt: &tokio::runtime::Runtime, data_dir: &Path) -> TestDb {
        match std::env::var("JARIDA_TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let name = unique("jarida_test_");
                rt.block_on(async {
                    use jarida_store::sqlx::{Connection, Executor};
                    let mut c = jarida_store::sqlx::PgConnection::connect(&admin)
                        .await
                        .unwrap_or_else(|e| {
                            panic!("JARIDA_TEST_DATABASE_URL is set but unreachable: {e}")
                        });
                    c.execute(jarida_store::sqlx::AssertSqlSafe(format!(
                        "CREATE DATABASE {name}"
                    )))
                    .await
                    .expect("create test database");
                });
                let url = match admin.rfind('/') {
                    Some(i) if admin[..i].contains("://") && i > admin.find("://").unwrap() + 2 => {
                        let rest = &admin[i + 1..];
                        let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
                        format!("{}/{name}{query}", &admin[..i])
                    }
                    _ => panic!("JARIDA_TEST_DATABASE_URL must name a database: {admin}"),
                };
                TestDb {
                    url,
                    admin: Some((admin, name)),
                }
            }
            _ => TestDb {
                url: format!("sqlite://{}", data_dir.join("jarida.db").display()),
                admin: None,
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.admin.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.admin.take() {
            // Best effort: the test script also sweeps leftovers before each run.
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

/// The running application of one test.
pub struct TestApp {
    pub rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pub cfg: Config,
    pub base: String,
    pub setup_url: Option<String>,
    pub app: jarida_web::AppRef,
    pub db: Db,
    pub agent: ureq::Agent,
    // Dropped last: the server's pool must close before the database goes.
    pub test_db: TestDb,
}

pub fn config_for(dir: &Path, db_url: &str) -> Config {
    let mut cfg = Config {
        data_dir: dir.join("data"),
        listen: "127.0.0.1:0".into(),
        database_url: db_url.to_string(),
        ..Default::default()
    };
    cfg.cache.refresh_seconds = 3600; // tests call refresh themselves
    cfg.support.providers = vec![jarida_web::Provider {
        name: "Open Collective".into(),
        url: "https://opencollective.com/example".into(),
        note: String::new(),
    }];
    cfg.support.bank_details = "IBAN PS92 0000 0000 0000 0000 0000 000".into();
    cfg
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .build()
        .into()
}

impl TestApp {
    pub fn spawn() -> TestApp {
        Self::spawn_with(|_| {})
    }

    pub fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        static LOG: OnceLock<()> = OnceLock::new();
        LOG.get_or_init(|| {
            if std::env::var("TEST_LOG").is_ok() {
                let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
            }
        });
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let test_db = TestDb::new(&rt, dir.path());
        let mut cfg = config_for(dir.path(), &test_db.url);
        tweak(&mut cfg);
        let running = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            jarida::start(&cfg, listener).await.expect("app starts")
        });
        let base = format!("http://{}", running.addr);
        let db = running.app.db.clone();
        TestApp {
            rt,
            dir,
            cfg,
            base,
            setup_url: running.setup_url,
            app: running.app,
            db,
            agent: agent(),
            test_db,
        }
    }

    /// Imports a folder and brings the server's cache up to date, as the refresher would.
    pub fn import(&self, dir: &Path) -> jarida_content::folder::ImportReport {
        let report = self
            .rt
            .block_on(jarida_content::folder::import(
                &self.db,
                dir,
                &self.cfg.media_dir(),
                time::OffsetDateTime::now_utc(),
                |_, _, _| {},
            ))
            .expect("import runs");
        self.refresh();
        report
    }

    pub fn refresh(&self) {
        self.rt
            .block_on(jarida_web::refresh(&self.app))
            .expect("refresh");
    }

    pub fn get(&self, path: &str) -> Resp {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut r = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let bytes = r.body_mut().read_to_vec().unwrap();
        Resp {
            status,
            headers,
            bytes,
        }
    }

    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut r = self
            .agent
            .post(format!("{}{path}", self.base))
            .send_form(fields.iter().copied())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let bytes = r.body_mut().read_to_vec().unwrap();
        Resp {
            status,
            headers,
            bytes,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.rt.block_on(self.db.close());
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).expect("utf-8 body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
