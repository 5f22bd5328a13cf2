//! `jarida subscribers import` and `export` against both databases.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use common::{Sink, TestDb};

use common::{jarida_cmd as jarida, small_rt as rt};

fn statuses(rt: &tokio::runtime::Runtime, db: &TestDb) -> Vec<(String, String, String)> {
    rt.block_on(async {
        let d = jarida_store::Db::connect(&db.url).await.unwrap();
        let mut c = d.acquire().await.unwrap();
        let rows: Vec<(String, String, String)> = jarida_store::q_all!(
            c.conn(),
            (String, String, String),
            "SELECT email, status, COALESCE(consent_wording, '') FROM subscribers ORDER BY email"
        )
        .unwrap();
        drop(c);
        d.close().await;
        rows
    })
}

/// The number of memberships and the stored name of `email`: what tells whether an import wrote a
/// reader once and kept the first occurrence.
fn members_and_name(rt: &tokio::runtime::Runtime, db: &TestDb, email: &str) -> (i64, String) {
    rt.block_on(async {
        let d = jarida_store::Db::connect(&db.url).await.unwrap();
        let mut c = d.acquire().await.unwrap();
        let (members,): (i64,) = jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT COUNT(*) FROM subscriber_newsletters"
        )
        .unwrap();
        let (name,): (String,) = jarida_store::q_one!(
            c.conn(),
            (String,),
            "SELECT name FROM subscribers WHERE email = $1",
            email
        )
        .unwrap();
        drop(c);
        d.close().await;
        (members, name)
    })
}

/// Writes `csv` to `name` in `dir` and imports it confirmed: (stdout, stderr).
fn import_text(dir: &std::path::Path, db: &TestDb, name: &str, csv: &str) -> (String, String) {
    let p = dir.join(name);
    std::fs::write(&p, csv).unwrap();
    let out = import_confirmed(dir, db, &p);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `jarida subscribers import --confirmed FILE`.
fn import_confirmed(
    dir: &std::path::Path,
    db: &TestDb,
    file: &std::path::Path,
) -> std::process::Output {
    jarida(dir, db)
        .args(["subscribers", "import", "--confirmed"])
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn malformed_rows_are_reported_and_valid_rows_import() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&rt, dir.path());
    assert!(
        jarida(dir.path(), &db)
            .arg("migrate")
            .status()
            .unwrap()
            .success()
    );
    rt.block_on(async {
        let d = jarida_store::Db::connect(&db.url).await.unwrap();
        let mut c = d.acquire().await.unwrap();
        jarida_store::q_exec!(
            c.conn(),
            "INSERT INTO suppressions (email_sha256, reason, at) VALUES ($1, 'erased', 0)",
            jarida_audience::email::fingerprint("erased@example.org")
        )
        .unwrap();
        drop(c);
        d.close().await;
    });
    let mut csv = b"Email Address,First Name,Last Name,LANGUAGE\n".to_vec();
    csv.extend_from_slice(b"lina@example.org,Lina,Haddad,ar\n"); // line 2
    csv.extend_from_slice(b"omar@EXAMPLE.org,Omar,Said,en\n"); // 3
    csv.extend_from_slice(b"not-an-address,Bad,Row,en\n"); // 4
    csv.extend_from_slice(b"Lina@Example.org,Lina,Again,ar\n"); // 5: duplicate of line 2
    csv.extend_from_slice(b"erased@example.org,Gone,Reader,en\n"); // 6: suppressed
    csv.extend_from_slice(b"sara@example.org,\"Sara,Khalil,en\n"); // 7: bad quoting swallows the rest
    let dir_path = dir.path().join("mailchimp.csv");
    std::fs::write(&dir_path, &csv).unwrap();
    let out = import_confirmed(dir.path(), &db, &dir_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors make the exit code say so\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("mailchimp.csv:4: email \"not-an-address\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("mailchimp.csv:5: lina@example.org appears earlier in the file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mailchimp.csv:7:") && stderr.contains("fields where the header has 4"),
        "{stderr}"
    );
    assert!(
        stdout.contains("(Mailchimp layout): 2 imported"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 suppressed and skipped, 1 duplicates"),
        "{stdout}"
    );
    let rows = statuses(&rt, &db);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "lina@example.org");
    assert_eq!(rows[0].1, "active");
    assert!(
        rows[0].2.starts_with("imported from Mailchimp on "),
        "{rows:?}"
    );
    assert_eq!(rows[1].0, "omar@example.org", "the domain is lower-cased");

    // Wrong encoding: Latin-1 bytes are reported, the rest imports.
    let mut latin = b"email,name\n".to_vec();
    latin.extend_from_slice(b"rami@example.org,Ram\xe9\n");
    latin.extend_from_slice(b"noor@example.org,Noor\n");
    let p = dir.path().join("latin1.csv");
    std::fs::write(&p, latin).unwrap();
    let out = import_confirmed(dir.path(), &db, &p);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("latin1.csv:2: column \"name\" is not UTF-8 text"),
        "{stderr}"
    );
    assert_eq!(statuses(&rt, &db).len(), 3);

    // Re-importing the good file changes nothing.
    let out = import_confirmed(dir.path(), &db, &dir_path);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 imported, 2 already subscribed"));

    // No email column.
    let p = dir.path().join("nocol.csv");
    std::fs::write(&p, "name,phone\nA,1\n").unwrap();
    let out = jarida(dir.path(), &db)
        .args(["subscribers", "import"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no email column"));
    // ... unless mapped.
    let p = dir.path().join("mapped.csv");
    std::fs::write(&p, "Adresse,Nom\nmapped@example.org,M\n").unwrap();
    let out = jarida(dir.path(), &db)
        .args([
            "subscribers",
            "import",
            "--confirmed",
            "--map",
            "email=Adresse,name=Nom",
        ])
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Export.
    let out = jarida(dir.path(), &db)
        .args(["subscribers", "export"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("email,name,lang,status,source,created_at,consent_at,confirmed_at\n"),
        "{text}"
    );
    assert!(
        text.contains("lina@example.org,Lina Haddad,ar,active,import,"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5);
}

#[test]
fn ghost_layout_and_confirmation_emails_for_unconfirmed_imports() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&rt, dir.path());
    let sink = Sink::start(&[]);
    let p = dir.path().join("ghost.csv");
    std::fs::write(
        &p,
        "id,email,name,note,subscribed_to_emails,complimentary_plan,labels\n\
         1,stay@example.org,Stay,,true,false,\n\
         2,left@example.org,Left,,false,false,\n",
    )
    .unwrap();
    let out = jarida(dir.path(), &db)
        .env("JARIDA_MAIL__SMTP_HOST", "127.0.0.1")
        .env("JARIDA_MAIL__SMTP_PORT", sink.port.to_string())
        .env("JARIDA_MAIL__SMTP_TLS", "none")
        .args(["subscribers", "import"])
        .arg(&p)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "(Ghost layout): 2 imported (1 confirmation emails queued; the mail queue sent 1, 0 deferred for retry, 0 refused)"
        ),
        "{stdout}"
    );
    let rows = statuses(&rt, &db);
    assert_eq!(rows[0].0, "left@example.org");
    assert_eq!(rows[0].1, "unsubscribed", "a member who had left stays out");
    assert_eq!(rows[1].1, "pending");
    let mails = sink.wait_for("stay@example.org", 1);
    assert_eq!(mails.len(), 1);
    assert!(common::url_with(&mails[0].text(), "/newsletter/confirm/").is_some());
    assert!(sink.messages().iter().all(|m| m.rcpt != "left@example.org"));
}

