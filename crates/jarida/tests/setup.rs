//! The one-time owner setup form.

mod common;

use common::TestApp;

#[test]
fn setup_link_creates_the_owner_once() {
    let app = TestApp::spawn();
    let url = app
        .setup_url
        .clone()
        .expect("a fresh site prints a setup link");
    let path = url.trim_start_matches(&app.base).to_string();
    let form = app.get(&path);
    assert_eq!(form.status, 200);
    assert_eq!(form.header("cache-control"), Some("no-store"));
    let html = form.text();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[at..at + 64].to_string();

    assert_eq!(
        app.get("/setup/0000").status,
        404,
        "a wrong token shows nothing"
    );
    let forged = app.post_form(
        &path,
        &[
            ("csrf", "x"),
            ("name", "A"),
            ("email", "a@example.org"),
            ("password", "long enough password"),
        ],
    );
    assert_eq!(forged.status, 403);

    let weak = app.post_form(
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Lina"),
            ("email", "not-an-email"),
            ("password", "short"),
        ],
    );
    assert_eq!(weak.status, 422);
    let text = weak.text();
    assert!(
        text.contains("Email: give an address") && text.contains("Password: use at least 12"),
        "{text}"
    );

    let ok = app.post_form(
        &path,
        &[
            ("csrf", &csrf),
            ("name", "Lina"),
            ("email", "Lina@Example.org"),
            ("password", "correct horse battery staple"),
        ],
    );
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("lina@example.org"));

    assert_eq!(app.get(&path).status, 404, "the link is single-use");
    assert_eq!(
        app.post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "B"),
                ("email", "b@example.org"),
                ("password", "another long password")
            ]
        )
        .status,
        404
    );
    app.rt.block_on(async {
        assert!(jarida_web::setup::has_owner(&app.db).await.unwrap());
        assert_eq!(
            jarida_web::setup::issue_token(&app.db).await.unwrap(),
            None,
            "no new link once an owner exists"
        );
        let mut c = app.db.acquire().await.unwrap();
        let (hash,): (String,) =
            jarida_store::q_one!(c.conn(), (String,), "SELECT password_hash FROM users").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
    });
}
