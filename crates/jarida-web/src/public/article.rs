//! The article: its page (with JSON-LD, sources, corrections, translations) and its plain-text
//! version.

use super::*;
use jarida_core::Lang;

/// JSON for a `<script type="application/ld+json">` block: `<` and `>` are escaped so no string in
/// it can close the element.
pub(super) fn jsonld(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

pub(super) async fn article(app: &App, lang: Lang, slug: &str) -> Res {
    let post = repo::published(&app.db, lang, slug)
        .await?
        .ok_or_else(|| WebError::NotFound)?;
    let translations = repo::translations(&app.db, &post).await?;
    let i18n = &app.theme.i18n;
    let url = app.post_url(lang, &post.slug);
    let published = post.published_at.unwrap_or(post.updated_at);
    let modified = post.modified_at();
    let mut alternates: Vec<Alt> = std::iter::once(Alt {
        lang: lang.code(),
        url: app.abs(&url),
    })
    .chain(translations.iter().map(|(l, s)| Alt {
        lang: l.code(),
        url: app.abs(&app.post_url(l, s)),
    }))
    .collect();
    alternates.sort_by(|a, b| a.lang.cmp(b.lang));
    let x_default = alternates
        .iter()
        .find(|a| a.lang == app.cfg.default_lang.code())
        .map(|a| a.url.clone());
    let alternates = if alternates.len() > 1 {
        alternates
    } else {
        Vec::new()
    };
    let other_path = translations
        .iter()
        .find(|(l, _)| *l == other_lang(lang))
        .map(|(l, s)| app.post_url(l, s));
    let person = |a: &jarida_content::Named| json!({ "@type": "Person", "name": a.name, "url": app.abs(&format!("/{lang}/authors/{}/", enc(&a.slug))) });
    let based_on: Vec<_> = post
        .sources
        .iter()
        .map(|s| {
            let mut v = json!({ "@type": "CreativeWork", "publisher": { "@type": "Organization", "name": s.publisher } });
            if !s.url.is_empty() {
                v["url"] = json!(s.url);
            }
            if !s.title.is_empty() {
                v["name"] = json!(s.title);
            }
            if !s.authors.is_empty() {
                v["author"] = json!(s.authors.split(',').map(|a| json!({ "@type": "Person", "name": a.trim() })).collect::<Vec<_>>());
            }
            if let Some(d) = &s.date {
                v["datePublished"] = json!(d);
            }
            v
        })
        .collect();
    let cover_abs = post.cover.as_ref().map(|c| {
        if c.starts_with('/') {
            app.abs(c)
        } else {
            c.clone()
        }
    });
    let mut ld = json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": post.title,
        "description": post.summary,
        "inLanguage": lang,
        "url": app.abs(&url),
        "mainEntityOfPage": app.abs(&url),
        "datePublished": iso(published),
        "dateModified": iso(modified),
        "articleSection": app.t(lang, &format!("kind-{}", post.kind.as_str())),
        "wordCount": post.body_text.split_whitespace().count(),
        "author": post.authors.iter().map(person).collect::<Vec<_>>(),
        "publisher": { "@type": "NewsMediaOrganization", "name": app.settings().name(lang), "url": app.cfg.base_url },
        "keywords": post.tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
    });
    if let Some(c) = &cover_abs {
        ld["image"] = json!([c]);
    }
    if !based_on.is_empty() {
        ld["isBasedOn"] = json!(based_on);
        ld["citation"] = json!(based_on);
    }
    if !post.corrections.is_empty() {
        ld["correction"] = json!(post.corrections.iter().map(|c| json!({ "@type": "CorrectionComment", "text": c.note, "datePublished": iso(c.at) })).collect::<Vec<_>>());
    }
    if let Some(k) = &post.translation_key
        && !translations.is_empty()
    {
        ld["workTranslation"] = json!(translations.iter().map(|(l, s)| json!({ "@type": "NewsArticle", "inLanguage": l, "url": app.abs(&app.post_url(l, s)) })).collect::<Vec<_>>());
        let _ = k;
    }
    let meta = Meta {
        title: post.title.clone(),
        description: post.summary.clone(),
        canonical: app.abs(&url),
        alternates,
        x_default,
        og_type: Some("article"),
        image: cover_abs,
        image_alt: post.cover_alt.clone(),
        jsonld: Some(jsonld(&ld)),
        published_iso: Some(iso(published)),
        modified_iso: Some(iso(modified)),
        kind: Some(post.kind.as_str()),
        noindex: false,
    };
    let mut ctx = app.base(lang, meta, Some(post.kind.plural()), other_path);
    let show_modified = modified.unix_timestamp() - published.unix_timestamp() > 3600;
    let (modified_local, zone) = app.local(modified);
    let cover = post.cover.as_deref().map(|c| app.picture(c));
    // A design whose cover is its first image shows that image once, in the body.
    let cover = cover.filter(|c| !post.body_html.contains(&format!("src=\"{}\"", c.src)));
    let sep = app.t(lang, "list-sep");
    ctx.insert(
        "post",
        crate::ser(json!({
            "lang": lang,
            "title": post.title,
            "standfirst": post.standfirst(),
            "kind": post.kind.as_str(),
            "kind_label": app.t(lang, &format!("kind-{}", post.kind.as_str())),
            "kind_url": format!("/{lang}/{}/", post.kind.plural()),
            "authors": app.authors(lang, &post.authors),
            "tags": post.tags.iter().map(|t| Link { name: t.name.clone(), url: format!("/{lang}/tags/{}/", enc(&t.slug)) }).collect::<Vec<_>>(),
            "published_iso": iso(published),
            "published_display": i18n.date(lang, published),
            "modified_iso": iso(modified),
            "modified_display": if show_modified { Some(i18n.date_time(lang, modified_local, &zone)) } else { None },
            "cover": cover,
            "cover_alt": post.cover_alt,
            "html": post.body_html,
            "txt_url": format!("{url}.txt"),
            "sources": post.sources.iter().map(|s| json!({
                "publisher": s.publisher, "title": s.title, "url": s.url, "date": s.date,
                // Authors are stored as written ("A, B"); shown with the page language's separator.
                "authors": s.authors.split(',').map(str::trim).filter(|a| !a.is_empty()).collect::<Vec<_>>().join(&sep),
                "host": short_link(&s.url),
                "date_display": s.date.as_deref().and_then(|d| jarida_content::frontmatter::parse_date(d).ok()).map(|d| i18n.date(lang, d)),
            })).collect::<Vec<_>>(),
            "corrections": post.corrections.iter().map(|c| json!({ "iso": iso(c.at), "display": i18n.date(lang, c.at), "note": c.note })).collect::<Vec<_>>(),
        })),
    );
    ctx.insert(
        "translations",
        crate::ser(
            translations
                .iter()
                .map(|(l, s)| {
                    let l = *l;
                    json!({ "lang": l, "url": app.post_url(l, s), "dir": l.dir(), "label": app.t(l, "read-in-this-language") })
                })
                .collect::<Vec<_>>(),
        ),
    );
    app.html("article.html", ctx)
}

