//! Real headless Chromium (Debian's `chromium` + `chromium-driver`, over WebDriver) opens an English and
//! an Arabic article at phone and desktop widths: the computed direction must be right and nothing may
//! overflow the page horizontally. WebDriver is four JSON calls, so this speaks it with the HTTP client
//! the other tests already use rather than pulling in a WebDriver crate and its async stack.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestApp, fixtures};
use serde_json::{Value, json};

struct Driver {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(name: &str) -> String {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
        let p = format!("{dir}/{name}");
        if std::path::Path::new(&p).exists() {
            return p;
        }
    }
    panic!("{name} is not installed: scripts/test installs Debian's chromium and chromium-driver");
}

impl Driver {
    fn start() -> Driver {
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
        let agent = common::agent();
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(format!("{url}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url, agent }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let mut r = match (method, body) {
            ("POST", Some(b)) => self.agent.post(&url).send_json(b),
            ("DELETE", _) => self.agent.delete(&url).call(),
            _ => self.agent.get(&url).call(),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let v: Value = r.body_mut().read_json().unwrap();
        if v["value"]["error"].is_string() {
            panic!("{method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    fn session(&self, width: u32) -> String {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": tool("chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--disable-quic", "--hide-scrollbars",
                         format!("--window-size={width},900")],
                "mobileEmulation": { "deviceMetrics": { "width": width, "height": 900, "pixelRatio": 1.0 } }
            }
        }}});
        self.call("POST", "/session", Some(caps))["sessionId"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

const PROBE: &str = r#"
const de = document.documentElement;
const vw = de.clientWidth;
const wide = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (getComputedStyle(el).position === 'absolute' && r.right < 0) continue; // visually hidden skip link
  if (r.right > vw + 1 || r.left < -1) wide.push(el.tagName + '.' + el.className + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
}
return { dir: getComputedStyle(de).direction, bodyDir: getComputedStyle(document.querySelector('.article-body')).direction,
         lang: de.lang, vw: vw, scroll: de.scrollWidth, wide: wide.slice(0, 10), title: document.title };
"#;

#[test]
fn articles_lay_out_in_both_directions_at_phone_and_desktop_widths() {
    let app = TestApp::spawn();
    app.import(&fixtures());
    let driver = Driver::start();
    for width in [375u32, 1280] {
        let sid = driver.session(width);
        for (path, dir, lang) in [
            ("/en/water-crisis", "ltr", "en"),
            ("/ar/azmat-al-miyah", "rtl", "ar"),
        ] {
            driver.call(
                "POST",
                &format!("/session/{sid}/url"),
                Some(json!({ "url": format!("{}{path}", app.base) })),
            );
            let v = driver.call(
                "POST",
                &format!("/session/{sid}/execute/sync"),
                Some(json!({ "script": PROBE, "args": [] })),
            );
            assert_eq!(v["lang"], lang, "{path} at {width}px: {v}");
            assert_eq!(v["dir"], dir, "{path} at {width}px: {v}");
            assert_eq!(v["bodyDir"], dir, "{path} at {width}px: {v}");
            let vw = v["vw"].as_u64().unwrap();
            assert!(
                vw <= width as u64 && vw + 20 >= width as u64,
                "viewport {vw} for {width}px"
            );
            assert!(
                v["scroll"].as_u64().unwrap() <= vw,
                "{path} at {width}px scrolls sideways: {v}"
            );
            assert!(
                v["wide"].as_array().unwrap().is_empty(),
                "{path} at {width}px: elements overflow: {}",
                v["wide"]
            );
            assert!(
                v["title"].as_str().unwrap().len() > 5,
                "the page loaded: {v}"
            );
        }
        driver.call("DELETE", &format!("/session/{sid}"), None);
    }
}
