//! The `jarida` binary itself: import, export, configuration errors and the first start.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{TestDb, fixtures};

use common::{jarida_cmd as jarida, small_rt as rt};

#[test]
fn import_reports_bad_files_and_is_idempotent() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&rt, dir.path());
    let out = jarida(dir.path(), &db)
        .arg("import")
        .arg(fixtures())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the exit code say so\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("imported 7 new, 0 updated, 0 unchanged, 1 failed"),
        "{stdout}"
    );
    assert!(
        stderr.contains("broken.md:3: field `date` is not a date"),
        "path, line and reason: {stderr}"
    );
    assert!(
        dir.path().join("data/media").read_dir().unwrap().count() >= 2,
        "images were copied into media"
    );

    let again = jarida(dir.path(), &db)
        .arg("import")
        .arg(fixtures())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains("imported 0 new, 0 updated, 7 unchanged, 1 failed"),
        "re-import is idempotent: {stdout}"
    );

    let good = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("market-news.md"),
        good.path().join("market-news.md"),
    )
    .unwrap();
    let ok = jarida(dir.path(), &db)
        .arg("import")
        .arg(good.path())
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));

    let missing = jarida(dir.path(), &db)
        .arg("import")
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    assert_ne!(missing.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope: is not a folder"));
}

#[test]
fn export_then_import_gives_the_same_posts() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db_a = TestDb::new(&rt, &dir.path().join("a"));
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let db_b = TestDb::new(&rt, &dir.path().join("b"));
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    assert_eq!(
        jarida(&a, &db_a)
            .arg("import")
            .arg(fixtures())
            .status()
            .unwrap()
            .code(),
        Some(1)
    );
    let export = dir.path().join("export");
    let out = jarida(&a, &db_a)
        .arg("export")
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("exported 7 posts"));
    assert!(export.join("media").is_dir());
    let out = jarida(&b, &db_b)
        .arg("import")
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    rt.block_on(async {
        let da = jarida_store::Db::connect(&db_a.url).await.unwrap();
        let dbb = jarida_store::Db::connect(&db_b.url).await.unwrap();
        let keys = jarida_content::repo::all_keys(&da).await.unwrap();
        assert_eq!(keys.len(), 7);
        assert_eq!(keys, jarida_content::repo::all_keys(&dbb).await.unwrap());
        for (lang, slug) in keys {
            let pa = jarida_content::repo::load(&da, lang, &slug, false)
                .await
                .unwrap()
                .unwrap();
            let pb = jarida_content::repo::load(&dbb, lang, &slug, false)
                .await
                .unwrap()
                .unwrap();
            let mut ja = serde_json::to_value(&pa).unwrap();
            let mut jb = serde_json::to_value(&pb).unwrap();
            ja.as_object_mut().unwrap().remove("id");
            jb.as_object_mut().unwrap().remove("id");
            assert_eq!(ja, jb, "{lang}/{slug} differs after export and import");
        }
        da.close().await;
        dbb.close().await;
    });
    for name in std::fs::read_dir(a.join("data/media")).unwrap() {
        let name = name.unwrap().file_name();
        assert!(
            b.join("data/media").join(&name).is_file(),
            "media {name:?} came across under the same name"
        );
    }
}

#[test]
fn configuration_errors_name_the_key_and_exit_2() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&rt, dir.path());
    let file = dir.path().join("site.toml");
    std::fs::write(&file, "per_page = \"lots\"\n").unwrap();
    let out = jarida(dir.path(), &db)
        .arg("--config")
        .arg(&file)
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("per_page") && err.contains("site.toml"),
        "{err}"
    );

    let out = jarida(dir.path(), &db)
        .env("JARIDA_LISTEN", "nowhere")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key `listen`"));

    let out = jarida(dir.path(), &db)
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = jarida(dir.path(), &db)
        .env("JARIDA_PER_PAGE", "5")
        .arg("config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("per_page = 5\n    # default: 12; from: environment"),
        "{text}"
    );
    assert!(
        text.contains(
            "listen = \"127.0.0.1:8080\"\n    # default: \"127.0.0.1:8080\"; from: default"
        ),
        "{text}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_jarida"))
        .args(["config", "--print-defaults"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("listen = \"127.0.0.1:8080\"") && text.contains("[site]"),
        "{text}"
    );
}

#[test]
fn first_start_creates_the_data_folder_and_prints_a_setup_link() {
    let dir = tempfile::tempdir().unwrap();
    // No configuration at all: the embedded default.
    let mut child = Command::new(env!("CARGO_BIN_EXE_jarida"))
        .current_dir(dir.path())
        .env_remove("JARIDA_DATABASE_URL")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = lines.next().unwrap().unwrap();
    let setup = lines.next().unwrap().unwrap();
    assert!(
        running.starts_with("Jarida is running at http://127.0.0.1:"),
        "{running}"
    );
    let url = setup.split(": ").nth(1).unwrap().to_string();
    assert!(url.contains("/setup/"), "{setup}");
    for p in [
        "jarida-data/jarida.db",
        "jarida-data/media",
        "jarida-data/outbox",
        "jarida-data/keys/secret.key",
    ] {
        assert!(dir.path().join(p).exists(), "{p} was not created");
    }
    let agent = common::agent();
    let mut r = agent.get(&url).call().unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.body_mut()
            .read_to_string()
            .unwrap()
            .contains("Create the owner account")
    );
    let home = running
        .trim_start_matches("Jarida is running at ")
        .to_string();
    assert_eq!(
        agent.get(format!("{home}en/")).call().unwrap().status(),
        200
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