/// A source's address as a reader can take it in at a glance: its host without `www.`
/// (`reuters.com`). Empty when there is no address.
fn short_link(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    host.strip_prefix("www.").unwrap_or(host).to_string()
}

/// The plain-text rendering of an article: what the newsletter's text part is made from.
pub(crate) fn post_text(app: &App, post: &Post) -> String {
    let lang = post.lang;
    let i18n = &app.theme.i18n;
    let underline = |s: &str, c: char| {
        std::iter::repeat_n(c, s.chars().count().clamp(3, 72)).collect::<String>()
    };
    let mut out = format!("{}\n{}\n\n", post.title, underline(&post.title, '='));
    if !post.summary.is_empty() {
        out.push_str(&wrap(&post.summary, "", ""));
        out.push('\n');
    }
    let mut meta = Vec::new();
    if !post.authors.is_empty() {
        let names: Vec<&str> = post.authors.iter().map(|a| a.name.as_str()).collect();
        meta.push(format!(
            "{} {}",
            app.t(lang, "by"),
            names.join(&app.t(lang, "list-sep"))
        ));
    }
    if let Some(p) = post.published_at {
        meta.push(i18n.date(lang, p));
    }
    if !meta.is_empty() {
        out.push_str(&format!("{}\n", meta.join(" · ")));
    }
    out.push_str(&format!("{}\n\n", app.abs(&app.post_url(lang, &post.slug))));
    if !post.corrections.is_empty() {
        let h = app.t(lang, "corrections-heading");
        out.push_str(&format!("{h}\n{}\n\n", underline(&h, '-')));
        for c in &post.corrections {
            out.push_str(&wrap(
                &format!("{}: {}", i18n.date(lang, c.at), c.note),
                "- ",
                "  ",
            ));
        }
        out.push('\n');
    }
    out.push_str(post.body_text.trim_end());
    out.push_str("\n\n");
    if !post.sources.is_empty() {
        let h = app.t(lang, "sources-heading");
        out.push_str(&format!("{h}\n{}\n\n", underline(&h, '-')));
        for s in &post.sources {
            let mut line = format!("- {}", s.publisher);
            if !s.authors.is_empty() {
                line.push_str(&format!(", {}", s.authors));
            }
            if !s.title.is_empty() {
                line.push_str(&format!(": {}", s.title));
            }
            if let Some(d) = &s.date {
                line.push_str(&format!(" ({d})"));
            }
            out.push_str(&wrap(&line, "- ", "  "));
            if !s.url.is_empty() {
                out.push_str(&format!("  {}\n", s.url));
            }
        }
    }
    out.trim_end().to_string() + "\n"
}

pub(super) async fn article_text(app: &App, lang: Lang, slug: &str) -> Res {
    let post = repo::published(&app.db, lang, slug)
        .await?
        .ok_or_else(|| WebError::NotFound)?;
    Ok(Out::Page(Cached::new(
        StatusCode::OK,
        TEXT,
        REVALIDATE,
        post_text(app, &post).into_bytes(),
    )))
}
