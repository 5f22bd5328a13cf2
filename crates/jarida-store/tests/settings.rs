//! The settings table on the test database (SQLite, or PostgreSQL when JARIDA_TEST_DATABASE_URL is set).

use jarida_store::settings::{all, bump_in, put_in, remove_in, version};

#[tokio::test]
async fn set_replace_and_remove_move_the_version() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let v0 = version(db.acquire().await.unwrap().conn()).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    put_in(&mut tx, "site.name_en", "\"A\"", "owner", 10)
        .await
        .unwrap();
    put_in(&mut tx, "site.name_en", "\"B\"", "other", 11)
        .await
        .unwrap();
    bump_in(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let mut c = db.acquire().await.unwrap();
    let got = all(c.conn()).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].value.as_str(),
            got[0].updated_by.as_str(),
            got[0].updated_at
        ),
        ("\"B\"", "other", 11)
    );
    assert_eq!(version(c.conn()).await.unwrap(), v0 + 1);
    drop(c);
    let mut tx = db.begin().await.unwrap();
    assert!(remove_in(&mut tx, "site.name_en").await.unwrap());
    assert!(!remove_in(&mut tx, "site.name_en").await.unwrap());
    tx.commit().await.unwrap();
    assert!(
        all(db.acquire().await.unwrap().conn())
            .await
            .unwrap()
            .is_empty()
    );
}
