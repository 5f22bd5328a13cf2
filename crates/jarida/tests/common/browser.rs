//! Driving real headless Chromium for the browser stories: Debian's `chromium` and
//! `chromium-driver` over WebDriver (`fantoccini`), axe-core injected from npm, screenshots kept
//! for a person to look at, and the small steps every story takes (fill, click, wait until).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tool(name: &str) -> String {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        let p = format!("{dir}/{name}");
        if std::path::Path::new(&p).exists() {
            return p;
        }
    }
    panic!("{name} is not installed: scripts/test installs Debian's chromium and chromium-driver");
}

/// axe-core's script, which `scripts/test` installs from npm. Missing, the test fails: an
/// accessibility check that silently did not run would read as a pass.
pub fn axe_source() -> String {
    let path = std::env::var("JARIDA_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../scripts/browser/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is not at {} ({e}): scripts/test installs it with npm (npm ci --prefix scripts/browser)",
            path.display()
        )
    })
}

pub fn screenshots_dir() -> PathBuf {
    let dir = std::env::var("JARIDA_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Driver {
    pub fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(tool("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }

    /// A browser the size of a phone or a desktop screen.
    pub async fn session(&self, width: u32, height: u32) -> Client {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": tool("chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--disable-quic", "--hide-scrollbars", "--force-color-profile=srgb",
                         format!("--window-size={width},{height}")],
                "mobileEmulation": { "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0 } }
            }
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

/// Runs `script` (a function body; `arguments` as WebDriver passes them) and returns its value,
/// awaiting it when it is a promise.
pub async fn run(c: &Client, script: &str) -> Value {
    let wrapped = format!("return (async () => {{\n{script}\n}})();");
    c.execute(&wrapped, vec![]).await.unwrap()
}

/// axe-core over the page with every WCAG A, AA and AAA rule; what it finds, as "rule: where".
pub fn axe_script(axe: &str) -> String {
    format!(
        "{axe}\nconst r = await axe.run(document, {{ runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag2aaa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] }} }});\n\
         return r.violations.map(v => v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));"
    )
}

/// Types into the field `css`, replacing what it held.
pub async fn fill(c: &Client, css: &str, text: &str) {
    let el = c
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

pub async fn click(c: &Client, css: &str) {
    c.find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Waits until `script` (returning a boolean) is true, up to ten seconds.
pub async fn until(c: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if run(c, script).await == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// axe-core on the current page must find nothing; the page is kept as a screenshot.
pub async fn check_page(c: &Client, axe: &str, shots: &std::path::Path, name: &str) {
    let found = run(c, axe).await;
    assert_eq!(
        found,
        json!([]),
        "{name}: axe-core (WCAG AAA) finds violations"
    );
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots.join(format!("admin-{name}.png")), png).unwrap();
}

/// Signs in through the sign-in page (`?lang=ar` for the Arabic one) and waits for the admin.
pub async fn sign_in(c: &Client, base: &str, query: &str, email: &str, password: &str) {
    c.goto(&format!("{base}/admin/signin{query}"))
        .await
        .unwrap();
    fill(c, "#email", email).await;
    fill(c, "#password", password).await;
    click(c, "button[type=submit]").await;
    until(
        c,
        "signed in",
        "return ['/admin/posts', '/admin/dashboard'].includes(location.pathname);",
    )
    .await;
}

/// Switches the signed-in user's admin to Arabic from their account page.
pub async fn admin_in_arabic(c: &Client, base: &str) {
    c.goto(&format!("{base}/admin/account")).await.unwrap();
    click(c, "#lang option[value=ar]").await;
    click(c, "button[value=profile]").await;
    until(
        c,
        "the Arabic admin",
        "return document.documentElement.dir === 'rtl';",
    )
    .await;
}

/// The page's width, the screen's, and what lies outside the screen (boxes that scroll sideways on
/// purpose, and what is inside them, aside); in a right-to-left page an overflow goes left, where
/// the page's scroll width does not always show it.
pub const OUTSIDE: &str = "const vw = window.innerWidth; const out = [...document.body.querySelectorAll('*')].filter(e => { \
    if (e.closest('.scroll, .visually-hidden, .skip')) return false; const r = e.getBoundingClientRect(); \
    return r.width > 0 && (r.left < -1 || r.right > vw + 1); }).slice(0, 5).map(e => e.tagName + '.' + e.className); \
    return [document.documentElement.scrollWidth, vw, out];";
