//! What a digest asks of posts (`digest`), on a real database: SQLite, or PostgreSQL when
//! `JARIDA_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used)]

use jarida_content::digest::{self, Brief, Correction};
use jarida_core::Lang;
use jarida_store::{Db, q_exec, q_one};

struct P<'a> {
    lang: &'a str,
    slug: &'a str,
    kind: &'a str,
    featured: bool,
    status: &'a str,
    published_at: Option<i64>,
}

fn p<'a>(lang: &'a str, slug: &'a str, kind: &'a str, published_at: i64) -> P<'a> {
    P {
        lang,
        slug,
        kind,
        featured: false,
        status: "published",
        published_at: Some(published_at),
    }
}

fn draft<'a>(lang: &'a str, slug: &'a str) -> P<'a> {
    P {
        status: "draft",
        published_at: None,
        ..p(lang, slug, "news", 0)
    }
}

async fn post(db: &Db, p: P<'_>) -> i64 {
    let mut c = db.acquire().await.unwrap();
    let (id,): (i64,) = q_one!(
        c.conn(),
        (i64,),
        "INSERT INTO posts (lang, slug, kind, title, summary, body_md, body_html, body_text, authors_json, \
         cover, cover_alt, featured, status, published_at, updated_at, created_at, fingerprint) \
         VALUES ($1, $2, $3, $4, 'sum', '', '', '', '[]', NULL, NULL, $5, $6, $7, 0, 0, '') RETURNING id",
        p.lang,
        p.slug,
        p.kind,
        format!("Title {}", p.slug),
        p.featured,
        p.status,
        p.published_at
    )
    .unwrap();
    id
}

async fn correction(db: &Db, post: i64, at: i64, note: &str) {
    let mut c = db.acquire().await.unwrap();
    q_exec!(
        c.conn(),
        "INSERT INTO corrections (post_id, corrected_at, note) VALUES ($1, $2, $3)",
        post,
        at,
        note
    )
    .unwrap();
}

#[tokio::test]
async fn published_between_in_digest_order() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let design = post(db, p("en", "design", "design", 150)).await;
    let old_news = post(db, p("en", "old-news", "news", 110)).await;
    let news = post(db, p("en", "news", "news", 120)).await;
    let report = post(db, p("en", "report", "report", 105)).await;
    let featured = post(
        db,
        P {
            featured: true,
            ..p("en", "featured", "design", 101)
        },
    )
    .await;
    // Outside: before, at the end, another language, not published.
    post(db, p("en", "before", "report", 99)).await;
    post(db, p("en", "at-end", "report", 200)).await;
    post(db, p("ar", "arabic", "report", 150)).await;
    post(db, draft("en", "draft")).await;
    let mut c = db.acquire().await.unwrap();
    let ids = digest::published_between(c.conn(), Lang::En, 100, 200)
        .await
        .unwrap();
    assert_eq!(ids, vec![featured, report, news, old_news, design]);
}

#[tokio::test]
async fn briefs_of_published_posts_only() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let a = post(db, p("en", "a", "news", 100)).await;
    let draft = post(db, draft("en", "draft")).await;
    let b = post(
        db,
        P {
            featured: true,
            ..p("ar", "b", "report", 120)
        },
    )
    .await;
    let mut c = db.acquire().await.unwrap();
    let mut got = digest::briefs(c.conn(), &[b, draft, a, 424_242])
        .await
        .unwrap();
    got.sort_by_key(|x| x.id);
    assert_eq!(
        got,
        vec![
            Brief {
                id: a,
                slug: "a".into(),
                kind: "news".into(),
                title: "Title a".into(),
                summary: "sum".into(),
                cover: None,
                cover_alt: None,
                featured: false,
                published_at: Some(100),
            },
            Brief {
                id: b,
                slug: "b".into(),
                kind: "report".into(),
                title: "Title b".into(),
                summary: "sum".into(),
                cover: None,
                cover_alt: None,
                featured: true,
                published_at: Some(120),
            },
        ]
    );
    assert!(digest::briefs(c.conn(), &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn corrections_of_a_period_and_language() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let a = post(db, p("en", "a", "news", 10)).await;
    let ar = post(db, p("ar", "ar", "news", 10)).await;
    let draft = post(db, draft("en", "draft")).await;
    correction(db, a, 150, "second").await;
    correction(db, a, 120, "first").await;
    correction(db, a, 200, "after the period").await;
    correction(db, a, 99, "before the period").await;
    correction(db, ar, 130, "arabic").await;
    correction(db, draft, 130, "unpublished").await;
    let mut c = db.acquire().await.unwrap();
    let got = digest::corrections_between(c.conn(), Lang::En, 100, 200)
        .await
        .unwrap();
    let want = |at, note: &str| Correction {
        post_id: a,
        slug: "a".into(),
        title: "Title a".into(),
        at,
        note: note.into(),
    };
    assert_eq!(got, vec![want(120, "first"), want(150, "second")]);
}

#[tokio::test]
async fn posts_an_editor_names() {
    let fresh = jarida_testing::fresh_db().await;
    let db = &fresh.db;
    let a = post(db, p("en", "a", "news", 10)).await;
    let draft = post(db, draft("ar", "draft")).await;
    let mut c = db.acquire().await.unwrap();
    assert_eq!(
        digest::published_lang(c.conn(), a)
            .await
            .unwrap()
            .as_deref(),
        Some("en")
    );
    assert_eq!(digest::published_lang(c.conn(), draft).await.unwrap(), None);
    assert_eq!(
        digest::published_lang(c.conn(), 424_242).await.unwrap(),
        None
    );
    assert_eq!(
        digest::id_of(c.conn(), Lang::En, "a").await.unwrap(),
        Some(a)
    );
    // Found whatever its status; the caller checks that.
    assert_eq!(
        digest::id_of(c.conn(), Lang::Ar, "draft").await.unwrap(),
        Some(draft)
    );
    assert_eq!(digest::id_of(c.conn(), Lang::Ar, "a").await.unwrap(), None);
}
