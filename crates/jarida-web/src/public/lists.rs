//! The listing pages: home, kinds, tags and authors, the archive, support and the newsletter page.

use super::*;
use jarida_core::Lang;

/// Stories in the second tier of the front page, under the lead.
const TIER: usize = 4;
/// Stories per section (one per kind) after the tiers.
const PER_SECTION: usize = 4;

/// The front page. Page 1 is laid out like a newspaper's: the lead story (the newest featured one,
/// else the newest report, else the newest story) large with its image, a second tier (the other
/// featured stories, then the newest), then a section per kind with what is not already above.
/// Later pages list every story, newest first.
pub(super) async fn home(app: &App, lang: Lang, page: i64) -> Res {
    let per = app.cfg.per_page;
    let f = Filter {
        lang,
        ..Default::default()
    };
    let (posts, total) = repo::list(&app.db, &f, per, (page - 1) * per).await?;
    let pagination =
        paginate(total, page, per, &format!("/{lang}/")).map_err(|_| WebError::NotFound)?;
    let path = |l: Lang| {
        if page == 1 {
            format!("/{l}/")
        } else {
            format!("/{l}/page/{page}/")
        }
    };
    let (alternates, x_default) = app.both(path);
    let meta = Meta {
        title: if page == 1 { String::new() } else { app.theme.i18n.t(lang, "page-of", &[("page", page.into()), ("pages", pagination.pages.into())]) },
        description: app.settings().description(lang).to_string(),
        canonical: app.abs(&path(lang)),
        alternates,
        x_default,
        jsonld: (page == 1).then(|| jsonld(&json!({
            "@context": "https://schema.org",
            "@type": "WebSite",
            "name": app.settings().name(lang),
            "url": app.abs(&format!("/{lang}/")),
            "inLanguage": lang,
            "publisher": { "@type": "NewsMediaOrganization", "name": app.settings().name(lang), "url": app.cfg.base_url },
        }))),
        ..Default::default()
    };
    let mut ctx = app.base(lang, meta, Some("home"), Some(path(other_lang(lang))));
    ctx.insert("pagination", crate::ser(pagination));
    if page > 1 {
        let cards: Vec<Card> = posts.iter().map(|p| app.card(p)).collect();
        ctx.insert("posts", crate::ser(cards));
        return app.html("home.html", ctx);
    }
    let featured = repo::list(
        &app.db,
        &Filter {
            lang,
            featured: Some(true),
            ..Default::default()
        },
        TIER as i64 + 1,
        0,
    )
    .await?
    .0;
    let mut by_kind = Vec::new();
    for kind in Kind::ALL {
        let f = Filter {
            lang,
            kind: Some(kind),
            ..Default::default()
        };
        let limit = (1 + TIER + PER_SECTION) as i64;
        by_kind.push((kind, repo::list(&app.db, &f, limit, 0).await?.0));
    }
    let reports = by_kind
        .iter()
        .find(|(k, _)| *k == Kind::Report)
        .map(|(_, v)| v.as_slice())
        .unwrap_or_default();
    let lead = featured
        .first()
        .or_else(|| reports.first())
        .or_else(|| posts.first());
    let mut shown: Vec<i64> = lead.iter().map(|p| p.id).collect();
    let mut tier = Vec::new();
    for p in featured.iter().chain(posts.iter()) {
        if tier.len() == TIER {
            break;
        }
        if !shown.contains(&p.id) {
            shown.push(p.id);
            tier.push(app.card(p));
        }
    }
    let sections: Vec<_> = by_kind
        .iter()
        .filter_map(|(kind, list)| {
            let cards: Vec<Card> = list
                .iter()
                .filter(|p| !shown.contains(&p.id))
                .take(PER_SECTION)
                .map(|p| app.card(p))
                .collect();
            (!cards.is_empty()).then(|| {
                json!({
                    "kind": kind.as_str(),
                    "id": format!("section-{}", kind.plural()),
                    "title": app.t(lang, &format!("title-{}", kind.plural())),
                    "url": format!("/{lang}/{}/", kind.plural()),
                    "more": app.t(lang, &format!("more-{}", kind.plural())),
                    "posts": cards,
                })
            })
        })
        .collect();
    ctx.insert("lead", crate::ser(lead.map(|p| app.card(p))));
    ctx.insert("tier", crate::ser(tier));
    ctx.insert("sections", crate::ser(sections));
    app.html("home.html", ctx)
}