/// An import larger than a batch (10,000 rows): duplicates are caught
/// across batches, the reader's history starts with the import's one event, memberships go with an
/// erased reader.
#[test]
fn a_large_import_spans_batches_and_records_one_import_event() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&rt, dir.path());
    let pre = dir.path().join("pre.csv");
    std::fs::write(&pre, "email,name\nr12345@example.org,Already Here\n").unwrap();
    let out = import_confirmed(dir.path(), &db, &pre);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut csv = String::from("email,name,lang\n");
    for i in 1..=25_000 {
        csv.push_str(&format!("r{i:05}@example.org,Reader {i},ar\n"));
    }
    csv.push_str("R00007@Example.org,Seven Again,en\n"); // line 25,002: duplicate of line 8
    let (stdout, stderr) = import_text(dir.path(), &db, "big.csv", &csv);
    assert!(
        stderr.contains("big.csv:25002: r00007@example.org appears earlier in the file"),
        "{stderr}"
    );
    assert!(
        stdout.contains(
            "25001 rows (CSV layout): 24999 imported, 1 already subscribed, 0 suppressed and skipped, 1 duplicates, 0 errors"
        ),
        "{stdout}"
    );

    let (members, kept) = members_and_name(&rt, &db, "r00007@example.org");
    assert_eq!(members, 25_000, "every new reader joins the newsletter");
    assert_eq!(kept, "Reader 7", "the first occurrence wins");
    rt.block_on(async {
        let d = jarida_store::Db::connect(&db.url).await.unwrap();
        let mut c = d.acquire().await.unwrap();
        let (id,): (i64,) = jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT id FROM subscribers WHERE email = 'r20000@example.org'"
        )
        .unwrap();
        let imports: Vec<(i64, i64, String)> = jarida_store::q_all!(
            c.conn(),
            (i64, i64, String),
            "SELECT rows_read, rows_imported, format FROM imports ORDER BY id"
        )
        .unwrap();
        assert_eq!(
            imports,
            vec![
                (1, 1, "CSV".to_string()),
                (25_001, 24_999, "CSV".to_string())
            ]
        );
        let (events,): (i64,) =
            jarida_store::q_one!(c.conn(), (i64,), "SELECT COUNT(*) FROM subscriber_events")
                .unwrap();
        assert_eq!(events, 0, "no per-reader rows for an import");
        drop(c);

        let data = jarida_audience::subscribers::export_data(&d, jarida_core::SubscriberId(id))
            .await
            .unwrap();
        let first = &data["events"][0];
        assert_eq!(first["kind"], "imported", "{data}");
        assert!(
            first["detail"]["wording"]
                .as_str()
                .unwrap()
                .starts_with("imported from CSV on "),
            "{data}"
        );
        assert_eq!(data["newsletters"].as_array().unwrap().len(), 1, "{data}");

        jarida_audience::subscribers::erase(
            &d,
            jarida_core::SubscriberId(id),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        let mut c = d.acquire().await.unwrap();
        let (left,): (i64,) = jarida_store::q_one!(
            c.conn(),
            (i64,),
            "SELECT COUNT(*) FROM subscriber_newsletters WHERE subscriber_id = $1",
            id
        )
        .unwrap();
        assert_eq!(left, 0, "an erased reader's memberships go with them");
        drop(c);
        d.close().await;
    });
}

