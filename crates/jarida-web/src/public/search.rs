//! `/<lang>/search?q=…`: the site's search, a page like the others, without a script. Results
//! come from `jarida_content::search` (both languages, published posts only), with the matched
//! words marked, filters by kind and year, and pages of ten. Nothing about a search is stored:
//! the page is not counted as a view and not kept in the page cache.

use super::*;
use jarida_content::search::{self, MAX_PAGE, PER_PAGE, Search};

/// The query string's fields; anything unreadable is taken as absent, never an error.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Params {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    page: String,
}

/// The page's own address with these parameters (for the pagination links).
fn url_of(lang: Lang, q: &str, kind: &str, year: &str, page: i64) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("q", q);
    if !kind.is_empty() {
        s.append_pair("kind", kind);
    }
    if !year.is_empty() {
        s.append_pair("year", year);
    }
    if page > 1 {
        s.append_pair("page", &page.to_string());
    }
    format!("/{lang}/search?{}", s.finish())
}

pub(crate) async fn page(
    app: &App,
    lang: Lang,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let p: Params = query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    match render(app, lang, &p).await {
        Ok(body) => {
            let page = Cached::new(StatusCode::OK, HTML, "no-store", body.into_bytes());
            page.respond(headers)
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "search failed");
            error_page(app, lang, StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

async fn render(app: &App, lang: Lang, p: &Params) -> Result<String, WebError> {
    let parsed = search::parse(&p.q);
    let kind = Kind::parse(p.kind.trim());
    let year: Option<i32> = p
        .year
        .trim()
        .parse()
        .ok()
        .filter(|y| (1900..=2200).contains(y));
    let page: i64 = p.page.trim().parse().unwrap_or(1).clamp(1, MAX_PAGE);
    let results = search::run(
        &app.search,
        &app.db,
        &Search {
            parsed: parsed.clone(),
            kind,
            year,
            any_status: false,
            page,
        },
    )
    .await
    .map_err(WebError::from)?;
    let q =
        p.q.chars()
            .take(search::MAX_QUERY_CHARS)
            .collect::<String>();
    let (kind_s, year_s) = (
        kind.map(|k| k.as_str()).unwrap_or(""),
        year.map(|y| y.to_string()).unwrap_or_default(),
    );
    let i18n = &app.theme.i18n;
    let hits: Vec<_> = results
        .hits
        .iter()
        .map(|h| {
            json!({
                "url": app.post_url(h.lang, &h.slug),
                "lang": h.lang,
                "dir": if h.lang.is_rtl() { "rtl" } else { "ltr" },
                "title_html": h.title_html,
                "snippet_html": h.snippet_html,
                "kind_label": app.t(lang, &format!("kind-{}", h.kind.as_str())),
                "date_iso": h.published_at.map(iso),
                "date_display": h.published_at.map(|d| i18n.date(lang, d)),
            })
        })
        .collect();
    let pages = (results.total + PER_PAGE - 1) / PER_PAGE;
    let pages = pages.min(MAX_PAGE);
    let years: Vec<i32> = match search::years(&app.search) {
        Some((lo, hi)) => (lo..=hi).rev().collect(),
        None => Vec::new(),
    };
    let title = if q.trim().is_empty() {
        app.t(lang, "search-title")
    } else {
        app.theme
            .i18n
            .t(lang, "search-title-for", &[("q", q.trim().into())])
    };
    let meta = Meta {
        title,
        canonical: app.abs(&format!("/{lang}/search")),
        noindex: true,
        ..Default::default()
    };
    let mut ctx = app.base(
        lang,
        meta,
        None,
        Some(url_of(other_lang(lang), &q, kind_s, &year_s, 1)),
    );
    ctx.insert(
        "search",
        crate::ser(json!({
            "q": q,
            "asked": !parsed.parts.is_empty(),
            "blank": q.trim().is_empty(),
            "cut": parsed.cut,
            "kind": kind_s,
            "year": year_s,
            "kinds": Kind::ALL.iter().map(|k| json!({ "value": k.as_str(), "label": app.t(lang, &format!("kind-{}", k.as_str())) })).collect::<Vec<_>>(),
            "years": years,
            "hits": hits,
            "total": results.total,
            "capped": results.capped(),
            "cap": search::COUNT_CAP,
            "any_word": results.any_word,
            "page": page,
            "pages": pages,
            "prev": (page > 1).then(|| url_of(lang, &q, kind_s, &year_s, page - 1)),
            "next": (page < pages).then(|| url_of(lang, &q, kind_s, &year_s, page + 1)),
        })),
    );
    Ok(app.theme.render("search.html", Value::from(ctx))?)
}
