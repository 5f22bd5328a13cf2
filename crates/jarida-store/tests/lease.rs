//! The lease helper on a real database (SQLite, or PostgreSQL when `JARIDA_TEST_DATABASE_URL` is
//! set): concurrent claimers never take the same row, a lease that ran out is taken again, and a
//! holder whose lease was taken over can no longer touch the row.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use jarida_store::{Db, Due, LeaseQueue, Returned, q_all, q_exec, q_one};

/// Shaped like the mail queue: the lease end is the due time.
const DUE_AGAIN: LeaseQueue = LeaseQueue {
    table: "lease_jobs",
    alias: "j",
    key: "id",
    partition: None,
    lease_end: "next_try_at",
    holder: "claimed_by",
    leased: "done = 0",
    on_claim: "",
    returned: Returned::DueAgain,
};
const JOBS_DUE: Due<'static> = Due {
    columns: "id",
    joins: "",
    condition: "done = 0 AND next_try_at <= $1",
    order: "ORDER BY next_try_at, id",
};

/// Shaped like the delivery ledger: partitioned, with a state and a separate lease column.
const STATEFUL: LeaseQueue = LeaseQueue {
    table: "lease_rows",
    alias: "r",
    key: "item",
    partition: Some("part"),
    lease_end: "lease_until",
    holder: "claimed_by",
    leased: "state = 'taken'",
    on_claim: ", state = 'taken', first_at = COALESCE(first_at, $3)",
    returned: Returned::Set("lease_until = NULL, state = 'open'"),
};
const ROWS_DUE: Due<'static> = Due {
    columns: "r.item",
    joins: "",
    condition: "r.state = 'open'",
    order: "",
};

async fn tables(db: &Db) {
    let mut c = db.acquire().await.unwrap();
    q_exec!(
        c.conn(),
        "CREATE TABLE lease_jobs (id BIGINT PRIMARY KEY, next_try_at BIGINT NOT NULL, \
         claimed_by TEXT, attempts BIGINT NOT NULL DEFAULT 0, done BIGINT NOT NULL DEFAULT 0)"
    )
    .unwrap();
    q_exec!(
        c.conn(),
        "CREATE TABLE lease_rows (part BIGINT NOT NULL, item BIGINT NOT NULL, state TEXT NOT NULL, \
         lease_until BIGINT, claimed_by TEXT, attempts BIGINT NOT NULL DEFAULT 0, first_at BIGINT, \
         PRIMARY KEY (part, item))"
    )
    .unwrap();
}

async fn add_jobs(db: &Db, n: i64, due: i64) {
    let mut c = db.acquire().await.unwrap();
    for id in 1..=n {
        q_exec!(
            c.conn(),
            "INSERT INTO lease_jobs (id, next_try_at) VALUES ($1, $2)",
            id,
            due
        )
        .unwrap();
    }
}

async fn add_rows(db: &Db, part: i64, n: i64) {
    let mut c = db.acquire().await.unwrap();
    for item in 1..=n {
        q_exec!(
            c.conn(),
            "INSERT INTO lease_rows (part, item, state) VALUES ($1, $2, 'open')",
            part,
            item
        )
        .unwrap();
    }
}

