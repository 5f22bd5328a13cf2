//! The public site's URL space as a pure function: a request path becomes the [`Page`] it names, a
//! redirect to its one canonical spelling, or nothing. No database, no I/O, so every path a client
//! may send is tested here (including by property tests), and the handlers only render.

use jarida_content::Kind;
use jarida_core::Lang;
use percent_encoding::percent_decode_str;

use crate::public::enc;

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// Another spelling of a page, or a page's canonical address (always a path of this site).
    Redirect(String),
    Robots,
    Sitemap,
    Stylesheet,
    Home {
        lang: Lang,
        page: i64,
    },
    Feed {
        lang: Lang,
        kind: Option<Kind>,
        format: FeedFormat,
    },
    Support {
        lang: Lang,
    },
    Newsletter {
        lang: Lang,
    },
    EditionsFeed {
        lang: Lang,
        atom: bool,
    },
    Edition {
        lang: Lang,
        number: String,
    },
    ArchiveIndex {
        lang: Lang,
    },
    ArchiveMonth {
        lang: Lang,
        year: i32,
        month: u8,
        page: i64,
    },
    Kind {
        lang: Lang,
        kind: Kind,
        page: i64,
    },
    Taxonomy {
        lang: Lang,
        tags: bool,
        slug: String,
        page: i64,
    },
    ArticleText {
        lang: Lang,
        slug: String,
    },
    Article {
        lang: Lang,
        slug: String,
    },
    /// Nothing here (or a path that is not UTF-8).
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    Rss,
    Atom,
    Json,
}

fn decode(seg: &str) -> Option<String> {
    percent_decode_str(seg)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// A page number in a path: `2`… up to 100,000, with no leading zero (one spelling per page).
fn page_no(s: &str) -> Option<i64> {
    if s.starts_with('0') {
        return None;
    }
    s.parse::<i64>().ok().filter(|n| *n >= 1 && *n <= 100_000)
}

fn lang(s: &str) -> Option<Lang> {
    Lang::parse(s)
}

/// The page `path` names. `css_file` is the stylesheet's current (hashed) file name.
pub fn parse(path: &str, default_lang: Lang, css_file: &str) -> Page {
    // One spelling per page: `/en/%61rticle` and `/en/article` are the same page, and only the
    // canonical one is rendered and cached, so made-up spellings cannot fill or churn the cache.
    let mut canonical = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            canonical.push('/');
        }
        match decode(seg) {
            Some(s) => canonical.push_str(&enc(&s)),
            None => return Page::NotFound,
        }
    }
    // A path starting `//` names another host to a browser (`Location: //evil.example`): it is
    // no page of ours, and never a redirect.
    if canonical.starts_with("//") {
        return Page::NotFound;
    }
    if canonical != path {
        return Page::Redirect(canonical);
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    parse_segments(&segs, default_lang, css_file).unwrap_or(Page::NotFound)
}