/// A duplicate in the very next batch: on PostgreSQL that batch is written while the one before is
/// still open on another connection, so the row is held back and judged once the earlier batch has
/// committed. It must read exactly as on SQLite: a duplicate of the earlier line, the earlier
/// reader kept, nothing written twice.
#[test]
fn a_duplicate_of_the_batch_still_being_written_is_reported_once_it_commits() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&rt, dir.path());
    let pre = dir.path().join("pre.csv");
    std::fs::write(&pre, "email,name\nr09998@example.org,Already Here\n").unwrap();
    assert!(import_confirmed(dir.path(), &db, &pre).status.success());

    let mut csv = String::from("email,name\n");
    for i in 1..=10_000 {
        csv.push_str(&format!("r{i:05}@example.org,Reader {i}\n"));
    }
    csv.push_str("r09999@example.org,Again\n"); // line 10,002: the batch before holds line 10,000
    csv.push_str("R09998@example.org,Again\n"); // line 10,003: a reader before this import
    csv.push_str("new@example.org,New\n");
    let (stdout, stderr) = import_text(dir.path(), &db, "big.csv", &csv);
    assert!(
        stderr.contains("big.csv:10002: r09999@example.org appears earlier in the file"),
        "{stderr}"
    );
    assert!(
        stdout.contains(
            "10003 rows (CSV layout): 10000 imported, 2 already subscribed, 0 suppressed and skipped, 1 duplicates, 0 errors"
        ),
        "{stdout}"
    );
    let rows = statuses(&rt, &db);
    assert_eq!(rows.len(), 10_001, "each address once");
    let (members, kept) = members_and_name(&rt, &db, "r09999@example.org");
    assert_eq!(members, 10_001, "one membership per reader");
    assert_eq!(kept, "Reader 9999", "the first occurrence wins");
}

/// What PostgreSQL's `COPY` text format treats as escapes (a backslash, `\N`, a tab or line break
/// inside a quoted cell) arrives in the record exactly as typed, on both databases.
#[test]
fn names_with_backslashes_and_breaks_are_stored_as_written() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&rt, dir.path());
    let p = dir.path().join("odd.csv");
    std::fs::write(
        &p,
        "email,name\n\
         slash@example.org,Back\\slash \\N\n\
         tab@example.org,\"Tab\there\"\n\
         break@example.org,\"Two\nLines\"\n",
    )
    .unwrap();
    let out = import_confirmed(dir.path(), &db, &p);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = rt.block_on(async {
        let d = jarida_store::Db::connect(&db.url).await.unwrap();
        let mut c = d.acquire().await.unwrap();
        let rows: Vec<(String, String)> = jarida_store::q_all!(
            c.conn(),
            (String, String),
            "SELECT email, name FROM subscribers ORDER BY email"
        )
        .unwrap();
        drop(c);
        d.close().await;
        rows
    });
    assert_eq!(
        names,
        vec![
            ("break@example.org".to_string(), "TwoLines".to_string()),
            (
                "slash@example.org".to_string(),
                "Back\\slash \\N".to_string()
            ),
            ("tab@example.org".to_string(), "Tabhere".to_string()),
        ],
        "control characters are dropped, backslashes kept"
    );
}
