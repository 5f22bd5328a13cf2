//! The bounce policy on a real database (SQLite, or PostgreSQL when `JARIDA_TEST_DATABASE_URL` is
//! set): soft bounces count within their window and are forgotten after it; a hard one stops the
//! reader at once; the same report twice is recorded once.
#![allow(clippy::unwrap_used)]

use jarida_audience::bounces::{Decision, Evidence, Policy, record_in};
use jarida_core::SubscriberId;
use jarida_mail::bounce::Kind;
use jarida_store::q_one;

fn ev(kind: Kind, edition: i64) -> Evidence {
    Evidence {
        kind,
        status: "5.2.2".into(),
        diagnostic: "552 5.2.2 <lina@example.com>: mailbox full".into(),
        source: "test".into(),
        edition,
        feedback_type: None,
    }
}

#[tokio::test]
async fn soft_bounces_count_within_their_window_then_are_forgotten() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let mut c = db.acquire().await.unwrap();
    let (id,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "INSERT INTO subscribers (email, name, lang, status, source, created_at, updated_at) \
         VALUES ('lina@example.com', 'Lina', 'en', 'active', 'test', 0, 0) RETURNING id"
    )
    .unwrap();
    drop(c);
    let id = SubscriberId(id);
    let policy = Policy {
        soft_limit: 2,
        soft_window: 7 * 86_400,
    };
    let day = 86_400;
    let now = 100 * day;
    let record = |kind, edition, at| async move {
        let mut tx = db.begin().await.unwrap();
        let d = record_in(&mut tx, id, &ev(kind, edition), policy, at)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        d
    };
    assert_eq!(
        record(Kind::Soft, 1, now - 10 * day).await,
        Decision::Recorded
    );
    // Ten days later the first is forgotten: one within the window, under the limit.
    assert_eq!(record(Kind::Soft, 2, now).await, Decision::Recorded);
    assert_eq!(
        record(Kind::Soft, 2, now).await,
        Decision::Repeated,
        "once per edition"
    );
    // A second within the window reaches the limit.
    assert_eq!(record(Kind::Soft, 3, now + day).await, Decision::Bounced);
    let mut c = db.acquire().await.unwrap();
    let (status, stored): (String, String) = q_one!(
        c.conn(),
        (String, String),
        "SELECT s.status, b.diagnostic FROM subscribers s JOIN bounces b ON b.subscriber_id = s.id \
         WHERE s.id = $1 AND b.edition_id = 3",
        id
    )
    .unwrap();
    assert_eq!(status, "bounced");
    assert!(
        !stored.contains("lina@example.com") && stored.contains("mailbox full"),
        "the address is not kept: {stored}"
    );
}