async fn claim_jobs(db: &Db, holder: &str, now: i64, limit: i64, until: i64) -> Vec<i64> {
    let rows: Vec<(i64,)> = DUE_AGAIN
        .claim(
            db,
            &JOBS_DUE,
            now,
            limit,
            None,
            holder,
            until,
            |r: &(i64,)| r.0,
        )
        .await
        .unwrap();
    rows.into_iter().map(|(id,)| id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_row() {
    let fresh = jarida_testing::fresh_db().await;
    let db = fresh.db.clone();
    tables(&db).await;
    add_jobs(&db, 300, 100).await;
    let mut set = tokio::task::JoinSet::new();
    for w in 0..6 {
        let db = db.clone();
        set.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = claim_jobs(&db, &format!("w{w}"), 1_000, 7, 5_000).await;
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
                tokio::task::yield_now().await;
            }
        });
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        for id in r.unwrap() {
            total += 1;
            assert!(seen.insert(id), "row {id} was claimed twice");
        }
    }
    assert_eq!(total, 300);
    let mut c = db.acquire().await.unwrap();
    let (n,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "SELECT COUNT(*) FROM lease_jobs WHERE attempts = 1 AND next_try_at = 5000 AND claimed_by IS NOT NULL"
    )
    .unwrap();
    assert_eq!(n, 300, "every row leased once, until the lease's end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partitioned_claims_never_share_a_row() {
    let fresh = jarida_testing::fresh_db().await;
    let db = fresh.db.clone();
    tables(&db).await;
    add_rows(&db, 1, 200).await;
    add_rows(&db, 2, 50).await;
    let mut set = tokio::task::JoinSet::new();
    for w in 0..5 {
        let db = db.clone();
        set.spawn(async move {
            let holder = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let mut tx = db.begin().await.unwrap();
                let rows: Vec<(i64,)> = STATEFUL
                    .select_due(tx.conn(), &ROWS_DUE, 10, 9, Some(1), &[])
                    .await
                    .unwrap();
                let keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
                STATEFUL
                    .lease(tx.conn(), Some(1), &keys, &holder, 70, 10)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                if keys.is_empty() {
                    return mine;
                }
                mine.extend(keys);
            }
        });
    }
    let mut seen = HashSet::new();
    while let Some(r) = set.join_next().await {
        for item in r.unwrap() {
            assert!(seen.insert(item), "item {item} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 200);
    let mut c = db.acquire().await.unwrap();
    let rows: Vec<(i64, String)> = q_all!(
        c.conn(),
        (i64, String),
        "SELECT part, state FROM lease_rows WHERE state <> 'taken' OR first_at <> 10 OR lease_until <> 70 ORDER BY part"
    )
    .unwrap();
    assert!(
        rows.iter().all(|(p, s)| *p == 2 && s == "open"),
        "only the other partition is untouched: {rows:?}"
    );
    assert_eq!(rows.len(), 50);
}

#[tokio::test]
async fn an_expired_lease_falls_due_again_and_the_late_holder_loses_it() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    tables(db).await;
    add_jobs(db, 1, 100).await;
    assert_eq!(claim_jobs(db, "a", 100, 10, 160).await, vec![1]);
    // Under lease: nobody else gets it.
    assert!(claim_jobs(db, "b", 159, 10, 219).await.is_empty());
    // The lease ran out: another claimer takes it.
    assert_eq!(claim_jobs(db, "b", 160, 10, 220).await, vec![1]);
    let mut c = db.acquire().await.unwrap();
    // The first holder can neither extend nor give back what is no longer its own.
    assert_eq!(DUE_AGAIN.extend(c.conn(), None, "a", 999).await.unwrap(), 0);
    assert_eq!(
        DUE_AGAIN
            .release(c.conn(), None, "a", &[1], 170)
            .await
            .unwrap(),
        0
    );
    assert_eq!(DUE_AGAIN.extend(c.conn(), None, "b", 300).await.unwrap(), 1);
    assert!(claim_jobs(db, "c", 250, 10, 310).await.is_empty());
    // Given back unattempted: due at once, the attempt not counted.
    let mut c = db.acquire().await.unwrap();
    assert_eq!(
        DUE_AGAIN
            .release(c.conn(), None, "b", &[1], 260)
            .await
            .unwrap(),
        1
    );
    let (attempts, holder): (i64, Option<String>) = q_one!(
        c.conn(),
        (i64, Option<String>),
        "SELECT attempts, claimed_by FROM lease_jobs WHERE id = 1"
    )
    .unwrap();
    assert_eq!((attempts, holder), (1, None));
    assert_eq!(claim_jobs(db, "c", 260, 10, 320).await, vec![1]);
    // Nothing to reclaim in a queue whose lease end is its due time.
    assert_eq!(
        DUE_AGAIN
            .reclaim(c.conn(), 10_000, "SELECT 1")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn an_expired_lease_is_reclaimed_in_open_partitions_only() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    tables(db).await;
    add_rows(db, 1, 3).await;
    add_rows(db, 2, 1).await;
    for part in [1, 2] {
        let mut tx = db.begin().await.unwrap();
        let rows: Vec<(i64,)> = STATEFUL
            .select_due(tx.conn(), &ROWS_DUE, 10, 100, Some(part), &[])
            .await
            .unwrap();
        let keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
        STATEFUL
            .lease(tx.conn(), Some(part), &keys, "dead", 70, 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut c = db.acquire().await.unwrap();
    // Still under lease.
    assert_eq!(STATEFUL.reclaim(c.conn(), 70, "SELECT 1").await.unwrap(), 0);
    // Past it: back to open, without a holder, in the partitions asked for only.
    assert_eq!(STATEFUL.reclaim(c.conn(), 71, "SELECT 1").await.unwrap(), 3);
    type Row = (i64, String, Option<String>, i64, Option<i64>);
    let rows: Vec<Row> = q_all!(
        c.conn(),
        Row,
        "SELECT part, state, claimed_by, attempts, first_at FROM lease_rows ORDER BY part, item"
    )
    .unwrap();
    for (part, state, holder, attempts, first) in &rows {
        if *part == 1 {
            assert_eq!((state.as_str(), holder.as_deref()), ("open", None));
        } else {
            assert_eq!((state.as_str(), holder.as_deref()), ("taken", Some("dead")));
        }
        // An attempt that may have happened stays counted.
        assert_eq!((*attempts, *first), (1, Some(10)));
    }
    // A new worker takes them again; the dead one cannot record over it.
    let mut tx = db.begin().await.unwrap();
    let rows: Vec<(i64,)> = STATEFUL
        .select_due(tx.conn(), &ROWS_DUE, 80, 100, Some(1), &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
    STATEFUL
        .lease(tx.conn(), Some(1), &keys, "alive", 140, 80)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        STATEFUL
            .extend(c.conn(), Some(1), "dead", 500)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        STATEFUL
            .extend(c.conn(), Some(1), "alive", 500)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        STATEFUL
            .release(c.conn(), Some(1), "alive", &[2], 90)
            .await
            .unwrap(),
        1
    );
    let (state, attempts, first): (String, i64, Option<i64>) = q_one!(
        c.conn(),
        (String, i64, Option<i64>),
        "SELECT state, attempts, first_at FROM lease_rows WHERE part = 1 AND item = 2"
    )
    .unwrap();
    // The first attempt's time stays: it happened.
    assert_eq!((state.as_str(), attempts, first), ("open", 1, Some(10)));
}
