//! What templates see: the page's metadata, links, cards, pagination, and the variables every page
//! gets (`App::base`).

use super::*;

#[derive(Serialize)]
pub(crate) struct Link {
    pub name: String,
    pub url: String,
}

#[derive(Serialize)]
pub(super) struct Card {
    pub(super) url: String,
    pub(super) title: String,
    pub(super) summary: String,
    pub(super) image: Option<jarida_content::media::Picture>,
    pub(super) kind: &'static str,
    pub(super) kind_label: String,
    pub(super) kind_url: String,
    pub(super) published_iso: String,
    pub(super) published_display: String,
    pub(super) authors: Vec<Link>,
}

#[derive(Serialize, Default)]
pub(crate) struct Meta {
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) canonical: String,
    pub(crate) alternates: Vec<Alt>,
    pub(crate) x_default: Option<String>,
    pub(crate) og_type: Option<&'static str>,
    pub(crate) image: Option<String>,
    pub(crate) image_alt: Option<String>,
    pub(crate) jsonld: Option<String>,
    pub(crate) published_iso: Option<String>,
    pub(crate) modified_iso: Option<String>,
    pub(crate) kind: Option<&'static str>,
    pub(crate) noindex: bool,
}

impl Meta {
    /// A page for one reader (confirmation, preferences): titled, kept out of search engines.
    pub(crate) fn private(title: String) -> Meta {
        Meta {
            title,
            noindex: true,
            ..Default::default()
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Alt {
    pub(super) lang: &'static str,
    pub(super) url: String,
}

#[derive(Serialize)]
pub(super) struct Pagination {
    pub(super) page: i64,
    pub(super) pages: i64,
    pub(super) newer: Option<String>,
    pub(super) older: Option<String>,
}

pub(crate) fn iso(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn other_lang(lang: Lang) -> Lang {
    lang.fallback()
}

impl App {
    pub(crate) fn abs(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url, path)
    }

    pub(crate) fn t(&self, lang: Lang, key: &str) -> String {
        self.theme.i18n.t(lang, key, &[])
    }

    /// A post's path; `lang` is a [`Lang`] or a stored language code.
    pub(crate) fn post_url(&self, lang: impl std::fmt::Display, slug: &str) -> String {
        format!("/{lang}/{}", enc(slug))
    }

    pub(crate) fn authors(&self, lang: Lang, names: &[jarida_content::Named]) -> Vec<Link> {
        names
            .iter()
            .map(|a| Link {
                name: a.name.clone(),
                url: format!("/{lang}/authors/{}/", enc(&a.slug)),
            })
            .collect()
    }

    /// What a page may offer of an image (its smaller copies and size, when it is in the media
    /// folder).
    pub(crate) fn picture(&self, url: &str) -> jarida_content::media::Picture {
        jarida_content::media::MediaDir::new(&self.cfg.media_dir).picture(url)
    }

    /// `d` in the newsroom's time zone, with the zone's abbreviation ("EEST", "+03").
    pub(crate) fn local(&self, d: OffsetDateTime) -> (OffsetDateTime, String) {
        let Ok(ts) = jiff::Timestamp::from_second(d.unix_timestamp()) else {
            return (d, "UTC".into());
        };
        let info = self.cfg.timezone.to_offset_info(ts);
        let offset = time::UtcOffset::from_whole_seconds(info.offset().seconds())
            .unwrap_or(time::UtcOffset::UTC);
        (d.to_offset(offset), info.abbreviation().to_string())
    }

    pub(super) fn card(&self, p: &PostSummary) -> Card {
        let lang = p.lang;
        Card {
            url: self.post_url(p.lang, &p.slug),
            title: p.title.clone(),
            summary: p.summary.clone(),
            image: p.cover.as_deref().map(|c| self.picture(c)),
            kind: p.kind.as_str(),
            kind_label: self.t(lang, &format!("kind-{}", p.kind.as_str())),
            kind_url: format!("/{}/{}/", p.lang, p.kind.plural()),
            published_iso: iso(p.published_at),
            published_display: self.theme.i18n.date(lang, p.published_at),
            authors: self.authors(lang, &p.authors),
        }
    }

    /// The variables every page template gets. `same_path_other` is this page's path in the other
    /// language when it has one there.
    pub(crate) fn base(
        &self,
        lang: Lang,
        mut meta: Meta,
        current: Option<&str>,
        other_path: Option<String>,
    ) -> BTreeMap<&'static str, Value> {
        let other = other_lang(lang);
        let nav = [("home", format!("/{lang}/"), "nav-home")]
            .into_iter()
            .chain(
                Kind::ALL
                    .iter()
                    .map(|k| (k.plural(), format!("/{lang}/{}/", k.plural()), "")),
            )
            .chain([
                ("support", format!("/{lang}/support/"), "nav-support"),
                (
                    "newsletter",
                    format!("/{lang}/newsletter/"),
                    "nav-newsletter",
                ),
            ])
            .map(|(id, url, key)| {
                let key = if key.is_empty() {
                    format!("nav-{id}")
                } else {
                    key.to_string()
                };
                json!({ "url": url, "label": self.t(lang, &key), "current": current == Some(id) })
            })
            .collect::<Vec<_>>();
        if meta.canonical.is_empty() {
            meta.canonical = self.abs(&format!("/{lang}/"));
        }
        if meta.image.is_none()
            && let Some(u) = self.theme.asset_url("social.png")
        {
            meta.image = Some(self.abs(u));
            meta.image_alt = Some(self.settings().name(lang).to_string());
        }
        let settings = self.settings();
        let mut m = BTreeMap::new();
        m.insert("lang", Value::from(lang.code()));
        m.insert("dir", Value::from(lang.dir()));
        m.insert(
            "digits",
            Value::from(self.theme.i18n.digit_rule(lang).as_str()),
        );
        m.insert("locale", Value::from(lang.og_locale()));
        m.insert(
            "site",
            crate::ser(json!({
                "name": settings.name(lang),
                "description": settings.description(lang),
                "base_url": self.cfg.base_url,
                "logo": settings.logo,
            })),
        );
        m.insert("nav", crate::ser(nav));
        m.insert(
            "other_lang",
            crate::ser(json!({
                "code": other,
                "dir": other.dir(),
                "name": self.t(other, "lang-name"),
                "url": other_path.unwrap_or_else(|| format!("/{other}/")),
            })),
        );
        m.insert(
            "feeds",
            crate::ser(json!({
                "rss": format!("/{lang}/feed.xml"),
                "atom": format!("/{lang}/atom.xml"),
                "json": format!("/{lang}/feed.json"),
            })),
        );
        // The body face of the page's script is needed at once: preloading it saves a round trip
        // after the stylesheet (the other weights and scripts load as text needs them).
        let body_font = match lang {
            Lang::Ar => "fonts/noto-naskh-arabic-arabic-400-normal.woff2",
            Lang::En => "fonts/source-serif-4-latin-400-normal.woff2",
        };
        m.insert(
            "assets",
            crate::ser(json!({
                "css": self.theme.css_url,
                "favicon": self.theme.asset_url("favicon.svg"),
                "favicon_type": self.theme.asset("favicon.svg").map(|a| a.content_type),
                "font": self.theme.asset_url(body_font),
            })),
        );
        m.insert("is_home", Value::from(current == Some("home")));
        m.insert("current", Value::from(current.unwrap_or("")));
        m.insert("home_url", Value::from(format!("/{lang}/")));
        m.insert("support_url", Value::from(format!("/{lang}/support/")));
        m.insert(
            "newsletter_url",
            Value::from(format!("/{lang}/newsletter/")),
        );
        m.insert("archive_url", Value::from(format!("/{lang}/archive/")));
        m.insert("year", Value::from(OffsetDateTime::now_utc().year()));
        m.insert("page", crate::ser(&meta));
        m
    }

    pub(crate) fn html(&self, template: &str, ctx: BTreeMap<&'static str, Value>) -> Res {
        let body = self.theme.render(template, Value::from(ctx))?;
        Ok(Out::Page(Cached::new(
            StatusCode::OK,
            HTML,
            REVALIDATE,
            body.into_bytes(),
        )))
    }

    /// The context of a fixed section page (`/<lang>/<section>/`) that exists in both languages.
    pub(crate) fn section(
        &self,
        lang: Lang,
        section: &str,
        title: String,
        description: String,
        current: Option<&str>,
    ) -> BTreeMap<&'static str, Value> {
        let (alternates, x_default) = self.both(|l| format!("/{l}/{section}/"));
        let meta = Meta {
            title,
            description,
            canonical: self.abs(&format!("/{lang}/{section}/")),
            alternates,
            x_default,
            ..Default::default()
        };
        self.base(
            lang,
            meta,
            current,
            Some(format!("/{}/{section}/", other_lang(lang))),
        )
    }

    /// `hreflang` alternates for a path that exists in every language.
    pub(crate) fn both(&self, path_in: impl Fn(Lang) -> String) -> (Vec<Alt>, Option<String>) {
        let alts = Lang::ALL
            .iter()
            .map(|l| Alt {
                lang: l.code(),
                url: self.abs(&path_in(*l)),
            })
            .collect();
        (alts, Some(self.abs(&path_in(self.cfg.default_lang))))
    }
}

pub(super) fn paginate(total: i64, page: i64, per: i64, base: &str) -> Result<Pagination, ()> {
    let pages = ((total + per - 1) / per).max(1);
    if page > pages {
        return Err(());
    }
    let at = |n: i64| {
        if n == 1 {
            base.to_string()
        } else {
            format!("{base}page/{n}/")
        }
    };
    Ok(Pagination {
        page,
        pages,
        newer: (page > 1).then(|| at(page - 1)),
        older: (page < pages).then(|| at(page + 1)),
    })
}
