//! What sending asks of the audience (`recipients`), on a real database: SQLite, or PostgreSQL
//! when `JARIDA_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used)]

use jarida_audience::recipients;
use jarida_store::{Db, q_all, q_exec, q_one, sqlx};

/// Adds a reader and returns their id; `newsletters` are the ones they subscribed to.
async fn reader(db: &Db, email: &str, lang: &str, status: &str, newsletters: &[i64]) -> i64 {
    let mut c = db.acquire().await.unwrap();
    let (id,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "INSERT INTO subscribers (email, name, lang, status, source, created_at, updated_at) \
         VALUES ($1, 'N', $2, $3, 'test', 0, 0) RETURNING id",
        email,
        lang,
        status
    )
    .unwrap();
    for n in newsletters {
        q_exec!(
            c.conn(),
            "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) VALUES ($1, $2)",
            id,
            *n
        )
        .unwrap();
    }
    id
}

async fn second_newsletter(db: &Db) -> i64 {
    let mut c = db.acquire().await.unwrap();
    let (id,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "INSERT INTO newsletters (slug, name, created_at) VALUES ('weekly', 'Weekly', 0) RETURNING id"
    )
    .unwrap();
    id
}

async fn main_newsletter(db: &Db) -> i64 {
    let mut c = db.acquire().await.unwrap();
    let (id,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "SELECT id FROM newsletters WHERE slug = 'main'"
    )
    .unwrap();
    id
}

#[tokio::test]
async fn active_readers_of_a_newsletter_in_a_language() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let main = main_newsletter(db).await;
    let weekly = second_newsletter(db).await;
    let a = reader(db, "a@example.org", "en", "active", &[main]).await;
    let b = reader(db, "b@example.org", "en", "active", &[main, weekly]).await;
    let _ar = reader(db, "c@example.org", "ar", "active", &[main]).await;
    let _gone = reader(db, "d@example.org", "en", "unsubscribed", &[main]).await;
    let _pending = reader(db, "e@example.org", "en", "pending", &[main]).await;
    let _other = reader(db, "f@example.org", "en", "active", &[weekly]).await;

    // The subquery's placeholders start where the caller says; here after the caller's own $1.
    let mut c = db.acquire().await.unwrap();
    q_exec!(
        c.conn(),
        "CREATE TABLE picked (tag BIGINT NOT NULL, id BIGINT NOT NULL)"
    )
    .unwrap();
    let sql = format!(
        "INSERT INTO picked (tag, id) SELECT $1, r.id FROM ({}) r",
        recipients::active_readers_sql(2)
    );
    let n = q_exec!(
        c.conn(),
        sqlx::AssertSqlSafe(sql.as_str()),
        7_i64,
        main,
        "en"
    )
    .unwrap();
    assert_eq!(n, 2);
    let ids: Vec<(i64, i64)> = q_all!(
        c.conn(),
        (i64, i64),
        "SELECT tag, id FROM picked ORDER BY id"
    )
    .unwrap();
    assert_eq!(ids, vec![(7, a), (7, b)]);
    let n = q_exec!(
        c.conn(),
        sqlx::AssertSqlSafe(sql.as_str()),
        8_i64,
        weekly,
        "ar"
    )
    .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_claim_reads_each_rows_reader_in_the_same_statement() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let main = main_newsletter(db).await;
    let weekly = second_newsletter(db).await;
    let a = reader(db, "a@example.org", "en", "active", &[main]).await;
    let left = reader(db, "b@example.org", "en", "active", &[weekly]).await;
    let bounced = reader(db, "c@example.org", "en", "bounced", &[main]).await;
    let erased = 999_999;
    let mut c = db.acquire().await.unwrap();
    q_exec!(c.conn(), "CREATE TABLE ledger (reader BIGINT NOT NULL)").unwrap();
    for id in [a, left, bounced, erased] {
        q_exec!(c.conn(), "INSERT INTO ledger (reader) VALUES ($1)", id).unwrap();
    }
    let r = recipients::reader_sql("l.reader", 1);
    let sql = format!(
        "SELECT l.reader, {} FROM ledger l {} ORDER BY l.reader",
        r.columns, r.joins
    );
    type Row = (
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = q_all!(c.conn(), Row, sqlx::AssertSqlSafe(sql), main).unwrap();
    assert_eq!(
        rows,
        vec![
            (
                a,
                Some("a@example.org".into()),
                Some("N".into()),
                Some("active".into()),
                Some(a)
            ),
            (
                left,
                Some("b@example.org".into()),
                Some("N".into()),
                Some("active".into()),
                None
            ),
            (
                bounced,
                Some("c@example.org".into()),
                Some("N".into()),
                Some("bounced".into()),
                Some(bounced)
            ),
            (erased, None, None, None, None),
        ]
    );
}

#[tokio::test]
async fn suppressed_addresses_among_many() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let mut c = db.acquire().await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    jarida_audience::subscribers::suppress(c.conn(), "gone@example.org", "erased", now)
        .await
        .unwrap();
    jarida_audience::subscribers::suppress(c.conn(), "o'brien@example.org", "complaint", now)
        .await
        .unwrap();
    let found = recipients::suppressed(
        c.conn(),
        &["a@example.org", "gone@example.org", "o'brien@example.org"],
    )
    .await
    .unwrap();
    let mut found: Vec<String> = found.into_iter().collect();
    found.sort();
    assert_eq!(found, vec!["gone@example.org", "o'brien@example.org"]);
    assert!(
        recipients::suppressed(c.conn(), &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        recipients::suppressed(c.conn(), &["a@example.org"])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn unsubscriptions_are_listed_with_their_time() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let main = main_newsletter(db).await;
    let a = reader(db, "a@example.org", "en", "unsubscribed", &[main]).await;
    let b = reader(db, "b@example.org", "en", "active", &[main]).await;
    let mut c = db.acquire().await.unwrap();
    for (id, kind, at) in [
        (a, "unsubscribed", 50_i64),
        (b, "confirmed", 40),
        (a, "confirmed", 10),
    ] {
        q_exec!(
            c.conn(),
            "INSERT INTO subscriber_events (subscriber_id, kind, at, detail) VALUES ($1, $2, $3, '{}')",
            id,
            kind,
            at
        )
        .unwrap();
    }
    let sql = format!(
        "SELECT u.subscriber_id, u.at FROM ({}) u ORDER BY u.at",
        recipients::unsubscriptions_sql()
    );
    let rows: Vec<(i64, i64)> = q_all!(c.conn(), (i64, i64), sqlx::AssertSqlSafe(sql)).unwrap();
    assert_eq!(rows, vec![(a, 50)]);
}
