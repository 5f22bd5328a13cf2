//! RSS 2.0, Atom and JSON Feed per language and per kind, and the sitemap. Feeds carry the full article
//! with its corrections and sources; the XML ones are theme templates like the pages.

use jarida_core::Lang;
use std::collections::BTreeMap;

use axum::http::StatusCode;
use jarida_content::repo::{self, Filter};
use jarida_content::{Kind, LANGS, Post};
use minijinja::Value;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::App;
use crate::cache::Cached;
use crate::public::{Out, REVALIDATE, Res, iso};

pub enum Format {
    Rss,
    Atom,
    Json,
}

const FEED_ITEMS: i64 = 20;

/// Relative links in a post body made absolute: feed readers show content away from the site.
fn absolutize(app: &App, html: &str) -> String {
    html.replace("src=\"/", &format!("src=\"{}/", app.cfg.base_url))
        .replace("href=\"/", &format!("href=\"{}/", app.cfg.base_url))
}

/// The article as a feed carries it: body, then sources and corrections.
fn content_html(app: &App, p: &Post) -> String {
    let lang = p.lang;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::new();
    if !p.corrections.is_empty() {
        out.push_str(&format!(
            "<aside><h2>{}</h2><ul>",
            esc(&app.t(lang, "corrections-heading"))
        ));
        for c in &p.corrections {
            out.push_str(&format!(
                "<li><time datetime=\"{}\">{}</time>: {}</li>",
                iso(c.at),
                esc(&app.theme.i18n.date(lang, c.at)),
                esc(&c.note)
            ));
        }
        out.push_str("</ul></aside>");
    }
    if let Some(c) = &p.cover {
        out.push_str(&format!(
            "<p><img src=\"{}\" alt=\"{}\"></p>",
            esc(c),
            esc(p.cover_alt.as_deref().unwrap_or(""))
        ));
    }
    out.push_str(&p.body_html);
    if !p.sources.is_empty() {
        out.push_str(&format!(
            "<h2>{}</h2><ul>",
            esc(&app.t(lang, "sources-heading"))
        ));
        for s in &p.sources {
            let mut item = esc(&s.publisher);
            let label = if s.title.is_empty() { &s.url } else { &s.title };
            match (s.url.is_empty(), label.is_empty()) {
                (false, _) => {
                    item.push_str(&format!(": <a href=\"{}\">{}</a>", esc(&s.url), esc(label)))
                }
                (true, false) => item.push_str(&format!(": {}", esc(label))),
                (true, true) => {}
            }
            out.push_str(&format!("<li>{item}</li>"));
        }
        out.push_str("</ul>");
    }
    absolutize(app, &out)
}