pub(super) struct ListSpec<'a> {
    pub(super) heading: String,
    pub(super) base: String,
    pub(super) filter: Filter,
    pub(super) current: Option<&'a str>,
    pub(super) feed_url: Option<String>,
    pub(super) other_base: Option<String>,
    pub(super) kind: Option<&'static str>,
    /// A listing whose URL comes from a parameter (a month) is a 404 without posts: otherwise
    /// every made-up month would render, and be cached, as an empty page.
    pub(super) empty_is_missing: bool,
}

pub(super) async fn listing(app: &App, lang: Lang, spec: ListSpec<'_>, page: i64) -> Res {
    let per = app.cfg.per_page;
    let (posts, total) = repo::list(&app.db, &spec.filter, per, (page - 1) * per).await?;
    if total == 0 && spec.empty_is_missing {
        return Err(WebError::NotFound);
    }
    let pagination = paginate(total, page, per, &spec.base).map_err(|_| WebError::NotFound)?;
    let at = |base: &str| {
        if page == 1 {
            base.to_string()
        } else {
            format!("{base}page/{page}/")
        }
    };
    let (alternates, x_default) = match &spec.other_base {
        Some(ob) => {
            let mut v = vec![
                Alt {
                    lang: lang.code(),
                    url: app.abs(&at(&spec.base)),
                },
                Alt {
                    lang: other_lang(lang).code(),
                    url: app.abs(&at(ob)),
                },
            ];
            v.sort_by(|a, b| a.lang.cmp(b.lang));
            let def = v
                .iter()
                .find(|a| a.lang == app.cfg.default_lang)
                .map(|a| a.url.clone());
            (v, def)
        }
        None => (Vec::new(), None),
    };
    let title = if page == 1 {
        spec.heading.clone()
    } else {
        format!(
            "{} · {}",
            spec.heading,
            app.theme.i18n.t(
                lang,
                "page-of",
                &[("page", page.into()), ("pages", pagination.pages.into())]
            )
        )
    };
    let meta = Meta {
        title,
        canonical: app.abs(&at(&spec.base)),
        alternates,
        x_default,
        kind: spec.kind,
        ..Default::default()
    };
    let mut ctx = app.base(lang, meta, spec.current, spec.other_base.as_deref().map(at));
    ctx.insert("heading", Value::from(spec.heading));
    ctx.insert("total", Value::from(total));
    ctx.insert("feed_url", crate::ser(&spec.feed_url));
    ctx.insert(
        "posts",
        crate::ser(posts.iter().map(|p| app.card(p)).collect::<Vec<_>>()),
    );
    ctx.insert("pagination", crate::ser(pagination));
    app.html("list.html", ctx)
}

pub(super) async fn kind_list(app: &App, lang: Lang, kind: Kind, page: i64) -> Res {
    let spec = ListSpec {
        heading: app.t(lang, &format!("title-{}", kind.plural())),
        base: format!("/{lang}/{}/", kind.plural()),
        filter: Filter {
            lang,
            kind: Some(kind),
            ..Default::default()
        },
        current: Some(kind.plural()),
        feed_url: Some(format!("/{lang}/{}/feed.xml", kind.plural())),
        other_base: Some(format!("/{}/{}/", other_lang(lang), kind.plural())),
        kind: Some(kind.as_str()),
        empty_is_missing: false,
    };
    listing(app, lang, spec, page).await
}

