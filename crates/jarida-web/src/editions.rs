//! Newsletter editions on the public site: the web version of each edition that has gone out
//! (`/<lang>/newsletter/<number>`), their list on the newsletter page, and their feeds. The JSON API
//! that drives editions is `api_editions.rs`.

use jarida_core::Lang;
use std::collections::BTreeMap;

use axum::http::StatusCode;
use jarida_newsletter::editions::{self, Edition, LangPart};
use minijinja::Value;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::App;
use crate::cache::Cached;
use crate::error::WebError;
use crate::public::{Meta, Out, REVALIDATE, Res, iso};

/// The newsletter whose editions the public pages show.
pub(crate) const PUBLIC: &str = "main";
/// Statuses whose edition has (begun to) reach readers: only those are public.
const PUBLISHED: &[&str] = &["sending", "paused", "sent"];

fn ts(t: Option<i64>) -> OffsetDateTime {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn has_content(p: &LangPart) -> bool {
    !p.items.is_empty() || !p.corrections.is_empty()
}

fn title(app: &App, lang: Lang, e: &Edition, p: &LangPart) -> String {
    if p.subject.is_empty() {
        format!("{} {}", app.t(lang, "edition-number"), e.number)
    } else {
        p.subject.clone()
    }
}

/// Sent editions with content in `lang`, newest first.
pub(crate) async fn past(app: &App, lang: Lang) -> Result<Vec<(Edition, LangPart)>, WebError> {
    let mut out = Vec::new();
    for e in editions::list(&app.db, None).await? {
        if e.newsletter != PUBLIC || !PUBLISHED.contains(&e.status.as_str()) {
            continue;
        }
        if let Some(p) = editions::parts(&app.db, &e)
            .await?
            .into_iter()
            .find(|p| p.lang == lang && has_content(p))
        {
            out.push((e, p));
        }
    }
    Ok(out)
}

/// The list of past editions for the newsletter page.
pub(crate) async fn past_links(app: &App, lang: Lang) -> Result<Value, WebError> {
    let list: Vec<serde_json::Value> = past(app, lang)
        .await?
        .iter()
        .map(|(e, p)| {
            let at = ts(e.started_at);
            json!({
                "url": format!("/{lang}/newsletter/{}", e.number),
                "title": title(app, lang, e, p),
                "date_iso": iso(at),
                "date_display": app.theme.i18n.date(lang, at),
            })
        })
        .collect();
    Ok(crate::ser(list))
}

fn sections(app: &App, lang: Lang, p: &LangPart) -> Vec<serde_json::Value> {
    let mut out: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    for it in &p.items {
        let heading = if it.featured {
            app.t(lang, "edition-featured")
        } else {
            app.t(
                lang,
                match it.kind.as_str() {
                    "report" => "title-reports",
                    "news" => "title-news",
                    _ => "title-designs",
                },
            )
        };
        let card = json!({
            "url": app.post_url(lang, &it.slug),
            "title": it.title,
            "summary": it.summary,
            "cover": it.cover,
            "cover_alt": it.cover_alt,
        });
        match out.iter_mut().find(|(h, _)| *h == heading) {
            Some((_, v)) => v.push(card),
            None => out.push((heading, vec![card])),
        }
    }
    out.into_iter()
        .map(|(h, items)| json!({ "title": h, "items": items }))
        .collect()
}

/// The web version of edition `number` in `lang`.
pub(crate) async fn page(app: &App, lang: Lang, number: &str) -> Res {
    if number.starts_with('0') {
        return Err(WebError::NotFound);
    }
    let n: i64 = number.parse().map_err(|_| WebError::NotFound)?;
    let e = editions::by_number(&app.db, PUBLIC, n)
        .await?
        .filter(|e| PUBLISHED.contains(&e.status.as_str()))
        .ok_or(WebError::NotFound)?;
    let parts = editions::parts(&app.db, &e).await?;
    let p = parts
        .iter()
        .find(|p| p.lang == lang && has_content(p))
        .ok_or(WebError::NotFound)?;
    let other = crate::public::other_lang(lang);
    let other_path = parts
        .iter()
        .any(|p| p.lang == other && has_content(p))
        .then(|| format!("/{other}/newsletter/{n}"));
    let heading = title(app, lang, &e, p);
    let at = ts(e.started_at);
    let meta = Meta {
        title: heading.clone(),
        description: p
            .intro
            .lines()
            .next()
            .unwrap_or(&app.t(lang, "newsletter-pitch"))
            .to_string(),
        canonical: app.abs(&format!("/{lang}/newsletter/{n}")),
        ..Default::default()
    };
    let mut ctx = app.base(lang, meta, Some("newsletter"), other_path);
    let corrections: Vec<serde_json::Value> = p
        .corrections
        .iter()
        .map(|c| {
            let at = ts(Some(c.at));
            json!({
                "url": app.post_url(lang, &c.slug),
                "title": c.title,
                "note": c.note,
                "date_iso": iso(at),
                "date_display": app.theme.i18n.date(lang, at),
            })
        })
        .collect();
    ctx.insert(
        "edition",
        crate::ser(json!({
            "title": heading,
            "number_label": format!("{} {}", app.t(lang, "edition-number"), app.theme.i18n.number(lang, n)),
            "date_iso": iso(at),
            "date_display": app.theme.i18n.date(lang, at),
            "intro_html": jarida_content::markdown::render_short(&p.intro).html,
            "sections": sections(app, lang, p),
            "corrections": corrections,
            "feed": format!("/{lang}/newsletter/feed.xml"),
        })),
    );
    app.html("edition.html", ctx)
}

/// RSS or Atom of the editions in `lang`.
pub(crate) async fn feed(app: &App, lang: Lang, atom: bool) -> Res {
    let list = past(app, lang).await?;
    let site = app.site_info();
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let items: Vec<serde_json::Value> = list
        .iter()
        .take(20)
        .map(|(e, p)| {
            let at = ts(e.started_at);
            let mut html = jarida_newsletter::render::intro(&site, &p.intro).0;
            for s in sections(app, lang, p) {
                html.push_str(&format!(
                    "<h2>{}</h2><ul>",
                    esc(s["title"].as_str().unwrap_or(""))
                ));
                for it in s["items"].as_array().into_iter().flatten() {
                    html.push_str(&format!(
                        "<li><a href=\"{}\">{}</a>: {}</li>",
                        esc(&app.abs(it["url"].as_str().unwrap_or(""))),
                        esc(it["title"].as_str().unwrap_or("")),
                        esc(it["summary"].as_str().unwrap_or(""))
                    ));
                }
                html.push_str("</ul>");
            }
            if !p.corrections.is_empty() {
                html.push_str(&format!(
                    "<h2>{}</h2><ul>",
                    esc(&app.t(lang, "corrections-heading"))
                ));
                for c in &p.corrections {
                    html.push_str(&format!(
                        "<li><a href=\"{}\">{}</a>: {}</li>",
                        esc(&app.abs(&app.post_url(lang, &c.slug))),
                        esc(&c.title),
                        esc(&c.note)
                    ));
                }
                html.push_str("</ul>");
            }
            json!({
                "title": title(app, lang, e, p),
                "url": app.abs(&format!("/{lang}/newsletter/{}", e.number)),
                "summary": p.intro.lines().next().unwrap_or(""),
                "published_iso": iso(at),
                "published_rfc2822": at.format(&Rfc2822).unwrap_or_default(),
                "modified_iso": iso(at),
                "authors": [],
                "tags": [],
                "content_html": html,
            })
        })
        .collect();
    let updated = list
        .first()
        .map(|(e, _)| ts(e.started_at))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let file = if atom { "atom.xml" } else { "feed.xml" };
    let mut ctx = BTreeMap::new();
    ctx.insert("lang", Value::from(lang.code()));
    ctx.insert(
        "feed",
        crate::ser(json!({
            "title": format!("{} · {}", app.settings().name(lang), app.t(lang, "nav-newsletter")),
            "description": app.t(lang, "newsletter-pitch"),
            "home": app.abs(&format!("/{lang}/newsletter/")),
            "self_url": app.abs(&format!("/{lang}/newsletter/{file}")),
            "updated_iso": iso(updated),
            "updated_rfc2822": if list.is_empty() { None } else { updated.format(&Rfc2822).ok() },
        })),
    );
    ctx.insert("items", crate::ser(&items));
    let (tpl, ct) = if atom {
        ("atom.xml", "application/atom+xml; charset=utf-8")
    } else {
        ("rss.xml", "application/rss+xml; charset=utf-8")
    };
    let body = app.theme.render(tpl, Value::from(ctx))?;
    Ok(Out::Page(Cached::new(
        StatusCode::OK,
        ct,
        REVALIDATE,
        body.into_bytes(),
    )))
}
