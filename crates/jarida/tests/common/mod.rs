//! Test harness: each test gets the real server on a random port, a temporary data folder and a
//! database of its own — SQLite by default, a fresh PostgreSQL database when
//! `JARIDA_TEST_DATABASE_URL` is set.
#![allow(dead_code)]
// Test support: a failed set-up step should panic with its cause.
#![allow(clippy::unwrap_used)]

pub mod admin;
pub mod browser;
pub mod editions;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jarida::config::Config;
use jarida_store::Db;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/site")
}

/// A database for one test (the shared test-support crate makes it); a PostgreSQL one is dropped
/// when the test ends.
pub use jarida_testing::TestDb;

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
    /// Delivery, scheduler, mail queue: stopped when the test ends.
    pub background: Option<jarida::Background>,
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
            background: Some(running.background),
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
        Resp::from(req.call().unwrap_or_else(|e| panic!("GET {path}: {e}")))
    }

    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .send_form(fields.iter().copied())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        Resp::from(r)
    }
}

impl TestApp {
    /// A POST with a body as given: no cookies, nothing added (one-click unsubscribe, JSON API).
    pub fn post_raw(&self, url_or_path: &str, content_type: &str, body: &str) -> Resp {
        let url = if url_or_path.starts_with("http") {
            url_or_path.to_string()
        } else {
            format!("{}{url_or_path}", self.base)
        };
        let r = self
            .agent
            .post(&url)
            .header("content-type", content_type)
            .send(body)
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        Resp::from(r)
    }

    /// A path from an absolute URL of this app.
    pub fn path_of(&self, url: &str) -> String {
        url.strip_prefix(&self.base).unwrap_or(url).to_string()
    }

    pub fn status_of(&self, email: &str) -> Option<String> {
        self.rt.block_on(async {
            let mut c = self.db.acquire().await.unwrap();
            jarida_store::q_opt!(
                c.conn(),
                (String,),
                "SELECT status FROM subscribers WHERE email = $1",
                email
            )
            .unwrap()
            .map(|r| r.0)
        })
    }