fn parse_segments(segs: &[&str], default_lang: Lang, css_file: &str) -> Option<Page> {
    let feed = |lang, kind, file: &str| {
        let format = match file {
            "feed.xml" => FeedFormat::Rss,
            "atom.xml" => FeedFormat::Atom,
            "feed.json" => FeedFormat::Json,
            _ => return None,
        };
        Some(Page::Feed { lang, kind, format })
    };
    Some(match segs {
        [""] => Page::Redirect(format!("/{default_lang}/")),
        ["robots.txt"] => Page::Robots,
        ["sitemap.xml"] => Page::Sitemap,
        ["static", file] if *file == css_file => Page::Stylesheet,
        [l, rest @ ..] => {
            let lang = lang(l)?;
            let section = |s: &str| {
                matches!(
                    s,
                    "reports" | "news" | "designs" | "support" | "newsletter" | "archive"
                )
            };
            match rest {
                [] => Page::Redirect(format!("/{lang}/")),
                [""] => Page::Home { lang, page: 1 },
                ["page", "1", ""] => Page::Redirect(format!("/{lang}/")),
                ["page", n, ""] => Page::Home {
                    lang,
                    page: page_no(n)?,
                },
                [file @ ("feed.xml" | "atom.xml" | "feed.json")] => feed(lang, None, file)?,
                ["support", ""] => Page::Support { lang },
                ["newsletter", ""] => Page::Newsletter { lang },
                ["newsletter", "feed.xml"] => Page::EditionsFeed { lang, atom: false },
                ["newsletter", "atom.xml"] => Page::EditionsFeed { lang, atom: true },
                ["newsletter", n]
                    if !n.is_empty()
                        && !n.starts_with('0')
                        && n.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    Page::Edition {
                        lang,
                        number: n.to_string(),
                    }
                }
                ["archive", ""] => Page::ArchiveIndex { lang },
                ["archive", y, m, ""] => month(lang, y, m, 1)?,
                ["archive", y, m, "page", n, ""] => month(lang, y, m, page_no(n)?)?,
                [s] if section(s) => Page::Redirect(format!("/{lang}/{s}/")),
                [plural, ""] if Kind::from_plural(plural).is_some() => Page::Kind {
                    lang,
                    kind: Kind::from_plural(plural)?,
                    page: 1,
                },
                [plural, "page", n, ""] if Kind::from_plural(plural).is_some() => Page::Kind {
                    lang,
                    kind: Kind::from_plural(plural)?,
                    page: page_no(n)?,
                },
                [plural, file] if Kind::from_plural(plural).is_some() => {
                    feed(lang, Kind::from_plural(plural), file)?
                }
                [tax @ ("tags" | "authors"), slug, ""] => Page::Taxonomy {
                    lang,
                    tags: *tax == "tags",
                    slug: decode(slug)?,
                    page: 1,
                },
                [tax @ ("tags" | "authors"), slug, "page", n, ""] => Page::Taxonomy {
                    lang,
                    tags: *tax == "tags",
                    slug: decode(slug)?,
                    page: page_no(n)?,
                },
                [slug] if slug.ends_with(".txt") => Page::ArticleText {
                    lang,
                    slug: decode(&slug[..slug.len() - 4])?,
                },
                [slug] => Page::Article {
                    lang,
                    slug: decode(slug)?,
                },
                [slug, ""] if !slug.is_empty() => Page::Redirect(format!("/{lang}/{slug}")),
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// An archive month: four digits, two digits, a real month.
fn month(lang: Lang, y: &str, m: &str, page: i64) -> Option<Page> {
    if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month: u8 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
    Some(Page::ArchiveMonth {
        lang,
        year: y.parse().ok()?,
        month,
        page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Page {
        parse(path, Lang::En, "style-abc.css")
    }

    #[test]
    fn every_route() {
        assert_eq!(p("/"), Page::Redirect("/en/".into()));
        assert_eq!(p("/en"), Page::Redirect("/en/".into()));
        assert_eq!(
            p("/ar/"),
            Page::Home {
                lang: Lang::Ar,
                page: 1
            }
        );
        assert_eq!(
            p("/en/page/2/"),
            Page::Home {
                lang: Lang::En,
                page: 2
            }
        );
        assert_eq!(p("/en/page/1/"), Page::Redirect("/en/".into()));
        assert_eq!(p("/en/page/02/"), Page::NotFound);
        assert_eq!(p("/en/page/100001/"), Page::NotFound);
        assert_eq!(p("/robots.txt"), Page::Robots);
        assert_eq!(p("/sitemap.xml"), Page::Sitemap);
        assert_eq!(p("/static/style-abc.css"), Page::Stylesheet);
        assert_eq!(p("/static/style-old.css"), Page::NotFound);
        assert_eq!(
            p("/en/reports/atom.xml"),
            Page::Feed {
                lang: Lang::En,
                kind: Some(Kind::Report),
                format: FeedFormat::Atom
            }
        );
        assert_eq!(
            p("/ar/feed.json"),
            Page::Feed {
                lang: Lang::Ar,
                kind: None,
                format: FeedFormat::Json
            }
        );
        assert_eq!(p("/en/news"), Page::Redirect("/en/news/".into()));
        assert_eq!(
            p("/en/designs/page/3/"),
            Page::Kind {
                lang: Lang::En,
                kind: Kind::Design,
                page: 3
            }
        );
        assert_eq!(
            p("/en/archive/2026/10/"),
            Page::ArchiveMonth {
                lang: Lang::En,
                year: 2026,
                month: 10,
                page: 1
            }
        );
        assert_eq!(p("/en/archive/2026/13/"), Page::NotFound);
        assert_eq!(p("/en/archive/%2B026/10/"), Page::NotFound);
        // `//host` is another site to a browser: never a redirect target.
        assert_eq!(p("//%65vil.example"), Page::NotFound);
        assert_eq!(p("//%"), Page::NotFound);
        assert_eq!(
            p("/en/newsletter/3"),
            Page::Edition {
                lang: Lang::En,
                number: "3".into()
            }
        );
        assert_eq!(p("/en/newsletter/03"), Page::NotFound);
        assert_eq!(
            p("/ar/tags/%D9%85%D9%8A%D8%A7%D9%87/"),
            Page::Taxonomy {
                lang: Lang::Ar,
                tags: true,
                slug: "مياه".into(),
                page: 1
            }
        );
        assert_eq!(
            p("/en/water.txt"),
            Page::ArticleText {
                lang: Lang::En,
                slug: "water".into()
            }
        );
        assert_eq!(
            p("/en/water"),
            Page::Article {
                lang: Lang::En,
                slug: "water".into()
            }
        );
        assert_eq!(p("/en/water/"), Page::Redirect("/en/water".into()));
        assert_eq!(p("/en/%77ater"), Page::Redirect("/en/water".into()));
        assert_eq!(p("/en/%FF"), Page::NotFound);
        assert_eq!(p("/fr/"), Page::NotFound);
        assert_eq!(p("/en/a/b/c"), Page::NotFound);
    }
}

/// Property tests: any path a client sends. `scripts/fuzz` runs a million cases; CI the default.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn paths() -> impl Strategy<Value = String> {
        let seg = prop_oneof![
            Just("en".to_string()),
            Just("ar".to_string()),
            Just("".to_string()),
            Just("page".to_string()),
            Just("archive".to_string()),
            Just("tags".to_string()),
            Just("newsletter".to_string()),
            Just("reports".to_string()),
            Just("feed.xml".to_string()),
            Just("..".to_string()),
            Just("%2F".to_string()),
            Just("%2f%2f".to_string()),
            Just("%65vil.example".to_string()),
            Just("%00".to_string()),
            Just("%FF".to_string()),
            Just("%D9%85".to_string()),
            "[0-9]{1,6}",
            "[a-z0-9%.\\-]{0,12}",
            ".{0,8}",
        ];
        prop::collection::vec(seg, 0..7).prop_map(|s| format!("/{}", s.join("/")))
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fuzz_url_paths(path in paths()) {
            match parse(&path, Lang::En, "style-abc.css") {
                Page::Redirect(to) => {
                    // Only ever a path of this site: never `//host` (an open redirect).
                    prop_assert!(to.starts_with('/') && !to.starts_with("//"), "{path} -> {to}");
                    prop_assert!(!to.contains(['\r', '\n']));
                    // A redirect leads somewhere that does not redirect again to itself.
                    prop_assert_ne!(parse(&to, Lang::En, "style-abc.css"), Page::Redirect(to.clone()));
                }
                Page::Home { page, .. } | Page::Kind { page, .. } | Page::Taxonomy { page, .. }
                | Page::ArchiveMonth { page, .. } => prop_assert!((1..=100_000).contains(&page)),
                _ => {}
            }
        }
    }
}
