//! Driving the admin as a browser would, for the HTTP tests: a cookie jar, CSRF tokens from the
//! pages, the first-run owner, invitations accepted from the outbox, readers written straight to
//! the database.

use std::collections::BTreeMap;

use super::{Resp, TestApp};

pub const OWNER_PASSWORD: &str = "correct horse battery staple";

/// A browser's worth of state: the cookies the server set.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
}

impl<'a> Client<'a> {
    pub fn new(app: &'a TestApp) -> Client<'a> {
        Client {
            app,
            cookies: BTreeMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep(&mut self, r: &Resp) {
        for (k, v) in &r.headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let first = v.split(';').next().unwrap();
                let (name, value) = first.split_once('=').unwrap();
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let mut req = self.app.agent.get(format!("{}{path}", self.app.base));
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        let r = Resp::from(req.call().unwrap());
        self.keep(&r);
        r
    }

    /// A GET that follows the site's canonical redirects (an Arabic slug typed unencoded).
    pub fn page(&mut self, path: &str) -> Resp {
        let r = self.get(path);
        if r.status == 308 || r.status == 301 {
            let to = location(&r);
            return self.get(&self.app.path_of(&to));
        }
        r
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_with(path, fields, &[])
    }

    pub fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.app.agent.post(format!("{}{path}", self.app.base));
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = Resp::from(req.send_form(fields.iter().copied()).unwrap());
        self.keep(&r);
        r
    }

    /// A `multipart/form-data` POST of text fields and one file, as a browser's upload form sends.
    pub fn upload(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Resp {
        let boundary = "----jaridatestboundary7d93";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n", file.0).as_bytes(),
        );
        body.extend_from_slice(file.1);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut req = self
            .app
            .agent
            .post(format!("{}{path}", self.app.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            );
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        let r = Resp::from(req.send(&body[..]).unwrap());
        self.keep(&r);
        r
    }

    /// The CSRF token on the page at `path`.
    pub fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path);
        assert_eq!(page.status, 200, "GET {path}: {}", page.text());
        field(&page.text(), "csrf")
    }

    pub fn signin(&mut self, email: &str, password: &str) -> Resp {
        let csrf = self.csrf("/admin/signin");
        self.post(
            "/admin/signin",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/admin/posts"),
            ],
        )
    }

    pub fn session(&self) -> Option<&String> {
        self.cookies.get("jarida_session")
    }
}

/// The value of the first hidden or text input named `name` in `html`.
pub fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&key)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + key.len();
    let end = html[at..].find('"').unwrap();
    html[at..at + end].replace("&amp;", "&")
}

pub fn location(r: &Resp) -> String {
    r.header("location").unwrap_or("").to_string()
}

/// Runs the first-run setup: the owner exists; returns them signed in.
pub fn owner(app: &TestApp) -> Client<'_> {
    let path = app.path_of(app.setup_url.as_ref().expect("setup link"));
    let page = app.get(&path);
    let csrf = field(&page.text(), "csrf");
    let ok = app.post_form(
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Lina Haddad"),
            ("email", "lina@example.org"),
            ("password", OWNER_PASSWORD),
        ],
    );
    assert_eq!(ok.status, 200);
    let mut c = Client::new(app);
    let r = c.signin("lina@example.org", OWNER_PASSWORD);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(location(&r), "/admin/posts");
    c
}

pub fn outbox_links(app: &TestApp, marker: &str) -> Vec<String> {
    let outbox = app.cfg.data_dir.join("outbox");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut found = Vec::new();
        if let Ok(dir) = std::fs::read_dir(&outbox) {
            for e in dir.filter_map(Result::ok) {
                let raw = std::fs::read_to_string(e.path()).unwrap_or_default();
                let text = quoted_printable::decode(
                    raw.replace("=\r\n", "").as_bytes(),
                    quoted_printable::ParseMode::Robust,
                )
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or(raw);
                for word in text.split_whitespace() {
                    if word.contains(marker) {
                        found.push(word.to_string());
                    }
                }
            }
        }
        if !found.is_empty() || std::time::Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Invites `email` with `role` and accepts the invitation; returns them signed in.
pub fn invite<'a>(
    app: &'a TestApp,
    owner: &mut Client<'_>,
    email: &str,
    role: &str,
    name: &str,
) -> Client<'a> {
    let csrf = owner.csrf("/admin/users");
    let r = owner.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("email", email),
            ("role", role),
            ("lang", "en"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let links = outbox_links(app, "/admin/invitation/");
    let link = links
        .iter()
        .find(|l| l.contains("/admin/invitation/"))
        .expect("an invitation email");
    let path = app.path_of(link);
    let mut c = Client::new(app);
    let page = c.get(&path);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains(email));
    let csrf = field(&page.text(), "csrf");
    let r = c.post(
        &path,
        &[
            ("csrf", &csrf),
            ("name", name),
            ("password", "another long password"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(c.session().is_some());
    // The link is spent.
    assert_eq!(Client::new(app).get(&path).status, 404);
    // Later invitations must not find this one's email.
    for e in std::fs::read_dir(app.cfg.data_dir.join("outbox"))
        .unwrap()
        .filter_map(Result::ok)
    {
        std::fs::remove_file(e.path()).unwrap();
    }
    c
}

/// A confirmed reader of the first newsletter, written straight to the database; returns their id.
pub fn add_reader(app: &TestApp, email: &str, name: &str, lang: &str) -> i64 {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        let (id,): (i64,) = jarida_store::q_one!(
            c.conn(),
            (i64,),
            "INSERT INTO subscribers (email, name, lang, status, source, consent_at, confirmed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 'active', 'form', 1, 1, 1700000000, 1) RETURNING id",
            email,
            name,
            lang
        )
        .unwrap();
        jarida_store::q_exec!(
            c.conn(),
            "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) SELECT $1, id FROM newsletters ORDER BY id LIMIT 1",
            id
        )
        .unwrap();
        id
    })
}

pub fn reader_status(app: &TestApp, id: i64) -> Option<String> {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_opt!(
            c.conn(),
            (String,),
            "SELECT status FROM subscribers WHERE id = $1",
            id
        )
        .unwrap()
        .map(|r| r.0)
    })
}
