//! Faults from outside the program: the database going away or locked under a running server, and a
//! disk that fills up during an import. Each ends in an error the reader or operator can see, and
//! in recovery without a restart or a loss of what was acknowledged.
#![allow(clippy::unwrap_used)] // test helpers: a failed step panics with its cause

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestApp, fixtures};

/// The connections of the server are cut (what a PostgreSQL restart does to them) or SQLite's write
/// lock is held by another process past the busy timeout: requests get an error page, and the next
/// ones work again without restarting jarida.
#[test]
fn the_database_going_away_gives_an_error_page_then_recovers() {
    let app = TestApp::spawn();
    app.import(&fixtures());
    assert_eq!(app.get("/en/").status, 200);
    if app.test_db.is_postgres() {
        // Every connection of the server's pool dies at once.
        let killed = app.rt.block_on(async {
            use jarida_store::sqlx::Connection;
            let mut c = jarida_store::sqlx::PgConnection::connect(&app.test_db.url)
                .await
                .unwrap();
            jarida_store::sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
            )
            .fetch_one(&mut c)
            .await
            .unwrap()
        });
        assert!(killed > 0, "the server held connections");
    } else {
        // Another process holds the write lock longer than the busy timeout.
        let path = app.test_db.url.trim_start_matches("sqlite://").to_string();
        let (locked_tx, locked) = std::sync::mpsc::channel();
        let (release_tx, release) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let c = Command::new("python3")
                .args([
                    "-c",
                    "import sqlite3,sys\n\
                     c=sqlite3.connect(sys.argv[1],isolation_level=None)\n\
                     c.execute('BEGIN IMMEDIATE')\n\
                     print('locked',flush=True)\n\
                     sys.stdin.read()\n\
                     c.execute('ROLLBACK')",
                    &path,
                ])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("python3 runs the lock holder");
            let mut c = c;
            let mut out = c.stdout.take().unwrap();
            let mut buf = [0u8; 7];
            std::io::Read::read_exact(&mut out, &mut buf).unwrap();
            locked_tx.send(()).unwrap();
            release.recv().unwrap();
            drop(c.stdin.take());
            c.wait().unwrap();
        });
        locked.recv_timeout(Duration::from_secs(10)).unwrap();
        let started = Instant::now();
        let r = app.post_form(
            "/en/newsletter/subscribe",
            &[("email", "locked-out@example.org")],
        );
        assert_eq!(r.status, 500, "a write that cannot get the lock fails");
        assert!(
            r.text().contains("<html"),
            "an error page in the site's look"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
        // Cached pages are served meanwhile.
        assert_eq!(app.get("/en/").status, 200);
        release_tx.send(()).unwrap();
        holder.join().unwrap();
    }
    // Recovery, without a restart.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = app.get("/en/water-crisis");
        let signup = app.post_form("/en/newsletter/subscribe", &[("email", "back@example.org")]);
        if page.status == 200 && signup.status == 200 {
            break;
        }
        assert!(
            matches!(page.status, 200 | 500) && matches!(signup.status, 200 | 500),
            "{} {}",
            page.status,
            signup.status
        );
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `script` in a mount namespace of its own (so a small tmpfs can stand for a full disk, as
/// root or not), with `sh`.
fn in_namespace(script: &str) -> std::process::Output {
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("unshare failed"),
        "this machine does not allow a mount namespace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sqlite_count(db: &Path, sql: &str) -> String {
    let rt = common::small_rt();
    rt.block_on(async {
        let d = jarida_store::Db::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let mut c = d.acquire().await.unwrap();
        let v = match c.conn() {
            jarida_store::Conn::Sqlite(c) => jarida_store::sqlx::query_scalar::<_, String>(
                jarida_store::sqlx::AssertSqlSafe(sql.to_string()),
            )
            .fetch_one(&mut *c)
            .await
            .unwrap(),
            jarida_store::Conn::Postgres(_) => unreachable!(),
        };
        drop(c);
        d.close().await;
        v
    })
}

/// The disk fills up in the middle of a subscriber import on the embedded database: the import
/// stops with an error naming the problem, every batch it committed is there whole, the database is
/// intact, and running the import again brings in exactly the rest. (PostgreSQL's disk is its
/// server's, not ours; this runs on SQLite in both passes of the suite.)
#[test]
fn a_full_disk_during_an_import_loses_nothing_committed() {
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("list.csv");
    let mut text = String::from("email,name\n");
    for i in 0..60_000 {
        text.push_str(&format!("reader{i:05}@example.org,Reader Number {i}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let disk = work.path().join("disk");
    let copy = work.path().join("copy");
    std::fs::create_dir_all(&disk).unwrap();
    std::fs::create_dir_all(&copy).unwrap();
    let bin = env!("CARGO_BIN_EXE_jarida");
    let script = format!(
        "set -e; mount -t tmpfs -o size=3m tmpfs {disk}; cd {disk}; \
         export JARIDA_DATA_DIR={disk}/data JARIDA_DATABASE_URL=sqlite://{disk}/data/jarida.db JARIDA_LOG=warn; \
         {bin} migrate >/dev/null; set +e; \
         {bin} subscribers import {csv} --confirmed > {copy}/stdout 2> {copy}/stderr; echo $? > {copy}/code; \
         cp -a {disk}/data {copy}/",
        disk = disk.display(),
        copy = copy.display(),
        csv = csv.display(),
    );
    let out = in_namespace(&script);
    let code = std::fs::read_to_string(copy.join("code")).unwrap_or_else(|_| {
        panic!(
            "the import did not run: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let stderr = std::fs::read_to_string(copy.join("stderr")).unwrap();
    assert_ne!(
        code.trim(),
        "0",
        "the import cannot have succeeded: {stderr}"
    );
    assert!(
        stderr.contains("full"),
        "the error names the problem: {stderr}"
    );
    let db = copy.join("data/jarida.db");
    assert_eq!(sqlite_count(&db, "PRAGMA integrity_check"), "ok");
    let kept: i64 = sqlite_count(&db, "SELECT CAST(COUNT(*) AS TEXT) FROM subscribers")
        .parse()
        .unwrap();
    assert!(kept < 60_000, "the disk was not full: {kept}");
    assert_eq!(kept % 2_000, 0, "whole batches only: {kept}");

    // With room again, the same file brings in exactly the rest.
    let out = Command::new(bin)
        .current_dir(&copy)
        .env("JARIDA_DATA_DIR", copy.join("data"))
        .env("JARIDA_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("JARIDA_LOG", "warn")
        .args(["subscribers", "import"])
        .arg(&csv)
        .arg("--confirmed")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "{} imported, {kept} already subscribed",
            60_000 - kept
        )),
        "{stdout}"
    );
    assert_eq!(
        sqlite_count(&db, "SELECT CAST(COUNT(*) AS TEXT) FROM subscribers"),
        "60000"
    );
}