    pub fn sql_exec(&self, sql: &'static str) -> u64 {
        self.rt.block_on(async {
            let mut c = self.db.acquire().await.unwrap();
            jarida_store::q_exec!(c.conn(), sql).unwrap()
        })
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(bg) = self.background.take() {
            self.rt
                .block_on(bg.shutdown(std::time::Duration::from_secs(5)));
        }
        self.rt.block_on(self.db.close());
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub bytes: Vec<u8>,
}

impl From<ureq::http::Response<ureq::Body>> for Resp {
    fn from(mut r: ureq::http::Response<ureq::Body>) -> Resp {
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

/// The `jarida` binary with its data folder in `dir` and the test's database.
pub fn jarida_cmd(dir: &Path, db: &TestDb) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_jarida"));
    c.current_dir(dir)
        .env_remove("RUST_LOG")
        .env("JARIDA_DATA_DIR", dir.join("data"))
        .env("JARIDA_DATABASE_URL", &db.url)
        .env("JARIDA_LOG", "warn");
    c
}

pub fn small_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A self-signed certificate for `name`, as `cert.pem` and `key.pem` in `dir` (openssl).
pub fn self_signed(dir: &Path, name: &str) {
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", &format!("/CN={name}"), "-keyout"])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// A real SMTP server for the test: Postfix's `smtp-sink`, keeping each message in a file (`-d`).
pub struct Sink {
    child: std::process::Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// One message as the sink received it.
pub struct Received {
    pub rcpt: String,
    /// The envelope sender (MAIL FROM), where bounces go.
    pub mail_from: String,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parsable message")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let head = text
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        head.lines()
            .find(|l| {
                l.len() > name.len()
                    && l[..name.len()].eq_ignore_ascii_case(name)
                    && l.as_bytes()[name.len()] == b':'
            })
            .map(|l| l[name.len() + 1..].trim().to_string())
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or("").to_string()
    }
}

impl Sink {
    /// Starts `smtp-sink`; extra flags inject faults (see smtp-sink(1)).
    pub fn start(extra: &[&str]) -> Sink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Sink::start_at(port, extra)
    }

    /// Starts `smtp-sink` on a given port (to replace a faulty sink with a healthy one).
    pub fn start_at(port: u16, extra: &[&str]) -> Sink {
        let exe = ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("smtp-sink is not installed: scripts/test installs Debian's postfix");
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let mut cmd = std::process::Command::new(exe);
        // As root smtp-sink must drop to another user.
        if unsafe_is_root() {
            cmd.args(["-u", "postfix"]);
        }
        cmd.args(extra)
            .arg("-d")
            .arg(format!("{}/%Y%m%d%H%M%S.", dir.path().display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = cmd.spawn().expect("smtp-sink starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "smtp-sink did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Sink { child, port, dir }
    }

    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .into_iter()
            .filter_map(|p| {
                let data = std::fs::read(&p).ok()?;
                // smtp-sink writes its own X- lines (with the envelope) and a Received line first.
                let text = String::from_utf8_lossy(&data);
                let rcpt = text
                    .lines()
                    .find_map(|l| l.strip_prefix("X-Rcpt-Args: <"))
                    .map(|r| r.trim_end_matches('>').to_string())?;
                let mail_from = text
                    .lines()
                    .find_map(|l| l.strip_prefix("X-Mail-Args: <"))
                    .and_then(|r| r.split('>').next())
                    .unwrap_or("")
                    .to_string();
                let start = text.find("\nReceived:").map(|i| i + 1)?;
                let after_received = text[start..].find("\n").map(|i| start + i + 1)?;
                // Skip the folded continuation lines of the Received header.
                let mut body_start = after_received;
                while text[body_start..].starts_with([' ', '\t']) {
                    body_start += text[body_start..].find('\n').map(|i| i + 1).unwrap_or(0);
                }
                let raw = text[body_start..]
                    .replace("\r\n", "\n")
                    .replace('\n', "\r\n")
                    .into_bytes();
                Some(Received {
                    rcpt,
                    mail_from,
                    raw,
                })
            })
            .collect()
    }

    /// Messages to `rcpt`, waiting up to 10 s for at least `n` of them.
    pub fn wait_for(&self, rcpt: &str, n: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let got: Vec<Received> = self
                .messages()
                .into_iter()
                .filter(|m| m.rcpt == rcpt)
                .collect();
            if got.len() >= n || std::time::Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Points an app's mail at a sink.
pub fn use_sink(cfg: &mut Config, sink: &Sink) {
    cfg.mail.smtp_host = "127.0.0.1".into();
    cfg.mail.smtp_port = sink.port;
    cfg.mail.smtp_tls = "none".parse().unwrap();
    cfg.mail.from_address =
        Some(jarida_core::EmailAddress::parse("newsletter@jarida.example").unwrap());
}

/// The value of the hidden input `name` in a page.
pub fn form_field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + name.len()
        + 15;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// The first URL in `text` that contains `needle`.
pub fn url_with(text: &str, needle: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|w| w.starts_with("http") && w.contains(needle))
        .map(str::to_string)
}

/// A real SMTP server speaking TLS (STARTTLS or implicit) with required AUTH: Python's aiosmtpd
/// (Debian's python3-aiosmtpd), as smtp-sink has no TLS. Each message is kept as a JSON file with
/// whether the session was encrypted and authenticated.
pub struct TlsSink {
    child: std::process::Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

pub struct TlsReceived {
    pub rcpts: Vec<String>,
    pub tls: bool,
    pub authenticated: bool,
    pub data: String,
}

impl TlsSink {
    pub const USER: &'static str = "jarida";
    pub const PASSWORD: &'static str = "s3cret-relay";

    pub fn start(mode: &str) -> TlsSink {
        const SCRIPT: &str = r#"
import json, ssl, sys
try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:
    sys.exit(3)
mode, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(d + "/cert.pem", d + "/key.pem")
class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        with open(f"{d}/msg-{Handler.n}.json", "w") as f:
            json.dump({"rcpts": envelope.rcpt_tos,
                       "tls": server.transport.get_extra_info("ssl_object") is not None,
                       "authenticated": bool(session.authenticated),
                       "data": envelope.content.decode("utf-8", "replace")}, f)
        return "250 2.0.0 OK"
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"jarida" and data.password == b"s3cret-relay"
    # handled=False: aiosmtpd answers a failure (535) itself; with the default it sends nothing.
    return AuthResult(success=ok, handled=False)
kw = dict(authenticator=auth, auth_required=True)
if mode == "starttls":
    c = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                   auth_require_tls=True, **kw)
else:
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; here the whole socket is TLS.
    c = Controller(Handler(), hostname="127.0.0.1", port=port, ssl_context=ctx,
                   auth_require_tls=False, **kw)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"#;
        let dir = tempfile::tempdir().unwrap();
        self_signed(dir.path(), "localhost");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("/usr/bin/python3")
            .args(["-c", SCRIPT, mode, &port.to_string()])
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("/usr/bin/python3 runs: install python3-aiosmtpd");
        let mut line = String::new();
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        if line.trim() != "ready" {
            let status = child.wait().unwrap();
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert_ne!(
                status.code(),
                Some(3),
                "install python3-aiosmtpd (aiosmtpd)"
            );
            panic!("aiosmtpd did not start: {err}");
        }
        TlsSink { child, port, dir }
    }

    pub fn messages(&self) -> Vec<TlsReceived> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|p| {
                let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
                Some(TlsReceived {
                    rcpts: v["rcpts"]
                        .as_array()?
                        .iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect(),
                    tls: v["tls"].as_bool()?,
                    authenticated: v["authenticated"].as_bool()?,
                    data: v["data"].as_str()?.to_string(),
                })
            })
            .collect()
    }
}

impl Drop for TlsSink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