pub(super) async fn taxonomy(app: &App, lang: Lang, tax: &str, slug: &str, page: i64) -> Res {
    let what = if tax == "tags" {
        Taxonomy::Tag
    } else {
        Taxonomy::Author
    };
    let name = repo::name_of(&app.db, what, lang, slug)
        .await?
        .ok_or_else(|| WebError::NotFound)?;
    let (heading, filter) = match what {
        Taxonomy::Tag => (
            app.theme.i18n.t(lang, "tag-title", &[("tag", name.into())]),
            Filter {
                lang,
                tag: Some(slug.into()),
                ..Default::default()
            },
        ),
        Taxonomy::Author => (
            app.theme
                .i18n
                .t(lang, "author-title", &[("author", name.into())]),
            Filter {
                lang,
                author: Some(slug.into()),
                ..Default::default()
            },
        ),
    };
    let spec = ListSpec {
        heading,
        base: format!("/{lang}/{tax}/{}/", enc(slug)),
        filter,
        current: None,
        feed_url: None,
        other_base: None,
        kind: None,
        empty_is_missing: true,
    };
    listing(app, lang, spec, page).await
}

pub(super) async fn archive_index(app: &App, lang: Lang) -> Res {
    let months = repo::months(&app.db, lang).await?;
    let mut ctx = app.section(
        lang,
        "archive",
        app.t(lang, "nav-archive"),
        String::new(),
        None,
    );
    let list: Vec<_> = months
        .iter()
        .map(|(y, m, n)| {
            let count = app.theme.i18n.number(lang, *n);
            json!({ "url": format!("/{lang}/archive/{y}/{m:02}/"), "label": app.theme.i18n.month_year(lang, *y, *m), "count": count })
        })
        .collect();
    ctx.insert("months", crate::ser(list));
    app.html("archive.html", ctx)
}

pub(super) async fn archive_month(app: &App, lang: Lang, year: i32, month: u8, page: i64) -> Res {
    let month = Month::try_from(month).map_err(|_| WebError::NotFound)?;
    let start = Date::from_calendar_date(year, month, 1).map_err(|_| WebError::NotFound)?;
    let end = if month == Month::December {
        Date::from_calendar_date(year + 1, Month::January, 1)
    } else {
        Date::from_calendar_date(year, month.next(), 1)
    }
    .map_err(|_| WebError::NotFound)?;
    let (y, m) = (format!("{year:04}"), format!("{:02}", month as u8));
    let between = (
        start.with_time(Time::MIDNIGHT).assume_utc(),
        end.with_time(Time::MIDNIGHT).assume_utc(),
    );
    let spec = ListSpec {
        heading: app.theme.i18n.month_year(lang, year, month as u8),
        base: format!("/{lang}/archive/{y}/{m}/"),
        filter: Filter {
            lang,
            between: Some(between),
            ..Default::default()
        },
        current: None,
        feed_url: None,
        other_base: Some(format!("/{}/archive/{y}/{m}/", other_lang(lang))),
        kind: None,
        empty_is_missing: true,
    };
    listing(app, lang, spec, page).await
}

pub(super) fn support(app: &App, lang: Lang) -> Res {
    let (title, intro) = (app.t(lang, "support-title"), app.t(lang, "support-intro"));
    let mut ctx = app.section(lang, "support", title, intro, Some("support"));
    ctx.insert(
        "support",
        crate::ser(json!({ "providers": app.settings().providers, "bank_details": app.settings().bank_details })),
    );
    app.html("support.html", ctx)
}

pub(super) async fn newsletter(app: &App, lang: Lang) -> Res {
    let (title, pitch) = (
        app.t(lang, "nav-newsletter"),
        app.t(lang, "newsletter-pitch"),
    );
    let mut ctx = app.section(lang, "newsletter", title, pitch, Some("newsletter"));
    ctx.insert("editions", crate::editions::past_links(app, lang).await?);
    ctx.insert(
        "editions_feed",
        Value::from(format!("/{lang}/newsletter/feed.xml")),
    );
    app.html("newsletter.html", ctx)
}