pub async fn feed(app: &App, lang: Lang, kind: Option<Kind>, format: Format) -> Res {
    let filter = Filter {
        lang,
        kind,
        ..Default::default()
    };
    let posts = repo::latest_full(&app.db, &filter, FEED_ITEMS).await?;
    let settings = app.settings();
    let site = settings.name(lang);
    let title = match kind {
        Some(k) => app.theme.i18n.t(
            lang,
            "feed-title-kind",
            &[
                ("site", site.into()),
                ("kind", app.t(lang, &format!("title-{}", k.plural())).into()),
            ],
        ),
        None => site.to_string(),
    };
    let dir = kind.map(|k| format!("{}/", k.plural())).unwrap_or_default();
    let home = app.abs(&format!("/{lang}/{dir}"));
    let file = match format {
        Format::Rss => "feed.xml",
        Format::Atom => "atom.xml",
        Format::Json => "feed.json",
    };
    let self_url = app.abs(&format!("/{lang}/{dir}{file}"));
    let updated = posts
        .iter()
        .map(Post::modified_at)
        .max()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let items: Vec<serde_json::Value> = posts
        .iter()
        .map(|p| {
            let published = p.published_at.unwrap_or(p.updated_at);
            json!({
                "title": p.title,
                "url": app.abs(&app.post_url(p.lang, &p.slug)),
                "summary": p.summary,
                "published_iso": iso(published),
                "published_rfc2822": published.format(&Rfc2822).unwrap_or_default(),
                "modified_iso": iso(p.modified_at()),
                "authors": p.authors.iter().map(|a| json!({ "name": a.name, "url": app.abs(&format!("/{lang}/authors/{}/", crate::public::enc(&a.slug))) })).collect::<Vec<_>>(),
                "tags": p.tags.iter().map(|t| json!({ "name": t.name })).collect::<Vec<_>>(),
                "content_html": content_html(app, p),
                "image": p.cover.as_ref().map(|c| if c.starts_with('/') { app.abs(c) } else { c.clone() }),
            })
        })
        .collect();
    let (body, ctype) = match format {
        Format::Json => {
            let doc = json!({
                "version": "https://jsonfeed.org/version/1.1",
                "title": title,
                "home_page_url": home,
                "feed_url": self_url,
                "description": app.settings().description(lang),
                "language": lang,
                "items": items.iter().map(|i| {
                    let mut v = json!({
                        "id": i["url"], "url": i["url"], "title": i["title"], "summary": i["summary"],
                        "content_html": i["content_html"], "date_published": i["published_iso"],
                        "date_modified": i["modified_iso"],
                        "authors": i["authors"],
                        "tags": i["tags"].as_array().map(|a| a.iter().map(|t| t["name"].clone()).collect::<Vec<_>>()),
                        "language": lang,
                    });
                    if !i["image"].is_null() { v["image"] = i["image"].clone(); }
                    v
                }).collect::<Vec<_>>(),
            });
            (
                serde_json::to_vec_pretty(&doc)?,
                "application/feed+json; charset=utf-8",
            )
        }
        Format::Rss | Format::Atom => {
            let mut ctx = BTreeMap::new();
            ctx.insert("lang", Value::from(lang.code()));
            ctx.insert(
                "feed",
                crate::ser(json!({
                    "title": title,
                    "description": app.settings().description(lang),
                    "home": home,
                    "self_url": self_url,
                    "updated_iso": iso(updated),
                    "updated_rfc2822": if posts.is_empty() { None } else { updated.format(&Rfc2822).ok() },
                })),
            );
            ctx.insert("items", crate::ser(&items));
            let (tpl, ct) = match format {
                Format::Rss => ("rss.xml", "application/rss+xml; charset=utf-8"),
                _ => ("atom.xml", "application/atom+xml; charset=utf-8"),
            };
            (app.theme.render(tpl, Value::from(ctx))?.into_bytes(), ct)
        }
    };
    Ok(Out::Page(Cached::new(
        StatusCode::OK,
        ctype,
        REVALIDATE,
        body,
    )))
}

pub async fn sitemap(app: &App) -> Res {
    let entries = repo::sitemap(&app.db).await?;
    let mut urls = Vec::new();
    let sections = [
        "",
        "reports/",
        "news/",
        "designs/",
        "support/",
        "newsletter/",
        "archive/",
    ];
    for s in sections {
        let alts: Vec<_> = LANGS
            .iter()
            .map(|l| json!({ "lang": l, "url": app.abs(&format!("/{l}/{s}")) }))
            .collect();
        for l in LANGS {
            urls.push(json!({ "loc": app.abs(&format!("/{l}/{s}")), "alternates": alts }));
        }
    }
    for e in &entries {
        let mut alts = Vec::new();
        if let Some(k) = &e.translation_key {
            for o in entries
                .iter()
                .filter(|o| o.translation_key.as_deref() == Some(k.as_str()))
            {
                alts.push(
                    json!({ "lang": o.lang, "url": app.abs(&app.post_url(o.lang, &o.slug)) }),
                );
            }
        }
        if alts.len() < 2 {
            alts.clear();
        }
        urls.push(json!({
            "loc": app.abs(&app.post_url(e.lang, &e.slug)),
            "lastmod": iso(e.modified),
            "alternates": alts,
        }));
    }
    let mut ctx = BTreeMap::new();
    ctx.insert("urls", crate::ser(urls));
    let body = app.theme.render("sitemap.xml", Value::from(ctx))?;
    Ok(Out::Page(Cached::new(
        StatusCode::OK,
        "application/xml; charset=utf-8",
        REVALIDATE,
        body.into_bytes(),
    )))
}
