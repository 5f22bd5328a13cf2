//! Readers in and out of the admin as files: a CSV uploaded and imported in the background with
//! its report and refused rows, an import run again after its worker died, and an export of a
//! filter downloaded, then gone once a reader in it is erased. Each test runs the real server on the
//! test's database.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use common::admin::*;

fn count(app: &TestApp, sql: &'static str) -> i64 {
    app.rt.block_on(async {
        let mut c = app.db.acquire().await.unwrap();
        jarida_store::q_one!(c.conn(), (i64,), sql).unwrap().0
    })
}

/// Waits for job `id` to finish; its page.
fn job_done(c: &mut Client<'_>, id: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = c.get(&format!("/admin/jobs/{id}")).text();
        if !page.contains("data-refresh") {
            return page;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish: {page}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn job_id(r: &common::Resp) -> i64 {
    let to = r.header("location").unwrap_or("");
    to.strip_prefix("/admin/jobs/")
        .unwrap_or_else(|| panic!("to a job: {to} {}", r.text()))
        .parse()
        .unwrap()
}

fn uploads(app: &TestApp) -> usize {
    std::fs::read_dir(app.cfg.data_dir.join("imports"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn an_uploaded_csv_is_imported_in_the_background_with_its_refused_rows() {
    let app = TestApp::spawn();
    let mut c = owner(&app);
    let mut csv = String::from("email,name,lang\n");
    for i in 0..2500 {
        csv.push_str(&format!("reader{i}@import.example,Reader {i},ar\n"));
    }
    csv.push_str("not-an-address,Broken,en\n"); // line 2502
    csv.push_str("reader7@import.example,Again,ar\n"); // line 2503: repeated
    csv.push_str(",Nobody,en\n"); // line 2504
    let page = c.get("/admin/readers/import");
    assert_eq!(page.status, 200);
    let csrf = field(&page.text(), "csrf");
    // A forged token leaves no file behind.
    let r = c.upload(
        "/admin/readers/import",
        &[("csrf", "forged"), ("lang", "en"), ("confirmed", "1")],
        ("readers.csv", csv.as_bytes()),
    );
    assert_eq!(r.status, 403);
    assert_eq!(uploads(&app), 0);
    let r = c.upload(
        "/admin/readers/import",
        &[("csrf", &csrf), ("lang", "en"), ("confirmed", "")],
        ("readers.csv", b""),
    );
    assert_eq!(r.status, 422, "an empty file is refused");
    assert!(r.text().contains("Choose a CSV file"));
    let r = c.upload(
        "/admin/readers/import",
        &[("csrf", &csrf), ("lang", "en"), ("confirmed", "1")],
        ("readers.csv", csv.as_bytes()),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let id = job_id(&r);
    let page = job_done(&mut c, id);
    assert!(page.contains("status-done"), "{page}");
    assert!(page.contains("readers.csv"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM subscribers WHERE email LIKE '%@import.example' AND status = 'active'"
        ),
        2500
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM subscribers WHERE email LIKE '%@import.example' AND lang = 'ar'"
        ),
        2500
    );
    // The report: imported, repeated, refused with their lines (a repeat is refused too, saying
    // where it appeared first).
    for (label, n) in [
        ("Imported", "2500"),
        ("Repeated in the file", "1"),
        ("Rows refused", "3"),
    ] {
        assert!(
            page.contains(&format!("<th scope=\"row\">{label}</th><td>{n}</td>")),
            "{label} {n}: {page}"
        );
    }
    assert!(
        page.contains("<td>2502</td>") && page.contains("<td>2504</td>"),
        "{page}"
    );
    assert!(page.contains("reader7@import.example appears earlier in the file"));
    let refused = c.get(&format!("/admin/jobs/{id}/refused.csv"));
    assert_eq!(refused.status, 200);
    assert!(
        refused
            .header("content-disposition")
            .unwrap()
            .contains("attachment")
    );
    let text = refused.text();
    assert!(
        text.starts_with("line,reason\n2502,") && text.contains("\n2504,"),
        "{text}"
    );
    assert_eq!(uploads(&app), 0, "the uploaded file goes once imported");
    let audit = c.get("/admin/audit").text();
    assert!(audit.contains("readers.import"));
    assert_eq!(
        c.get(&format!("/admin/jobs/{id}/export.csv")).status,
        404,
        "an import has no export"
    );

    // Without "confirmed", new readers are pending and each gets a confirmation email.
    let r = c.upload(
        "/admin/readers/import",
        &[("csrf", &csrf), ("lang", "en"), ("confirmed", "")],
        (
            "more.csv",
            b"email\nnew1@import.example\nnew2@import.example\nreader1@import.example\n",
        ),
    );
    let id = job_id(&r);
    let page = job_done(&mut c, id);
    assert!(
        page.contains("<th scope=\"row\">Already readers (left as they were)</th><td>1</td>"),
        "{page}"
    );
    assert!(
        page.contains("<th scope=\"row\">Confirmation emails queued</th><td>2</td>"),
        "{page}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM subscribers WHERE email LIKE 'new_@import.example' AND status = 'pending'"
        ),
        2
    );

    // A file that is not a readers' CSV fails with the line and the reason.
    let r = c.upload(
        "/admin/readers/import",
        &[("csrf", &csrf), ("lang", "en"), ("confirmed", "1")],
        ("photo.csv", b"colour,size\nred,3\n"),
    );
    let page = job_done(&mut c, job_id(&r));
    assert!(
        page.contains("status-failed") && page.contains("line 1: no email column"),
        "{page}"
    );

    // An author may not import.
    let mut author = invite(&app, &mut c, "sami@example.org", "author", "Sami");
    assert_eq!(author.get("/admin/readers/import").status, 403);
    let csrf = author.csrf("/admin/account");
    let r = author.upload(
        "/admin/readers/import",
        &[("csrf", &csrf), ("lang", "en"), ("confirmed", "1")],
        ("readers.csv", b"email\nsneaky@import.example\n"),
    );
    assert_eq!(r.status, 403);
    assert_eq!(uploads(&app), 0);
    let mut anon = Client::new(&app);
    assert_eq!(anon.get("/admin/readers/import").status, 303);
}

#[test]
fn an_import_whose_worker_died_is_run_again_by_the_next() {
    // Nothing works the jobs in this app: the test plays the dead worker and the next one.
    let app = TestApp::spawn();
    let mut c = owner(&app);
    let csrf = c.csrf("/admin/readers/import");
    let mut csv = String::from("email\n");
    for i in 0..300 {
        csv.push_str(&format!("again{i}@import.example\n"));
    }
    // Half of them were committed by the first worker before it died.
    for i in 0..150 {
        add_reader(&app, &format!("again{i}@import.example"), "", "en");
    }
    let r = c.upload(
        "/admin/readers/import",
        &[("csrf", &csrf), ("lang", "en"), ("confirmed", "1")],
        ("again.csv", csv.as_bytes()),
    );
    let id = job_id(&r);
    // The background worker may already have it; either way, make it look claimed by a worker
    // that died: running, its lease over.
    app.rt.block_on(async {
        let mut db = app.db.acquire().await.unwrap();
        jarida_store::q_exec!(
            db.conn(),
            "UPDATE bulk_jobs SET status = 'running', holder = 'dead-worker', next_at = 0, attempts = 1 \
             WHERE id = $1 AND status <> 'done'",
            id
        )
        .unwrap();
    });
    let page = job_done(&mut c, id);
    assert!(page.contains("status-done"), "{page}");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM subscribers WHERE email LIKE 'again%@import.example'"
        ),
        300
    );
    let job = app
        .rt
        .block_on(jarida_newsletter::bulk::get(&app.db, id))
        .unwrap()
        .unwrap();
    let report: serde_json::Value = serde_json::from_str(job.report.as_deref().unwrap()).unwrap();
    assert_eq!(
        report["imported"].as_u64().unwrap() + report["existing"].as_u64().unwrap(),
        300,
        "{report}"
    );
    assert_eq!(report["existing"], 150, "{report}");
}

#[test]
fn an_export_of_a_filter_downloads_and_goes_when_a_reader_in_it_is_erased() {
    let app = TestApp::spawn();
    let mut c = owner(&app);
    let ar: Vec<i64> = (0..3)
        .map(|i| {
            add_reader(
                &app,
                &format!("ar{i}@export.example"),
                &format!("=HYPERLINK(\"x\") {i}"),
                "ar",
            )
        })
        .collect();
    add_reader(&app, "en0@export.example", "English", "en");
    let csrf = c.csrf("/admin/readers?lang=ar");
    let r = c.post(
        "/admin/readers/bulk",
        &[("csrf", &csrf), ("lang", "ar"), ("action", "export")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let id = job_id(&r);
    let page = job_done(&mut c, id);
    assert!(page.contains("3 written to the file."), "{page}");
    assert!(page.contains(&format!("href=\"/admin/jobs/{id}/export.csv\"")));
    let file = c.get(&format!("/admin/jobs/{id}/export.csv"));
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = file.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "email,name,lang,status,source,created_at,consent_at,confirmed_at"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1].starts_with("ar0@export.example,"), "{text}");
    assert!(!text.contains("en0@export.example"));
    assert!(
        text.contains("'=HYPERLINK"),
        "a formula is neutralized: {text}"
    );
    assert!(
        c.get("/admin/audit")
            .text()
            .contains("readers.export-download")
    );
    assert_eq!(c.get(&format!("/admin/jobs/{id}/refused.csv")).status, 404);
    // Erasing one of them removes the file that lists them.
    let csrf = c.csrf(&format!("/admin/readers/{}/erase", ar[1]));
    let r = c.post(
        &format!("/admin/readers/{}/erase", ar[1]),
        &[("csrf", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert!(!jarida_newsletter::bulk::export_file(&app.cfg.data_dir, id).exists());
    assert_eq!(c.get(&format!("/admin/jobs/{id}/export.csv")).status, 410);
    // Another role's view: an author sees no job file.
    let mut author = invite(&app, &mut c, "sami@example.org", "author", "Sami");
    assert_eq!(
        author.get(&format!("/admin/jobs/{id}/export.csv")).status,
        403
    );
}
